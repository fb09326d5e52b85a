#!/usr/bin/env bash
# Every check CI runs: formatting, clippy with warnings denied, the libraries' documentation with
# warnings denied, all tests of the workspace (doc examples included), and the Python module's
# tests (pytest). Installs what is
# missing first (see scripts/setup.sh). Arguments are passed to `cargo test`.
#
# Everything builds in the release profile, the one run.sh uses too: the two README commands
# build the world (HiGHS, libtorch's bindings) once, and the main job runs fully optimised.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked --release -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --lib --no-deps --locked --release
cargo test --workspace --locked --release "$@"
# The Python module (python/, issue 22): built into the venv, then its tests.
VIRTUAL_ENV="$VERDANT_TORCH_VENV" maturin develop --release --locked -q -m python/Cargo.toml
python -m pytest -q python/tests
