// A real OpenID Provider for Portero's OIDC interop test: the npm package
// `oidc-provider` (panva, OpenID Certified) on 127.0.0.1, with its built-in
// "devInteractions" login + consent pages (plain HTML forms, usable without JS).
// In-memory storage only; the RS256 signing key is generated at start.
//
// Install once (package.json / package-lock.json live next to this file):
//
//   mkdir -p target/interop/node
//   cp tests/interop/package.json tests/interop/package-lock.json target/interop/node/
//   npm ci --prefix target/interop/node --no-audit --no-fund
//
// (`npm ci` installs exactly the lockfile; skip the step when
// target/interop/node/node_modules/oidc-provider/package.json exists.)
//
// Run (ESM ignores NODE_PATH, so the install folder is passed explicitly):
//
//   OIDC_PROVIDER_DIR=target/interop/node PORT=4455 \
//   REDIRECT_URIS=http://panel.oidcco.test:8080/.portero/oidc/callback \
//     node tests/interop/oidc_provider.mjs
//
// (Relative paths are resolved against the current directory; from Rust pass
// an absolute one, e.g. concat!(env!("CARGO_MANIFEST_DIR"), "/target/interop/node").)
//
// stdout carries exactly one line, `READY <issuer>`, once listening; every
// other message (library notices, errors) goes to stderr. The process exits
// on SIGTERM/SIGINT, and when stdin reaches EOF if stdin is a pipe/socket.
// So from Rust set stdin explicitly: Stdio::piped() (keep the ChildStdin; the
// provider stops when it is dropped) or Stdio::null() (runs until killed).
// Do not inherit stdin: an inherited, already-closed pipe would stop it at once.
//
// Environment (all optional except PORT):
//   PORT                        listen port on 127.0.0.1 (required)
//   ISSUER                      issuer URL, origin only, no path
//                               (default http://127.0.0.1:PORT)
//   OIDC_PROVIDER_DIR           folder holding node_modules/oidc-provider
//                               (default: resolve `oidc-provider` normally)
//   CLIENT_ID                   default "portero"
//   CLIENT_SECRET               default "portero-secret"
//   REDIRECT_URIS               comma-separated redirect_uris of the client
//   AUTH_METHOD                 client_secret_basic (default) | client_secret_post
//   POST_LOGOUT_REDIRECT_URIS   comma-separated post_logout_redirect_uris
//   EMAIL_IN_ID_TOKEN           "1": email/email_verified/name go into the ID
//                               token too (conformIdTokenClaims: false);
//                               otherwise they are only served by userinfo
//   EMAIL_VERIFIED              "false"/"0" → email_verified false (default true)
//   STRICT_AUTH_METHOD          default on: /token answers 401 invalid_client
//                               when the RP authenticates with the other of
//                               basic/post (oidc-provider alone accepts both);
//                               "0" → accept both
//
// Accounts: any login name x (password ignored) is account sub=x,
// email = x if it contains '@' else x@example.test, name "Test User".

import { createRequire } from 'node:module';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { fstatSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

// Keep stdout for the READY line only: oidc-provider prints notices with
// console.info.
console.info = console.error;
console.log = console.error;

function fail(msg) {
  console.error(`oidc_provider.mjs: ${msg}`);
  process.exit(2);
}

const env = process.env;
const list = (v) => (v || '').split(',').map((s) => s.trim()).filter(Boolean);
const flag = (v, dflt) => (v === undefined || v === '' ? dflt : !/^(0|false|no|off)$/i.test(v));

const port = Number.parseInt(env.PORT || '', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail('PORT must be set to a TCP port');
const issuer = env.ISSUER || `http://127.0.0.1:${port}`;
const clientId = env.CLIENT_ID || 'portero';
const clientSecret = env.CLIENT_SECRET || 'portero-secret';
const redirectUris = list(env.REDIRECT_URIS);
if (redirectUris.length === 0) fail('REDIRECT_URIS must list at least one redirect URI');
const authMethod = env.AUTH_METHOD || 'client_secret_basic';
if (!['client_secret_basic', 'client_secret_post'].includes(authMethod)) {
  fail(`AUTH_METHOD must be client_secret_basic or client_secret_post, not ${authMethod}`);
}
const postLogoutRedirectUris = list(env.POST_LOGOUT_REDIRECT_URIS);
const emailInIdToken = env.EMAIL_IN_ID_TOKEN === '1';
const emailVerified = flag(env.EMAIL_VERIFIED, true);

async function loadProvider() {
  if (!env.OIDC_PROVIDER_DIR) return (await import('oidc-provider')).default;
  const base = resolve(env.OIDC_PROVIDER_DIR);
  const entry = createRequire(`${base}/package.json`).resolve('oidc-provider');
  return (await import(pathToFileURL(entry).href)).default;
}

let Provider;
try {
  Provider = await loadProvider();
} catch (err) {
  fail(`cannot load oidc-provider (${err.message}); install it (see the top of this file) and set OIDC_PROVIDER_DIR`);
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `interop-${randomBytes(6).toString('hex')}`,
  alg: 'RS256',
  use: 'sig',
};

async function findAccount(ctx, id) {
  const email = id.includes('@') ? id : `${id}@example.test`;
  return {
    accountId: id,
    async claims() {
      return { sub: id, email, email_verified: emailVerified, name: 'Test User' };
    },
  };
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    ...(postLogoutRedirectUris.length ? { post_logout_redirect_uris: postLogoutRedirectUris } : {}),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: authMethod,
  }],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  jwks: { keys: [signingKey] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  conformIdTokenClaims: !emailInIdToken,
  findAccount,
  cookies: { keys: [randomBytes(32).toString('hex')] },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 3600,
    Session: 3600,
    Grant: 3600,
  },
});

// oidc-provider itself accepts client_secret_basic and client_secret_post
// interchangeably for a client registered with either. Enforce the registered
// one so the test notices an RP using the wrong method (STRICT_AUTH_METHOD=0
// turns this off).
if (flag(env.STRICT_AUTH_METHOD, true)) {
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === '/token') {
      const basic = ctx.get('authorization') !== '';
      if (basic !== (authMethod === 'client_secret_basic')) {
        const why = `client is registered for ${authMethod}, request ${basic ? 'used' : 'lacks'} an Authorization header`;
        console.error(`oidc_provider.mjs: token request rejected: ${why}`);
        ctx.status = 401;
        ctx.set('cache-control', 'no-store');
        ctx.body = { error: 'invalid_client', error_description: why };
        return;
      }
    }
    await next();
  });
}

for (const ev of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error',
  'end_session.error', 'jwks.error', 'discovery.error']) {
  provider.on(ev, (...args) => {
    const err = args.find((a) => a instanceof Error);
    console.error(`oidc-provider ${ev}: ${err ? `${err.name}: ${err.message}${err.error_description ? ` (${err.error_description})` : ''}` : ''}`);
  });
}

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`READY ${issuer}\n`);
});
server.on('error', (err) => fail(`listen failed: ${err.message}`));

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

let stdinWatched = false;
try {
  const st = fstatSync(0);
  stdinWatched = st.isFIFO() || st.isSocket();
} catch { /* no stdin at all */ }
if (stdinWatched) {
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}
