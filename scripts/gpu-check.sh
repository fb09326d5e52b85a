#!/usr/bin/env bash
# The checks that need a CUDA GPU (issue 21), in under 5 minutes. Run it whenever a CUDA machine is
# at hand and record its figures in the README; the project builds and passes its tests without one.
#
#   scripts/gpu-check.sh [--prebuilt DIR] [--out DIR]
#
# 1. The agents' tests (MARLIN, SAC, the load balancer's PPO/A2C/DQN, the libtorch toolchain) with
#    VERDANT_TEST_DEVICE=cuda: the same tests as on the CPU, on the GPU.
# 2. Training throughput (`cargo bench -p verdant-agents --bench sac`): f32 matrix-multiply rate and
#    SAC agent-updates per second at geo-8dc's sizes, one at a time and batched (stacks of 4, 20 and
#    100 agents), on the CPU (one thread, then every core) and on CUDA; the best CUDA rate over the
#    one-thread CPU rate one at a time (the issue's goal: at least 50x).
# 3. A short MARLIN training (balanced scheme, one day of geo-8dc, one seed) on the CPU and on CUDA
#    with the same seed; the objectives of the two final plans must agree within TOLERANCE (relative,
#    default 0.05: the two devices round differently and training compounds it).
#
# Without --prebuilt the script sources scripts/setup.sh and builds the release binaries. With
# --prebuilt DIR it runs DIR/verdant, DIR/sac and DIR/tests/* instead (built elsewhere against the
# libtorch that LD_LIBRARY_PATH finds here; for machines that cannot reach a package registry).
# Writes a summary (gpu-check.md) and logs to --out (default gpu-check/); exits non-zero when a
# check fails.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
prebuilt=""
out="gpu-check"
tolerance="${TOLERANCE:-0.05}"
while [ $# -gt 0 ]; do
  case "$1" in
    --prebuilt) prebuilt="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out" || exit 2
out="$(cd "$out" && pwd)"
summary="$out/gpu-check.md"
failed=0
note() { printf '%s\n' "$*" | tee -a "$summary"; }
# Seconds since $1 (a `date +%s%N` reading), to a tenth.
since() { local ms=$(( ($(date +%s%N) - $1) / 1000000 )); printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)); }

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no NVIDIA GPU here (nvidia-smi -L failed); nothing to check" >&2
  exit 2
fi

cd "$root" || exit 2
if [ -z "$prebuilt" ]; then
  # shellcheck source=scripts/setup.sh
  . scripts/setup.sh || exit 2
  cargo build --release --locked -p verdant-experiments --bin verdant || exit 2
  prebuilt="$out/bin"
  mkdir -p "$prebuilt/tests"
  cp target/release/verdant "$prebuilt/" || exit 2
  # The executables cargo reports building, "name path is-a-test" per line.
  executables() {
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["name"], m["executable"], m["profile"]["test"])'
  }
  cargo test --release --locked -p verdant-agents --no-run --message-format=json 2>/dev/null \
    | executables | while read -r name exe test; do
        if [ "$test" = True ]; then cp "$exe" "$prebuilt/tests/$name"; fi
      done
  cargo bench --locked -p verdant-agents --bench sac --no-run --message-format=json 2>/dev/null \
    | executables | while read -r name exe _; do
        if [ "$name" = sac ]; then cp "$exe" "$prebuilt/sac"; fi
      done
fi
for need in verdant sac tests; do
  [ -e "$prebuilt/$need" ] || { echo "gpu-check: $prebuilt/$need is missing" >&2; exit 2; }
done

: > "$summary"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD 2>/dev/null || commit="$commit with changes"
note "# GPU check ($(date -u +%Y-%m-%dT%H:%MZ), commit $commit)"
note ""
note "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
note "CPU: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
note ""

# 1. The agents' tests on CUDA.
note "## 1. The agents' tests with VERDANT_TEST_DEVICE=cuda"
note ""
for t in "$prebuilt"/tests/*; do
  name="$(basename "$t")"
  start=$(date +%s%N)
  if VERDANT_TEST_DEVICE=cuda timeout 300 "$t" > "$out/test-$name.log" 2>&1; then
    verdict="pass"
  else
    verdict="FAIL"
    failed=1
  fi
  result="$(grep -E '^test result' "$out/test-$name.log" | tail -1)"
  note "- $name: $verdict ($result; $(since "$start") s)"
  if [ "$verdict" = FAIL ]; then
    grep -E '^test .* FAILED$|panicked at' "$out/test-$name.log" | head -10 | sed 's/^/    /' | tee -a "$summary"
  fi
done
note ""

# 2. Throughput.
note "## 2. SAC training throughput (one at a time and batched)"
note ""
VERDANT_BENCH_DEVICES=cpu,cuda VERDANT_BENCH_THREADS=1 VERDANT_BENCH_AGENTS=4,20,100 \
  VERDANT_BENCH_SECONDS=2 "$prebuilt/sac" > "$out/bench-1thread.log" 2>&1 || failed=1
cat "$out/bench-1thread.log" | tee -a "$summary"
note ""
VERDANT_BENCH_DEVICES=cpu VERDANT_BENCH_THREADS="$(nproc)" VERDANT_BENCH_AGENTS=4,20 \
  VERDANT_BENCH_SECONDS=2 "$prebuilt/sac" > "$out/bench-allcores.log" 2>&1 || failed=1
grep '^| cpu' "$out/bench-allcores.log" | sed "s/^| cpu/| cpu, $(nproc) threads/" | tee -a "$summary"
note ""
# The table's columns: device, matmul, agents, mode, agent-updates/s, ...
python3 - "$out/bench-1thread.log" <<'EOF' | tee -a "$summary"
import sys
rows = [[c.strip() for c in l.strip().strip('|').split('|')] for l in open(sys.argv[1]) if l.startswith('| ')]
rows = [r for r in rows if len(r) >= 5 and r[4].replace('.', '', 1).isdigit()]
cpu = [float(r[4]) for r in rows if r[0] == 'cpu' and r[3] == 'one at a time']
cuda = [(float(r[4]), r[2], r[3]) for r in rows if r[0] != 'cpu']
if cpu and cuda:
    best = max(cuda)
    print(f"Best CUDA rate {best[0]:.0f} agent-updates/s ({best[1]} agents, {best[2]}): "
          f"{best[0] / max(cpu):.1f}x the one-thread CPU rate one at a time ({max(cpu):.1f}/s).")
EOF
note ""

# 3. The same short training on both devices.
note "## 3. A short MARLIN training on the CPU and on CUDA (same seed)"
note ""
for device in cpu cuda; do
  start=$(date +%s%N)
  "$prebuilt/verdant" marlin train -q --out "$out/train-$device" --seed 0 \
    --set 'schemes=["balanced"]' --set seeds=1 --set marlin.days=1 --set discrete_event=false \
    --set torch.device="$device" > "$out/train-$device.log" 2>&1 || { failed=1; note "- $device: training FAILED (see train-$device.log)"; }
  note "- $device: $(since "$start") s wall"
done
python3 - "$out" "$tolerance" <<'EOF' | tee -a "$summary" || failed=1
import csv, glob, sys
out, tol = sys.argv[1], float(sys.argv[2])
rows = {}
for device in ("cpu", "cuda"):
    files = glob.glob(f"{out}/train-{device}/marlin/*/schemes.csv")
    if not files:
        print(f"- no schemes.csv for {device}")
        sys.exit(1)
    rows[device] = next(r for r in csv.DictReader(open(files[0])) if r["fidelity"] == "fluid")
print()
print("| objective | CPU | CUDA | relative difference |")
print("| --- | --- | --- | --- |")
worst = 0.0
for key in ("ttft_s", "carbon_kg", "water_l", "cost_usd", "energy_kwh"):
    a, b = float(rows["cpu"][key]), float(rows["cuda"][key])
    rel = abs(a - b) / max(abs(a), 1e-12)
    worst = max(worst, rel)
    print(f"| {key} | {a:.6g} | {b:.6g} | {rel:.2e} |")
print()
verdict = "within" if worst <= tol else "OUTSIDE"
print(f"Largest relative difference {worst:.2e}: {verdict} the tolerance {tol}.")
sys.exit(0 if worst <= tol else 1)
EOF
note ""
if [ "$failed" = 0 ]; then note "All checks passed."; else note "Some checks FAILED."; fi
exit "$failed"
