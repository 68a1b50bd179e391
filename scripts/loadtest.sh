#!/usr/bin/env bash
# The load test: Portero vs. a direct hit on the upstream vs. nginx (plain, with
# auth_request to a separate auth service, and with auth_request to Portero), on
# this machine, in one run, plus instructions per request under callgrind.
# Installs nginx, wrk and valgrind when missing, builds the release binaries,
# and runs examples/loadtest/. Arguments go to the example:
#   --duration 5 --rounds 3 --connections 64 --idle 10000 --callgrind 2000
#   --threads 1
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
command -v callgrind_control >/dev/null 2>&1 || need+=(valgrind)
if ((${#need[@]})); then
    echo "==> installing ${need[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# 10,000 idle connections need more than the usual 1,024 descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo build --release --locked --bin portero --example loadtest
exec target/release/examples/loadtest "$@"
