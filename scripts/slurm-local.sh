#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the sweep test (issue 23): `start` installs
# Debian's slurm-wlm and munge if missing (apt), writes a private configuration under
# $VERDANT_SLURM_DIR (default target/slurm-local in the repository), starts munged, slurmctld
# and slurmd, and waits
# until the node is idle; `stop` stops the three. Prints `export SLURM_CONF=...` for the
# commands (sbatch, squeue, sacct) to use the private configuration.
#
#   eval "$(scripts/slurm-local.sh start)"; ...; scripts/slurm-local.sh stop
set -euo pipefail
dir="${VERDANT_SLURM_DIR:-$(cd "$(dirname "$0")/.." && pwd)/target/slurm-local}"
conf="$dir/slurm.conf"
say() { echo "slurm-local: $*" >&2; }

start() {
  if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
    if [ "${VERDANT_NO_INSTALL:-0}" = 1 ]; then
      say "missing system packages: slurm-wlm munge (unset VERDANT_NO_INSTALL to install them)"
      exit 1
    fi
    say "installing slurm-wlm and munge (apt)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >/dev/null
  fi
  mkdir -p "$dir/ctld" "$dir/d" "$dir/log" "$dir/munge"
  local node cpus mem user
  node="$(hostname -s)"
  cpus="$(nproc)"
  mem="$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)"
  user="$(id -un)"
  cat > "$conf" <<CONF
ClusterName=verdant-local
SlurmctldHost=$node
SlurmUser=$user
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=${VERDANT_SLURM_PORT:-6817}
SlurmdPort=$(( ${VERDANT_SLURM_PORT:-6817} + 1 ))
NodeName=$node CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
  # munge: its own socket and pid file under $dir, the system's key.
  if [ ! -S "$dir/munge/munge.socket" ]; then
    munged --force --socket="$dir/munge/munge.socket" --pid-file="$dir/munge/munged.pid" \
      --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"
  fi
  export SLURM_CONF="$conf"
  # Slurm's munge plugin finds the socket through its own setting.
  grep -q '^AuthInfo' "$conf" || echo "AuthInfo=socket=$dir/munge/munge.socket" >> "$conf"
  slurmctld -f "$conf"
  slurmd -f "$conf"
  for _ in $(seq 1 100); do
    if sinfo -h -o '%t' 2>/dev/null | grep -q '^idle'; then
      echo "export SLURM_CONF=$conf"
      return 0
    fi
    sleep 0.2
  done
  say "the node did not become idle; logs in $dir/log"
  sinfo >&2 || true
  exit 1
}

stop() {
  for pid in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    if [ -f "$pid" ]; then
      kill "$(cat "$pid")" 2>/dev/null || true
    fi
  done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
      if [ -f "$pid" ] && kill -0 "$(cat "$pid")" 2>/dev/null; then alive=1; fi
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  rm -f "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
