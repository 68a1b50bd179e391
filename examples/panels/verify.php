<?php
// A panel behind Portero, in PHP: verify X-Portero-Assertion, then read who
// is signed in from it. See docs/headers.md.
//
// No Composer needed: the signature is checked by PHP's own extensions,
// sodium (libsodium) for EdDSA and openssl (OpenSSL) for ES256; both are
// built into Debian's php-cli. Run as a tiny panel that answers every
// request with the identity it verified, as JSON (200), or why it refused
// (401):
//
//   PORTERO_JWKS_URL=https://panel.example.com/.portero/jwks.json \
//   PORTERO_TENANT=example php -S 127.0.0.1:9000 examples/panels/verify.php
//
// In a real panel, include the functions and call portero_identity() at
// the top of each page instead of reading any X-Portero-* header.

const PORTERO_LEEWAY = 30;         // seconds of clock difference tolerated
const PORTERO_KEYS_FOR = 300;      // keep the key set as long as Portero's Cache-Control says
const PORTERO_REFETCH_AFTER = 10;  // an unknown kid fetches the keys again, at most this often

final class PorteroRefused extends Exception {}

function portero_b64url(string $part): string
{
    $raw = base64_decode(strtr($part, '-_', '+/'), true);
    if ($raw === false) {
        throw new PorteroRefused('malformed assertion: not base64url');
    }
    return $raw;
}

/** Portero's public keys (/.portero/jwks.json) by kid, kept in a file for
 *  PORTERO_KEYS_FOR seconds; a kid not among them (a new key) fetches them
 *  again, at most every PORTERO_REFETCH_AFTER seconds. */
function portero_key(string $jwks_url, string $kid): ?array
{
    $cache = sys_get_temp_dir() . '/portero-jwks-' . md5($jwks_url) . '.json';
    $kept = is_file($cache) ? json_decode((string) @file_get_contents($cache), true) : null;
    $age = is_array($kept) ? time() - (int) $kept['fetched'] : PHP_INT_MAX;
    $keys = is_array($kept) ? $kept['keys'] : [];
    $known = isset($keys[$kid]);
    if ($age > PORTERO_KEYS_FOR || (!$known && $age > PORTERO_REFETCH_AFTER)) {
        $context = stream_context_create(['http' => ['timeout' => 5]]);
        $document = json_decode((string) @file_get_contents($jwks_url, false, $context), true);
        if (is_array($document) && isset($document['keys'])) {
            $keys = [];
            foreach ($document['keys'] as $jwk) {
                if (isset($jwk['kid']) && ($jwk['use'] ?? 'sig') === 'sig') {
                    $keys[$jwk['kid']] = $jwk;
                }
            }
            file_put_contents($cache, json_encode(['fetched' => time(), 'keys' => $keys]), LOCK_EX);
        }
    }
    return $keys[$kid] ?? null;
}

/** Whether $signature over $signed verifies with the JWK $jwk under $alg. */
function portero_signature_ok(array $jwk, string $alg, string $signed, string $signature): bool
{
    if ($alg === 'EdDSA' && ($jwk['kty'] ?? '') === 'OKP' && ($jwk['crv'] ?? '') === 'Ed25519') {
        $public = portero_b64url($jwk['x']);
        return strlen($public) === SODIUM_CRYPTO_SIGN_PUBLICKEYBYTES
            && strlen($signature) === SODIUM_CRYPTO_SIGN_BYTES
            && sodium_crypto_sign_verify_detached($signature, $signed, $public);
    }
    if ($alg === 'ES256' && ($jwk['kty'] ?? '') === 'EC' && ($jwk['crv'] ?? '') === 'P-256') {
        $x = portero_b64url($jwk['x']);
        $y = portero_b64url($jwk['y']);
        if (strlen($x) !== 32 || strlen($y) !== 32 || strlen($signature) !== 64) {
            return false;
        }
        // The JWK as a PEM public key (SubjectPublicKeyInfo, P-256), and the
        // JWS signature (r || s) as the DER sequence OpenSSL reads.
        $spki = hex2bin('3059301306072a8648ce3d020106082a8648ce3d03010703420004') . $x . $y;
        $pem = "-----BEGIN PUBLIC KEY-----\n" . chunk_split(base64_encode($spki), 64, "\n") . "-----END PUBLIC KEY-----\n";
        $integer = function (string $n): string {
            $n = ltrim($n, "\0");
            if ($n === '' || ord($n[0]) > 0x7f) {
                $n = "\0" . $n;
            }
            return "\x02" . chr(strlen($n)) . $n;
        };
        $sequence = $integer(substr($signature, 0, 32)) . $integer(substr($signature, 32));
        $der = "\x30" . chr(strlen($sequence)) . $sequence;
        return openssl_verify($signed, $der, $pem, OPENSSL_ALGO_SHA256) === 1;
    }
    return false;
}

/** The assertion's claims when Portero signed it for $tenant and it is still
 *  valid; throws PorteroRefused otherwise. */
function portero_verify(?string $token, string $jwks_url, string $tenant): array
{
    if ($token === null || $token === '') {
        throw new PorteroRefused('no assertion: the request did not come through Portero');
    }
    $parts = explode('.', $token);
    if (count($parts) !== 3) {
        throw new PorteroRefused('malformed assertion');
    }
    [$head, $body, $signature] = $parts;
    $header = json_decode(portero_b64url($head), true);
    if (!is_array($header) || !is_string($header['kid'] ?? null) || !is_string($header['alg'] ?? null)) {
        throw new PorteroRefused('malformed assertion header');
    }
    $jwk = portero_key($jwks_url, $header['kid']);
    if ($jwk === null) {
        throw new PorteroRefused('unknown signing key');
    }
    // The key's own algorithm, pinned: never HS*, never none.
    if (!in_array($header['alg'], ['EdDSA', 'ES256'], true) || $header['alg'] !== ($jwk['alg'] ?? '')) {
        throw new PorteroRefused('algorithm not allowed');
    }
    if (!portero_signature_ok($jwk, $header['alg'], "$head.$body", portero_b64url($signature))) {
        throw new PorteroRefused('bad signature');
    }
    $claims = json_decode(portero_b64url($body), true);
    $now = time();
    if (!is_array($claims)) {
        throw new PorteroRefused('malformed claims');
    }
    if (($claims['iss'] ?? null) !== 'portero') {
        throw new PorteroRefused('wrong issuer');
    }
    if (($claims['aud'] ?? null) !== $tenant) {
        throw new PorteroRefused('wrong audience: issued for another tenant');
    }
    if (!is_int($claims['exp'] ?? null) || $claims['exp'] + PORTERO_LEEWAY < $now) {
        throw new PorteroRefused('expired');
    }
    if (!is_int($claims['iat'] ?? null) || $claims['iat'] - PORTERO_LEEWAY > $now) {
        throw new PorteroRefused('issued in the future');
    }
    if (!is_string($claims['sub'] ?? null) || !is_array($claims['permissions'] ?? null)) {
        throw new PorteroRefused('missing claims');
    }
    return $claims;
}

/** The verified identity of this request (PHP names the header
 *  HTTP_X_PORTERO_ASSERTION), or a 401 and the end of the script. */
function portero_identity(): array
{
    $header = getenv('PORTERO_ASSERTION_HEADER') ?: 'X-Portero-Assertion';
    $key = 'HTTP_' . strtoupper(preg_replace('/[^A-Za-z0-9]/', '_', $header));
    try {
        return portero_verify($_SERVER[$key] ?? null, (string) getenv('PORTERO_JWKS_URL'), (string) getenv('PORTERO_TENANT'));
    } catch (PorteroRefused $e) {
        http_response_code(401);
        header('Content-Type: application/json');
        echo json_encode(['error' => $e->getMessage()]);
        exit;
    }
}

// The tiny panel: who this is, which account they entered and what they
// may do there.
$claims = portero_identity();
header('Content-Type: application/json');
echo json_encode([
    'user' => $claims['sub'],
    'email' => $claims['email'],
    'name' => $claims['name'] ?? null,
    'tenant' => $claims['tenant'],
    'account' => $claims['account'],
    'permissions' => $claims['permissions'],
    'impersonate' => $claims['impersonate'] ?? null,
    'auth' => $claims['auth'],
    'may_manage_billing' => in_array('commercial', $claims['permissions'], true),
]);
