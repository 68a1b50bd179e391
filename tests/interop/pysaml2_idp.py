"""A real SAML IdP for Portero's interop test: pysaml2 (PyPI) behind a tiny
HTTP server on 127.0.0.1. It answers an HTTP-Redirect AuthnRequest with a
login form, and the login form with the usual auto-POST page carrying a
signed Response to the SP's ACS (what a browser would submit).

  pysaml2_idp.py metadata BASE_URL KEY CERT OUT.xml   write the IdP metadata
  pysaml2_idp.py serve    BASE_URL KEY CERT SP_METADATA.xml   serve until killed
"""
import html
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

USERS = {"ana": ("anapass", {"mail": ["ana@samlco.test"], "givenName": ["Ana"], "sn": ["Perez"]})}


def config(base, key, cert, sp_metadata=None):
    c = {
        "entityid": base + "/idp",
        "service": {
            "idp": {
                "endpoints": {"single_sign_on_service": [(base + "/sso", BINDING_HTTP_REDIRECT)]},
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None}},
                "want_authn_requests_signed": False,
            }
        },
        "key_file": key,
        "cert_file": cert,
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "metadata": {"local": [sp_metadata]} if sp_metadata else {},
    }
    conf = IdPConfig()
    conf.load(c)
    return conf


def main():
    mode, base, key, cert, arg = sys.argv[1:6]
    if mode == "metadata":
        ed = entity_descriptor(config(base, key, cert))
        with open(arg, "w") as f:
            f.write(str(ed))
        return
    idp = Server(config=config(base, key, cert, arg))
    pending = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, status, body):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            q = dict(urllib.parse.parse_qsl(url.query))
            if url.path != "/sso":
                return self.reply(404, "no")
            req = idp.parse_authn_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT)
            token = str(len(pending) + 1)
            pending[token] = (req.message, q.get("RelayState", ""))
            self.reply(200, f"""<form method="post" action="/login"><input type="hidden" name="token" value="{token}">
<label>Username <input name="username"></label><label>Password <input name="password" type="password"></label>
<button>Sign in</button></form>""")

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
            message, relay = pending.pop(form.get("token", ""), (None, None))
            user = USERS.get(form.get("username", ""))
            if message is None or user is None or user[0] != form.get("password"):
                return self.reply(403, "login failed")
            identity = user[1]
            acs = message.assertion_consumer_service_url
            response = idp.create_authn_response(
                identity=identity,
                in_response_to=message.id,
                destination=acs,
                sp_entity_id=message.issuer.text,
                name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=identity["mail"][0]),
                sign_response=True,
                sign_assertion=True,
                sign_alg=SIG_RSA_SHA256,
                digest_alg=DIGEST_SHA256,
            )
            info = idp.apply_binding(BINDING_HTTP_POST, str(response), acs, relay, response=True)
            body = info["data"]
            self.reply(200, body if isinstance(body, str) else body.decode())

    HTTPServer(("127.0.0.1", int(urllib.parse.urlparse(base).port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
