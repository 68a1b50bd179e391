#!/usr/bin/env bash
# The whole test suite: unit, decision table, end-to-end, config checks, doctests;
# then the benchmarks are built (not run).
# One release build, reused by every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The real identity providers the interop tests start: SimpleSAMLphp (Debian),
# pysaml2 (PyPI, into target/interop/ by the test itself, needs venv) and
# oidc-provider (npm, into target/interop/ by the test itself, needs Node.js
# 20 or later and npm).
# The panel examples of docs/headers.md (examples/panels/), run by the
# panel_examples test: PHP's built-in server (php-cli, with sodium and
# openssl built in), Debian's PyJWT with cryptography for /usr/bin/python3,
# and npm `jose` (installed with oidc-provider into target/interop/).
test_pkgs=()
# Several nodes: a real Redis (started by the tests on a free port).
# Invitation mails: a real SMTP server, aiosmtpd for /usr/bin/python3
# (tests/common/smtp_catcher.py). The directory on PostgreSQL: the store's
# tests run on both databases, and the several-nodes tests start a server
# (initdb and postgres in a temporary folder, no system service).
# Certificates from an ACME CA: Pebble, Let's Encrypt's test server, and its
# DNS (pebble-challtestsrv, in the same package), started by the tests.
for pkg in simplesamlphp php-cli php-xml php-mbstring openssl redis-server python3-aiosmtpd postgresql python3-jwt python3-cryptography pebble; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || test_pkgs+=("$pkg")
done
python3 -c "import venv, ensurepip" 2>/dev/null || test_pkgs+=(python3-venv)
command -v python3 >/dev/null 2>&1 || test_pkgs+=(python3 python3-venv)
command -v node >/dev/null 2>&1 || test_pkgs+=(nodejs)
# Browser tests: Debian's Chromium, driven by playwright-core (npm, installed by the tests).
[ -x /usr/bin/chromium ] || test_pkgs+=(chromium)
command -v npm >/dev/null 2>&1 || test_pkgs+=(npm)
# The front-proxy kits (examples/front-proxies/): nginx (any Debian flavour
# with auth_request) and Caddy, each started by the front_proxy_kits test
# in a temporary folder, in the foreground (no service).
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || test_pkgs+=(nginx)
command -v caddy >/dev/null 2>&1 || test_pkgs+=(caddy)
if ((${#test_pkgs[@]})); then
    echo "==> installing test peers: ${test_pkgs[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${test_pkgs[@]}"
fi
cargo test --release --workspace --locked "$@"
# The benchmarks must keep building; they are timed by hand, never in CI.
cargo bench --workspace --locked --no-run
