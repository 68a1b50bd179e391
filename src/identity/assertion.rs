//! `X-Portero-Assertion`: a short-lived JWT signed by Portero (EdDSA or
//! ES256) that holds the identity headers, so a panel can verify them with
//! the keys served at `/.portero/jwks.json`.

use jsonwebtoken::jwk::{Jwk, JwkSet, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// Signs assertions with the configured key and publishes its public half.
#[derive(Clone)]
pub struct AssertionSigner {
    key: EncodingKey,
    header: Header,
    /// Seconds an assertion is valid.
    pub ttl: u64,
    jwks: String,
}

impl std::fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionSigner")
            .field("alg", &self.header.alg)
            .field("kid", &self.header.kid)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// The claims of an assertion (docs/headers.md, "The assertion").
#[derive(Debug, Serialize)]
pub struct AssertionClaims<'a> {
    /// Always `portero`.
    pub iss: &'static str,
    /// The tenant name.
    pub aud: &'a str,
    /// The user's stable id.
    pub sub: &'a str,
    /// E-mail.
    pub email: &'a str,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// Tenant name.
    pub tenant: &'a str,
    /// The account entered.
    pub account: &'a str,
    /// Expanded permissions, in header order.
    pub permissions: Vec<&'a str>,
    /// Legacy login to act as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impersonate: Option<&'a str>,
    /// `saml`, `oidc` or `jwt`.
    pub auth: &'a str,
    /// Issued at.
    pub iat: u64,
    /// Expires at.
    pub exp: u64,
}

impl AssertionSigner {
    /// Loads a PKCS#8 PEM private key, Ed25519 or P-256.
    pub fn from_pem(pem: &str, ttl: u64) -> Result<AssertionSigner, String> {
        let (key, alg) = match EncodingKey::from_ed_pem(pem.as_bytes()) {
            Ok(k) => (k, Algorithm::EdDSA),
            Err(_) => match EncodingKey::from_ec_pem(pem.as_bytes()) {
                Ok(k) => (k, Algorithm::ES256),
                Err(_) => {
                    return Err(
                        "signing_key must be a PKCS#8 PEM private key, Ed25519 or P-256 (make one with `portero keygen`)"
                            .into(),
                    )
                }
            },
        };
        let mut jwk = Jwk::from_encoding_key(&key, alg)
            .map_err(|e| format!("cannot derive the public key of signing_key: {e}"))?;
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| format!("cannot compute the key id: {e}"))?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        let jwks = serde_json::to_string(&JwkSet { keys: vec![jwk] })
            .map_err(|e| format!("cannot write the JWKS: {e}"))?;
        let mut header = Header::new(alg);
        header.kid = Some(kid);
        let signer = AssertionSigner {
            key,
            header,
            ttl,
            jwks,
        };
        // A key that loads but cannot sign (e.g. a P-384 key) fails here, at load.
        signer
            .sign_raw(&serde_json::json!({"probe": true}))
            .map_err(|e| format!("signing_key cannot sign: {e}"))?;
        Ok(signer)
    }

    /// Signs an assertion.
    pub fn sign(&self, claims: &AssertionClaims<'_>) -> Option<String> {
        self.sign_raw(claims).ok()
    }

    fn sign_raw<T: Serialize>(&self, claims: &T) -> jsonwebtoken::errors::Result<String> {
        jsonwebtoken::encode(&self.header, claims, &self.key)
    }

    /// The JWKS document served at `/.portero/jwks.json`.
    pub fn jwks_json(&self) -> &str {
        &self.jwks
    }

    /// The signing algorithm (`EdDSA` or `ES256`).
    pub fn algorithm(&self) -> Algorithm {
        self.header.alg
    }
}

/// A fresh Ed25519 key as PKCS#8 PEM: what `portero keygen` prints.
pub fn generate_ed25519_pem() -> Option<String> {
    let rng = ring::rand::SystemRandom::new();
    // ring writes PKCS#8 v2 (seed and public key); OpenSSL and most tools
    // expect v1 (RFC 8410: the seed only), so the seed is re-wrapped.
    let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).ok()?;
    let seed = doc.as_ref().get(16..48)?;
    let mut v1 = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    v1.extend_from_slice(seed);
    Some(pem::encode(&pem::Pem::new("PRIVATE KEY", v1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    #[test]
    fn signs_and_verifies_with_its_jwks() {
        let pem = generate_ed25519_pem().unwrap();
        let s = AssertionSigner::from_pem(&pem, 60).unwrap();
        let claims = AssertionClaims {
            iss: "portero",
            aud: "latincloud",
            sub: "ana@x.test",
            email: "ana@x.test",
            name: None,
            tenant: "latincloud",
            account: "x.test",
            permissions: vec!["invite", "technical"],
            impersonate: None,
            auth: "jwt",
            iat: 0,
            exp: u64::MAX / 2,
        };
        let token = s.sign(&claims).unwrap();
        let set: JwkSet = serde_json::from_str(s.jwks_json()).unwrap();
        let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
        let jwk = set.find(&kid).unwrap();
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_audience(&["latincloud"]);
        let got = jsonwebtoken::decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_jwk(jwk).unwrap(),
            &v,
        )
        .unwrap();
        assert_eq!(got.claims["account"], "x.test");
        assert!(AssertionSigner::from_pem("not a key", 60).is_err());
    }
}
