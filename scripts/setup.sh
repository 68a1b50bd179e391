#!/usr/bin/env bash
# Installs what building and testing Portero needs on Debian, if missing.
# Sourced by demo.sh and test.sh; safe to run again.
set -euo pipefail

need_pkgs=()
# python3-aiosmtpd: the local mail catcher (a real SMTP server) that the
# tests and the demo (scripts/demo_mail.py) send invitation mails to.
for pkg in cmake pkg-config libclang-dev libssl-dev libxml2-dev libxmlsec1-dev xmlsec1 curl ca-certificates python3-aiosmtpd; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$pkg")
done
if ((${#need_pkgs[@]})); then
    echo "==> installing system packages: ${need_pkgs[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
    if [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    else
        echo "==> installing the Rust toolchain (rustup)"
        curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
fi
