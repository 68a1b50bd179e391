#!/usr/bin/env bash
# The whole test suite: unit, decision table, end-to-end, config checks, doctests.
# One release build, reused by every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo test --release --workspace --locked "$@"
