#!/usr/bin/env python3
"""A panel behind Portero, in Python: verify X-Portero-Assertion, then read
who is signed in from it. See docs/headers.md.

Needs PyJWT 2 with cryptography (Debian: python3-jwt python3-cryptography;
pip: "pyjwt[crypto]"). Run as a tiny panel that answers every request with
the identity it verified, as JSON (200), or why it refused (401):

    PORTERO_JWKS_URL=https://panel.example.com/.portero/jwks.json \
    PORTERO_TENANT=example PORT=9000 python3 examples/panels/verify.py

In a real panel, call verify_assertion() from your request handler and use
the claims it returns instead of any header.
"""

import json
import os
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt  # PyJWT: parses the token and checks the signature and claims

JWKS_URL = os.environ["PORTERO_JWKS_URL"]
TENANT = os.environ["PORTERO_TENANT"]  # the assertion's `aud`
# The header's name, if the tenant renamed it in [tenant.headers].
HEADER = os.environ.get("PORTERO_ASSERTION_HEADER", "X-Portero-Assertion")

ALGORITHMS = ("EdDSA", "ES256")  # what Portero signs with; never HS*, never none
LEEWAY = 30  # seconds of clock difference tolerated
KEYS_FOR = 300  # keep the key set as long as Portero's Cache-Control says
REFETCH_AFTER = 10  # an unknown kid fetches the keys again, at most this often


class Keys:
    """Portero's public keys (/.portero/jwks.json), by kid, fetched again when
    they are old or when a token names a kid not among them (a new key)."""

    def __init__(self, url):
        self.url = url
        self.lock = threading.Lock()
        self.keys = {}
        self.fetched = 0.0

    def _fetch(self):
        with urllib.request.urlopen(self.url, timeout=5) as answer:
            document = json.load(answer)
        keys = {}
        for jwk in document.get("keys", []):
            if jwk.get("use", "sig") == "sig" and jwk.get("alg") in ALGORITHMS:
                keys[jwk["kid"]] = (jwt.PyJWK.from_dict(jwk), jwk["alg"])
        self.keys, self.fetched = keys, time.monotonic()

    def get(self, kid):
        with self.lock:
            age = time.monotonic() - self.fetched
            if age > KEYS_FOR or (kid not in self.keys and age > REFETCH_AFTER):
                try:
                    self._fetch()
                except (OSError, ValueError, KeyError, jwt.PyJWKError):
                    pass  # Portero unreachable: the keys already held stay
            return self.keys.get(kid)


KEYS = Keys(JWKS_URL)


class Refused(Exception):
    pass


def verify_assertion(token):
    """The assertion's claims when Portero signed it for this tenant and it
    is still valid; raises Refused otherwise."""
    if not token:
        raise Refused("no assertion: the request did not come through Portero")
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError as e:
        raise Refused(f"malformed assertion: {e}")
    found = KEYS.get(kid)
    if found is None:
        raise Refused("unknown signing key")
    key, alg = found
    try:
        return jwt.decode(
            token,
            key.key,
            algorithms=[alg],  # the key's own algorithm, pinned
            audience=TENANT,
            issuer="portero",
            leeway=LEEWAY,
            options={"require": ["iss", "aud", "sub", "iat", "exp"]},
        )
    except jwt.InvalidTokenError as e:
        raise Refused(f"{type(e).__name__}: {e}")


class Panel(BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            claims = verify_assertion(self.headers.get(HEADER))
        except Refused as e:
            return self.answer(401, {"error": str(e)})
        # Who this is, which account they entered and what they may do there.
        self.answer(
            200,
            {
                "user": claims["sub"],
                "email": claims["email"],
                "name": claims.get("name"),
                "tenant": claims["tenant"],
                "account": claims["account"],
                "permissions": claims["permissions"],
                "impersonate": claims.get("impersonate"),
                "auth": claims["auth"],
                "may_manage_billing": "commercial" in claims["permissions"],
            },
        )

    do_POST = do_GET

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "9000"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Panel)
    print(f"READY python panel on 127.0.0.1:{port}", flush=True)
    server.serve_forever()
