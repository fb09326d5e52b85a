#!/usr/bin/env bash
# Runs Verdant's fuzz targets (fuzz/, docs/fuzzing.md) with libFuzzer on the stable toolchain.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   default: 1800 s each, every target, one after another
#
# Builds the targets once (cargo fuzz build, the `libfuzzer` feature, no sanitizer: the stable
# toolchain has none; `-O`), then runs each target's binary on its corpus (fuzz/corpus/<target>,
# which grows) for SECONDS or 10 million executions, whichever comes first, and writes a line
# per target to stdout for docs/fuzzing.md's table: executions, seconds, date, crashes. A crash, out-of-memory or
# time-out input lands in fuzz/artifacts/<target>/ (kept in the repository: tests/corpus.rs
# replays it). Needs cargo-fuzz (cargo install cargo-fuzz --locked).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh >/dev/null
seconds="${1:-1800}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(trace data_file scenario config front checkpoint)
# VERDANT_FUZZ_BUILT=1: the binaries are built already (two runs of this script side by side).
[ "${VERDANT_FUZZ_BUILT:-0}" = 1 ] || cargo fuzz build --features libfuzzer --sanitizer none -O >&2
bin="target/x86_64-unknown-linux-gnu/release"
mkdir -p target/fuzz-logs
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log="target/fuzz-logs/$t.log"
  started=$(date +%s)
  status=0
  "$bin/$t" "fuzz/corpus/$t" -artifact_prefix="fuzz/artifacts/$t/" \
    -max_total_time="$seconds" -runs=10000000 -max_len=8192 -rss_limit_mb=2048 -timeout=20 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  elapsed=$(( $(date +%s) - started ))
  verdict=$([ "$status" = 0 ] && echo "no crash" || echo "FOUND (exit $status; see $log and fuzz/artifacts/$t/)")
  echo "| $t | ${runs:-?} | $elapsed | $(date -u +%Y-%m-%d) | $verdict |"
done
