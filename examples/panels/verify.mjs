// A panel behind Portero, in Node.js: verify X-Portero-Assertion, then read
// who is signed in from it. See docs/headers.md.
//
// Needs the npm package `jose` (npm install jose; Node 20 or later). Run as
// a tiny panel that answers every request with the identity it verified, as
// JSON (200), or why it refused (401):
//
//   PORTERO_JWKS_URL=https://panel.example.com/.portero/jwks.json \
//   PORTERO_TENANT=example PORT=9000 node verify.mjs
//
// In a real panel (Express, Koa, Fastify…), call verifyAssertion() from a
// middleware and use the claims it returns instead of any header.

import { createServer } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const TENANT = process.env.PORTERO_TENANT; // the assertion's `aud`
// The header's name, if the tenant renamed it in [tenant.headers].
const HEADER = (process.env.PORTERO_ASSERTION_HEADER || 'X-Portero-Assertion').toLowerCase();

// Portero's public keys, fetched when needed and kept as long as Portero's
// Cache-Control says; a token naming a kid not among them (a new key)
// fetches them again, at most every 10 seconds.
const KEYS = createRemoteJWKSet(new URL(process.env.PORTERO_JWKS_URL), {
  cacheMaxAge: 300_000,
  cooldownDuration: 10_000,
  timeoutDuration: 5_000,
});

// The assertion's claims when Portero signed it for this tenant and it is
// still valid; throws otherwise.
export async function verifyAssertion(token) {
  if (!token) throw new Error('no assertion: the request did not come through Portero');
  const { payload } = await jwtVerify(token, KEYS, {
    algorithms: ['EdDSA', 'ES256'], // what Portero signs with; never HS*, never none
    issuer: 'portero',
    audience: TENANT,
    clockTolerance: 30, // seconds of clock difference tolerated
    requiredClaims: ['sub', 'iat', 'exp'],
  });
  return payload;
}

function answer(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = createServer(async (req, res) => {
  let claims;
  try {
    claims = await verifyAssertion(req.headers[HEADER]);
  } catch (e) {
    return answer(res, 401, { error: `${e.code || e.name}: ${e.message}` });
  }
  // Who this is, which account they entered and what they may do there.
  answer(res, 200, {
    user: claims.sub,
    email: claims.email,
    name: claims.name ?? null,
    tenant: claims.tenant,
    account: claims.account,
    permissions: claims.permissions,
    impersonate: claims.impersonate ?? null,
    auth: claims.auth,
    may_manage_billing: claims.permissions.includes('commercial'),
  });
});

const port = Number(process.env.PORT || 9000);
server.listen(port, '127.0.0.1', () => {
  console.log(`READY node panel on 127.0.0.1:${port}`);
});
