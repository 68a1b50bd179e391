//! Threat: a panel cannot tell Portero's headers from a forger's. The
//! `X-Portero-Assertion` JWT must verify against `/.portero/jwks.json`,
//! carry `aud` = tenant and a short `exp`. docs/headers.md.
use crate::common::*;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};

#[test]
fn assertion_verifies_with_the_published_keys() {
    let (_up, p) = start();
    let cookie = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "boss@latincloud.test",
    );
    let got = p
        .send(get("panel.latincloud.test", "/").cookie("portero_session", &cookie))
        .received();
    let token = got.one("x-portero-assertion").unwrap().to_string();

    let jwks = p.send(get("panel.latincloud.test", "/.portero/jwks.json"));
    assert_eq!(jwks.status, 200);
    let set: JwkSet = serde_json::from_str(&jwks.body).unwrap();
    let header = decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let jwk = set
        .find(header.kid.as_deref().unwrap())
        .expect("kid is published");
    let key = DecodingKey::from_jwk(jwk).unwrap();

    let mut v = Validation::new(jsonwebtoken::Algorithm::EdDSA);
    v.set_audience(&["latincloud"]);
    v.set_issuer(&["portero"]);
    let claims = decode::<serde_json::Value>(&token, &key, &v)
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "boss@latincloud.test");
    assert_eq!(claims["account"], "latincloud.test");
    assert_eq!(claims["tenant"], "latincloud");
    assert_eq!(claims["auth"], "jwt");
    assert_eq!(claims["impersonate"], "bossuser");
    assert_eq!(
        claims["permissions"],
        serde_json::json!(["admin", "commercial", "invite", "sublogin", "technical"])
    );
    let ttl = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(ttl, 60);

    // Another tenant's audience does not accept it.
    let mut other = Validation::new(jsonwebtoken::Algorithm::EdDSA);
    other.set_audience(&["reseller"]);
    assert!(decode::<serde_json::Value>(&token, &key, &other).is_err());
    // A changed claim breaks the signature.
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!("{}.{}x.{}", parts[0], parts[1], parts[2]);
    assert!(decode::<serde_json::Value>(&tampered, &key, &v).is_err());
}
