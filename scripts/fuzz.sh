#!/usr/bin/env bash
# Runs each fuzz target for a while (default 60 s each): scripts/fuzz.sh [SECONDS] [TARGET…]
# Installs cargo-fuzz if missing. libFuzzer needs nightly features; the
# stable toolchain is allowed them with RUSTC_BOOTSTRAP=1. Crashes are kept
# in fuzz/artifacts/<target>/; the corpus grows in fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
seconds="${1:-60}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
    targets=(cookie_open saml_response config_compile request_facts)
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1
status=0
for t in "${targets[@]}"; do
    echo "==> fuzzing $t for ${seconds}s"
    if ! cargo fuzz run "$t" --release -- -max_total_time="$seconds" -rss_limit_mb=4096; then
        echo "!! $t found a crash: see fuzz/artifacts/$t/"
        status=1
    fi
done
exit $status
