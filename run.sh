#!/usr/bin/env bash
# Verdant's main job on the bundled data. With no arguments it runs `verdant compare` (the exact
# reference front beside MARLIN, the load balancer and the rules on geo-8dc); any arguments
# are passed to the verdant binary instead (`./run.sh --help`). Installs what is missing first
# (see scripts/setup.sh) and builds the optimised (release) binary, in the same profile as the
# tests, so the two commands share one build.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/setup.sh
cargo build --locked --release -p verdant-experiments --bin verdant
target="${CARGO_TARGET_DIR:-target}"
if [ $# -eq 0 ]; then set -- compare; fi
exec "$target/release/verdant" "$@"
