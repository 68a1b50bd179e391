//! ID token verification: the key chosen by `kid` from the issuer's key
//! set, `alg` pinned to what that key is for (never `none`, never HMAC),
//! signature by jsonwebtoken, then `iss`, `aud`, `azp`, `exp`, `iat` and
//! `nonce` on the clock we are given.

use super::refusal::Refusal;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// The longest ID token read.
const MAX_TOKEN: usize = 16 * 1024;

/// What an ID token must match.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenCheck<'a> {
    /// The configured issuer (`iss`, exactly).
    pub issuer: &'a str,
    /// This RP's client ID (`aud`, and `azp` when present).
    pub client_id: &'a str,
    /// The nonce sent with this sign-in.
    pub nonce: &'a str,
    /// Now, in Unix seconds.
    pub now: u64,
    /// Clock skew tolerated, in seconds.
    pub skew: u64,
    /// How old `iat` may be, in seconds.
    pub max_age: u64,
}

/// The algorithms a key may verify: the one its `alg` names, else those of
/// its type. HMAC keys and encryption keys verify nothing.
fn algorithms_for(jwk: &Jwk) -> Vec<Algorithm> {
    use Algorithm::*;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Vec::new();
    }
    let of_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![RS256, RS384, RS512, PS256, PS384, PS512],
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![ES256],
            EllipticCurve::P384 => vec![ES384],
            _ => Vec::new(),
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => vec![EdDSA],
        _ => Vec::new(),
    };
    let named = match jwk.common.key_algorithm {
        None => return of_type,
        Some(KeyAlgorithm::RS256) => RS256,
        Some(KeyAlgorithm::RS384) => RS384,
        Some(KeyAlgorithm::RS512) => RS512,
        Some(KeyAlgorithm::PS256) => PS256,
        Some(KeyAlgorithm::PS384) => PS384,
        Some(KeyAlgorithm::PS512) => PS512,
        Some(KeyAlgorithm::ES256) => ES256,
        Some(KeyAlgorithm::ES384) => ES384,
        Some(KeyAlgorithm::EdDSA) => EdDSA,
        Some(_) => return Vec::new(),
    };
    // The named one, and only if it fits the key's type.
    of_type.into_iter().filter(|a| *a == named).collect()
}

/// The key that signed: the one named by `kid`, or the only signing key
/// when the token names none.
fn find_key<'a>(keys: &'a JwkSet, kid: Option<&str>) -> Option<&'a Jwk> {
    match kid {
        Some(kid) => keys.find(kid),
        None => {
            let mut signing = keys.keys.iter().filter(|k| !algorithms_for(k).is_empty());
            let only = signing.next()?;
            signing.next().is_none().then_some(only)
        }
    }
}

/// Verifies an ID token against `keys`; returns its claims.
/// [`Refusal::UnknownKey`] means the key set may be out of date.
pub fn verify_id_token(
    token: &str,
    keys: &JwkSet,
    check: &IdTokenCheck<'_>,
) -> Result<Map<String, Value>, Refusal> {
    if token.len() > MAX_TOKEN {
        return Err(Refusal::Malformed);
    }
    // `alg: none` and unknown algorithms do not even decode.
    let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Malformed)?;
    let jwk = find_key(keys, header.kid.as_deref()).ok_or(Refusal::UnknownKey)?;
    if !algorithms_for(jwk).contains(&header.alg) {
        return Err(Refusal::WrongAlgorithm);
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| Refusal::UnknownKey)?;
    let mut v = Validation::new(header.alg);
    // Time is checked below on our clock.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.required_spec_claims = ["iss", "aud", "sub", "exp", "iat"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.set_issuer(&[check.issuer]);
    v.set_audience(&[check.client_id]);
    let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &v)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => Refusal::BadSignature,
            ErrorKind::InvalidAlgorithm => Refusal::WrongAlgorithm,
            ErrorKind::InvalidIssuer => Refusal::WrongIssuer,
            ErrorKind::InvalidAudience => Refusal::WrongAudience,
            ErrorKind::MissingRequiredClaim(_) => Refusal::MissingClaim,
            _ => Refusal::Malformed,
        })?
        .claims;
    // Several audiences: the token must say it was issued to us (`azp`).
    let audiences = match claims.get("aud") {
        Some(Value::Array(a)) => a.len(),
        _ => 1,
    };
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != check.client_id => return Err(Refusal::WrongAudience),
        None if audiences > 1 => return Err(Refusal::WrongAudience),
        _ => {}
    }
    let number = |name: &str| claims.get(name).and_then(Value::as_u64);
    let exp = number("exp").ok_or(Refusal::MissingClaim)?;
    let iat = number("iat").ok_or(Refusal::MissingClaim)?;
    if exp + check.skew <= check.now {
        return Err(Refusal::Expired);
    }
    if iat > check.now + check.skew {
        return Err(Refusal::IssuedInFuture);
    }
    if check.now.saturating_sub(iat) > check.max_age {
        return Err(Refusal::Stale);
    }
    if claims.get("nonce").and_then(Value::as_str) != Some(check.nonce) {
        return Err(Refusal::NonceMismatch);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(json: &str) -> JwkSet {
        serde_json::from_str(json).unwrap()
    }

    const RSA: &str = r#"{"kty":"RSA","kid":"r1","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}"#;

    #[test]
    fn keys_verify_only_their_own_kind() {
        use Algorithm::*;
        let rsa = set(&format!(r#"{{"keys":[{RSA}]}}"#));
        assert!(algorithms_for(&rsa.keys[0]).contains(&RS256));
        assert!(!algorithms_for(&rsa.keys[0]).contains(&HS256));
        let pinned = set(&format!(
            r#"{{"keys":[{}]}}"#,
            RSA.replace(r#""kid":"r1""#, r#""kid":"r1","alg":"PS256""#)
        ));
        assert_eq!(algorithms_for(&pinned.keys[0]), vec![PS256]);
        let enc = set(&format!(
            r#"{{"keys":[{}]}}"#,
            RSA.replace(r#""kid":"r1""#, r#""kid":"r1","use":"enc""#)
        ));
        assert!(algorithms_for(&enc.keys[0]).is_empty());
        let hmac = set(r#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0","alg":"HS256"}]}"#);
        assert!(algorithms_for(&hmac.keys[0]).is_empty());
        // An RSA key claiming an EC algorithm verifies nothing.
        let odd = set(&format!(
            r#"{{"keys":[{}]}}"#,
            RSA.replace(r#""kid":"r1""#, r#""kid":"r1","alg":"ES256""#)
        ));
        assert!(algorithms_for(&odd.keys[0]).is_empty());
    }

    #[test]
    fn a_token_without_kid_needs_a_single_signing_key() {
        let one = set(&format!(r#"{{"keys":[{RSA}]}}"#));
        assert!(find_key(&one, None).is_some());
        let two = set(&format!(
            r#"{{"keys":[{RSA},{}]}}"#,
            RSA.replace("r1", "r2")
        ));
        assert!(find_key(&two, None).is_none());
        assert!(find_key(&two, Some("r2")).is_some());
        assert!(find_key(&two, Some("r3")).is_none());
    }
}
