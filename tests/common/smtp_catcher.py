"""A real SMTP server for the tests (Debian's python3-aiosmtpd, run with
/usr/bin/python3): listens on 127.0.0.1:PORT and appends every message it
accepts to OUT as one JSON line (the envelope, the decoded headers and
parts, and the raw message). Prints "listening" once it accepts connections.
Recipients in the reserved top-level domain `.invalid` (RFC 2606: never a
real address) are refused with 550, as a real server refuses a mailbox that
does not exist: the way a test makes one mail fail while the server is up.

    smtp_catcher.py PORT OUT [--tls CERT KEY] [--implicit] [--auth USER:PASSWORD]

--tls offers STARTTLS with that certificate and requires it before MAIL;
with --implicit the connection is TLS from the first byte instead (SMTPS).
--auth requires AUTH PLAIN/LOGIN with that user and password.
"""

import argparse
import asyncio
import email
import email.policy
import json
import logging
import ssl
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Catcher:
    def __init__(self, out):
        self.out = out

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().rstrip(">").endswith(".invalid"):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "date": str(msg["Date"]),
            "content_type": msg.get_content_type(),
            "parts": [p.get_content_type() for p in msg.iter_parts()] if msg.is_multipart() else [],
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "user": session.auth_data.decode() if isinstance(session.auth_data, bytes) else None,
            "raw": raw.decode("utf-8", "replace"),
        }
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        return "250 Message accepted for delivery"


def main():
    # Quiet: aiosmtpd logs a deprecation of its own on every login, and
    # warns of AUTH without STARTTLS even when the connection is TLS.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("out")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--implicit", action="store_true")
    ap.add_argument("--auth")
    args = ap.parse_args()

    context = None
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls[0], args.tls[1])

    authenticator = None
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            # handled=False: aiosmtpd answers a failure with 535 itself.
            return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

    starttls = context is not None and not args.implicit

    def factory():
        return SMTP(
            Catcher(args.out),
            hostname="catcher.test",
            decode_data=False,
            tls_context=context if starttls else None,
            require_starttls=starttls,
            authenticator=authenticator,
            auth_required=authenticator is not None,
            # Implicit TLS is TLS too (aiosmtpd only counts STARTTLS).
            auth_require_tls=not args.implicit,
        )

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            factory,
            "127.0.0.1",
            args.port,
            ssl=context if args.implicit else None,
        )
        print("listening", flush=True)
        await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
