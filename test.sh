#!/usr/bin/env bash
# Every check CI runs: formatting, clippy with warnings denied, and all tests of the workspace.
# Installs what is missing first (see scripts/setup.sh). Arguments are passed to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked "$@"
