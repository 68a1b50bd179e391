#!/usr/bin/env bash
# The whole test suite: unit, decision table, end-to-end, config checks, doctests;
# then the benchmarks are built (not run).
# One release build, reused by every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo test --release --workspace --locked "$@"
# The benchmarks must keep building; they are timed by hand, never in CI.
cargo bench --workspace --locked --no-run
