#!/usr/bin/env bash
# Installs what is missing, builds Portero, and runs it in front of the
# example panel with the example external sign-in page, and a local mail
# catcher that keeps the invitation mails in data/demo/mail/:
#   open http://localhost:8080/  (Ctrl-C stops them all)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "==> building (a cold build takes a few minutes)"
cargo build --release --locked --bin portero --example panel --example external_signin

mkdir -p data/demo
if [ ! -f data/demo/secrets.env ]; then
    key_out=$(./target/release/portero keygen --assertion-key data/demo/assertion.pem)
    {
        echo "$key_out" | grep '^PORTERO_SESSION_KEY='
        echo "EXT_SSO_SECRET=$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
    } > data/demo/secrets.env
    chmod 600 data/demo/secrets.env
fi
set -a
source data/demo/secrets.env
set +a

./target/release/portero check --config config/portero.toml

# The reseller tenant's people, in the embedded store (idempotent).
accounts() { ./target/release/portero accounts --config config/portero.toml reseller "$@" >/dev/null; }
accounts add --account libros.test   --user rosa@libros.test  --permissions admin
accounts add --account cliente1.test --user dario@libros.test --permissions technical
accounts add --account cliente1.test --user berta@libros.test --permissions commercial
accounts add --account cliente2.test --user berta@libros.test --permissions commercial

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
# Invitation mails ([server.smtp] in config/portero.toml): a real SMTP
# server on 127.0.0.1:2525 that delivers nothing and keeps each mail.
/usr/bin/python3 scripts/demo_mail.py 2525 data/demo/mail & pids+=($!)
./target/release/examples/panel 127.0.0.1:9000 & pids+=($!)
./target/release/examples/external_signin 127.0.0.1:9100 demo & pids+=($!)
./target/release/examples/external_signin 127.0.0.1:9101 reseller & pids+=($!)
./target/release/portero run --config config/portero.toml & pids+=($!)
sleep 1
cat <<MSG

  Portero is running.  Open  http://localhost:8080/  in a browser.

  * Enter ana@demo.test      -> the example sign-in page -> the panel shows the identity headers.
  * Enter root@demo.test on http://localhost:8080/admin -> super-admin: the panel's classic login.
  * http://localhost:8080/static/x  -> a bypass path, no sign-in.
  * http://127.0.0.1:8080/  -> the reseller: sign in as rosa@libros.test, dario@libros.test
    or berta@libros.test and pick the account to enter (Rosa enters the clients by sublogin).
  * Invitations by mail: as rosa@libros.test, "Members" on the accounts page -> invite
    someone; the mail arrives in  data/demo/mail/mail.log  (the whole message beside it,
    NNNN.eml, and its HTML part, NNNN.html). Open its link and sign in as the invited
    e-mail to accept.
  * Audit log: data/demo/audit.log   Metrics: http://127.0.0.1:9090/metrics
  * Force everyone to sign in again:  curl -X POST http://127.0.0.1:9090/tenants/demo/reauth

  Ctrl-C stops everything.
MSG
wait
