#!/usr/bin/env bash
# Installs what Verdant needs to build and run, and exports the build environment.
# Idempotent: a second run only checks. Source it (`. scripts/setup.sh`) to get the
# environment in the calling shell; run it to install only.
#
# Environment it reads:
#   VERDANT_TORCH_VENV  venv holding PyTorch 2.13.0 (default ~/.cache/verdant/torch-2.13.0)
#   VERDANT_NO_INSTALL=1  install nothing: only check, and name what is missing
#
# What it installs: the apt packages of the build, of the sweep test's one-node Slurm cluster
# (slurm-wlm, munge) and of the limits test's memory peaks (time), PyTorch in a cached venv, and in that venv
# the pinned Python packages of python/ (maturin, numpy, moocore, pytest, gymnasium, pettingzoo,
# stable-baselines3).
#
# Environment it sets: LIBTORCH_USE_PYTORCH=1, PATH (the venv's python first),
# VERDANT_TORCH_VENV, and LIBTORCH_BYPASS_VERSION_CHECK unset.

verdant_setup() {
  local torch_version="2.13.0"
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/verdant"
  local venv="${VERDANT_TORCH_VENV:-$cache/torch-$torch_version}"

  say() { printf 'verdant setup: %s\n' "$*" >&2; }
  fail() { say "error: $*"; return 1; }

  # 1. System packages for building HiGHS (highs-sys runs cmake and bindgen).
  local missing=()
  command -v cmake >/dev/null 2>&1 || missing+=(cmake)
  # bindgen needs libclang itself (libclang.so or libclang-N.so), not libclang-cpp.
  if ! compgen -G "/usr/lib/llvm-*/lib/libclang.so*" >/dev/null \
     && ! compgen -G "/usr/lib/*-linux-gnu/libclang-[0-9]*.so*" >/dev/null; then
    missing+=(libclang-dev)
  fi
  # plotters renders text through fontconfig and freetype.
  if ! pkg-config --exists fontconfig freetype2 2>/dev/null; then
    missing+=(pkg-config libfontconfig1-dev)
  fi
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  # The sweep test's one-node Slurm cluster (scripts/slurm-local.sh).
  command -v slurmctld >/dev/null 2>&1 || missing+=(slurm-wlm)
  command -v munged >/dev/null 2>&1 || missing+=(munge)
  # GNU time: the limits test reads each run's peak memory from it (experiments/tests/limits.rs).
  [ -x /usr/bin/time ] || missing+=(time)
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "${VERDANT_NO_INSTALL:-0}" = 1 ]; then
      fail "missing system packages: ${missing[*]} (install them with: apt-get install ${missing[*]})"
      return 1
    fi
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
      command -v sudo >/dev/null 2>&1 || { fail "need root or sudo to install: ${missing[*]}"; return 1; }
      sudo="sudo"
    fi
    say "installing system packages: ${missing[*]}"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
      && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || { fail "apt-get install ${missing[*]} failed"; return 1; }
  fi

  # 2. PyTorch from PyPI into a cached venv; tch links against its libtorch.
  if ! "$venv/bin/python" -W ignore -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$torch_version' else 1)" >/dev/null 2>&1; then
    if [ "${VERDANT_NO_INSTALL:-0}" = 1 ]; then
      fail "PyTorch $torch_version is not installed in $venv (unset VERDANT_NO_INSTALL to install it, or point VERDANT_TORCH_VENV at a venv that has it)"
      return 1
    fi
    say "installing PyTorch $torch_version into $venv (about 4.7 GB, once)"
    mkdir -p "$(dirname "$venv")" || { fail "cannot create $(dirname "$venv")"; return 1; }
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv" || { fail "python3 -m venv $venv failed"; return 1; }
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input "torch==$torch_version" \
      || { fail "pip install torch==$torch_version into $venv failed"; return 1; }
    "$venv/bin/python" -W ignore -c "import torch; print(torch.__version__)" >/dev/null \
      || { fail "torch installed into $venv but does not import"; return 1; }
  fi

  # 3. The Python packages that build and test Verdant's Python module (python/, issue 22),
  #    pinned, into the same venv.
  local py_packages=("maturin==1.16.0" "numpy==2.4.6" "moocore==0.3.2" "pytest==9.2.0"
    "gymnasium==1.4.0" "pettingzoo==1.27.0" "stable-baselines3==2.9.2")
  if ! "$venv/bin/python" -c '
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    ok = all(version(p.split("==")[0]) == p.split("==")[1] for p in sys.argv[1:])
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)' "${py_packages[@]}" >/dev/null 2>&1; then
    if [ "${VERDANT_NO_INSTALL:-0}" = 1 ]; then
      fail "Python packages missing from $venv: ${py_packages[*]} (unset VERDANT_NO_INSTALL to install them)"
      return 1
    fi
    say "installing Python packages into $venv: ${py_packages[*]}"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input "${py_packages[@]}" \
      || { fail "pip install ${py_packages[*]} into $venv failed"; return 1; }
  fi

  export VERDANT_TORCH_VENV="$venv"
  export LIBTORCH_USE_PYTORCH=1
  unset LIBTORCH LIBTORCH_LIB LIBTORCH_INCLUDE LIBTORCH_BYPASS_VERSION_CHECK
  case ":$PATH:" in
    *":$venv/bin:"*) ;;
    *) export PATH="$venv/bin:$PATH" ;;
  esac
  command -v cargo >/dev/null 2>&1 || { fail "cargo not found: install Rust (https://rustup.rs)"; return 1; }
  return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  verdant_setup
  echo "verdant setup: ready (torch venv: $VERDANT_TORCH_VENV)"
else
  verdant_setup
fi
