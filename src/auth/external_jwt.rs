//! External SSO: a sign-in page of the tenant's own hands back a signed JWT
//! (docs/external-sso.md). The token's `alg` is pinned, `aud` must be the
//! tenant, `exp` and `iat` are checked against the clock we are given, and the `jti`
//! is the one-time id the sign-in claims ([`UnclaimedLogin::claim`]).

use super::{clean_display_name, normalize_email, AuthMethod, OnceId, UnclaimedLogin};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::time::Duration;

/// Clock difference tolerated between the external page and us, in seconds.
pub const LEEWAY: u64 = 60;

/// A tenant's external sign-in page and the key its tokens are checked with.
#[derive(Clone)]
pub struct ExternalSso {
    /// Where people are sent, with `?return_to=`.
    pub url: url::Url,
    /// Rule 4: no other login method.
    pub forced: bool,
    /// The one algorithm accepted.
    pub alg: Algorithm,
    key: DecodingKey,
    /// The longest a token may live (`exp - iat`) and the oldest `iat` accepted.
    pub max_token_age: u64,
    /// Whether a hand-back may arrive in a browser that did not start a
    /// sign-in (off by default: that is login CSRF's way in).
    pub allow_idp_initiated: bool,
}

impl std::fmt::Debug for ExternalSso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalSso")
            .field("url", &self.url.as_str())
            .field("forced", &self.forced)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Why a hand-back token was refused (audit log and error page).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not a JWT at all.
    #[error("the token is malformed")]
    Malformed,
    /// Signed with another algorithm than the pinned one.
    #[error("the token's algorithm is not the pinned one")]
    WrongAlgorithm,
    /// The signature does not verify with the tenant's key.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// `aud` is not this tenant.
    #[error("the token is for another audience")]
    WrongAudience,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `iat` lies in the future.
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// `iat` too long ago, or `exp - iat` longer than allowed.
    #[error("the token lives longer than allowed")]
    TooLongLived,
    /// A required claim is missing or of the wrong type.
    #[error("the token lacks a required claim (email, aud, exp, iat, jti)")]
    MissingClaim,
    /// The `email` claim is not an e-mail address.
    #[error("the token's e-mail is not valid")]
    BadEmail,
}

impl Refused {
    /// A stable, short reason for metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Refused::Malformed => "malformed",
            Refused::WrongAlgorithm => "wrong_algorithm",
            Refused::BadSignature => "bad_signature",
            Refused::WrongAudience => "wrong_audience",
            Refused::Expired => "expired",
            Refused::IssuedInFuture => "issued_in_future",
            Refused::TooLongLived => "too_long_lived",
            Refused::MissingClaim => "missing_claim",
            Refused::BadEmail => "bad_email",
        }
    }
}

#[derive(Deserialize)]
struct Claims {
    email: String,
    #[serde(default)]
    name: Option<String>,
    exp: u64,
    iat: u64,
    #[serde(default)]
    nbf: Option<u64>,
    jti: String,
}

/// Errors in building an [`ExternalSso`] from configuration.
pub type KeyError = String;

impl ExternalSso {
    /// Builds the verifier. `key` is an HMAC secret for `HS*`, or a PEM
    /// public key for `RS*`, `PS*`, `ES*` and `EdDSA`.
    pub fn new(
        url: url::Url,
        forced: bool,
        alg: Algorithm,
        key: &str,
        max_token_age: u64,
    ) -> Result<ExternalSso, KeyError> {
        use Algorithm::*;
        let key = match alg {
            HS256 | HS384 | HS512 => {
                if key.len() < 32 {
                    return Err("an HS* jwt_key must be at least 32 bytes long".into());
                }
                DecodingKey::from_secret(key.as_bytes())
            }
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => {
                DecodingKey::from_rsa_pem(key.as_bytes())
                    .map_err(|e| format!("jwt_key is not an RSA public key in PEM: {e}"))?
            }
            ES256 | ES384 => DecodingKey::from_ec_pem(key.as_bytes())
                .map_err(|e| format!("jwt_key is not an EC public key in PEM: {e}"))?,
            EdDSA => DecodingKey::from_ed_pem(key.as_bytes())
                .map_err(|e| format!("jwt_key is not an Ed25519 public key in PEM: {e}"))?,
            other => return Err(format!("jwt_alg {other:?} is not supported")),
        };
        Ok(ExternalSso {
            url,
            forced,
            alg,
            key,
            max_token_age,
            allow_idp_initiated: false,
        })
    }

    /// Where to send someone: the external URL with `return_to` and the
    /// started sign-in's `state` added (the page hands both back).
    pub fn redirect_url(&self, return_to: &str, state: &str) -> String {
        let mut u = self.url.clone();
        u.query_pairs_mut()
            .append_pair("return_to", return_to)
            .append_pair("state", state);
        u.to_string()
    }

    /// Verifies a hand-back token for `tenant` at `now`: the login, not
    /// yet claimed (its `jti`; a replayed token is refused at the claim).
    pub fn verify(&self, tenant: &str, token: &str, now: u64) -> Result<UnclaimedLogin, Refused> {
        if token.len() > 16 * 1024 {
            return Err(Refused::Malformed);
        }
        // `Validation::new` pins the one algorithm: a token whose header names
        // another (`none`, HS256 keyed with a public key, …) is refused before
        // any key is used.
        let mut v = Validation::new(self.alg);
        // Time is checked below against the clock we were given.
        v.validate_exp = false;
        v.validate_nbf = false;
        v.required_spec_claims.clear();
        v.required_spec_claims.insert("aud".to_string());
        v.set_audience(&[tenant]);
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.key, &v).map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => Refused::BadSignature,
                ErrorKind::InvalidAlgorithm => Refused::WrongAlgorithm,
                ErrorKind::InvalidAudience => Refused::WrongAudience,
                ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) => Refused::MissingClaim,
                _ => Refused::Malformed,
            })?;
        let c = data.claims;
        if c.exp + LEEWAY <= now {
            return Err(Refused::Expired);
        }
        if c.iat > now + LEEWAY || c.nbf.is_some_and(|nbf| nbf > now + LEEWAY) {
            return Err(Refused::IssuedInFuture);
        }
        if now.saturating_sub(c.iat) > self.max_token_age
            || c.exp.saturating_sub(c.iat) > self.max_token_age
        {
            return Err(Refused::TooLongLived);
        }
        if c.jti.is_empty() || c.jti.len() > 256 {
            return Err(Refused::MissingClaim);
        }
        let email = normalize_email(&c.email).ok_or(Refused::BadEmail)?;
        let name = c.name.as_deref().and_then(clean_display_name);
        // Remember the jti until the token could no longer pass the checks above.
        let once = OnceId::new(
            "jwt",
            tenant,
            &c.jti,
            Duration::from_secs(c.exp.saturating_sub(now) + 2 * LEEWAY),
        );
        Ok(UnclaimedLogin::new(
            tenant,
            email,
            name,
            AuthMethod::Jwt,
            once,
        ))
    }
}

/// A fresh, unguessable `state` (256 random bits, URL-safe); `None` when
/// the system has no randomness to give (the sign-in is then not started).
pub fn random_state() -> Option<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Parses `HS256`, `RS256`, `ES256`, `EdDSA`… as configured in `jwt_alg`.
pub fn parse_alg(raw: &str) -> Result<Algorithm, String> {
    raw.parse::<Algorithm>()
        .map_err(|_| format!("`{raw}` is not a JWT algorithm (HS256, RS256, ES256, EdDSA, …)"))
}
