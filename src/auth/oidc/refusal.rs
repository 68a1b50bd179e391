//! Why an OpenID Connect sign-in was refused: the one list both the
//! relying party and the ID token check answer with.

/// Why an OpenID Connect sign-in was refused; [`Refusal::as_str`] is the
/// audit reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No discovery document has been fetched yet.
    NoDiscovery,
    /// The token endpoint did not give an ID token.
    TokenExchange,
    /// The key set could not be fetched.
    KeysUnavailable,
    /// Not a JWT, `alg: none`, or an unknown algorithm.
    Malformed,
    /// No key in the issuer's set has this `kid`.
    UnknownKey,
    /// The header's `alg` is not what the key is for.
    WrongAlgorithm,
    /// The signature does not verify.
    BadSignature,
    /// `iss` is not the configured issuer.
    WrongIssuer,
    /// `aud` does not name this client, or `azp` names another.
    WrongAudience,
    /// At or after `exp`.
    Expired,
    /// `iat` in the future.
    IssuedInFuture,
    /// `iat` too long ago.
    Stale,
    /// The `nonce` is not the one sent.
    NonceMismatch,
    /// A required claim is missing.
    MissingClaim,
    /// No usable e-mail, in the ID token or from userinfo.
    NoEmail,
    /// The tenant wants a verified e-mail and this one is not.
    EmailNotVerified,
    /// Userinfo failed, or spoke of another subject.
    Userinfo,
}

impl Refusal {
    /// A stable, short reason for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NoDiscovery => "no_discovery_document",
            Refusal::TokenExchange => "token_exchange_failed",
            Refusal::KeysUnavailable => "keys_unavailable",
            Refusal::Malformed => "malformed",
            Refusal::UnknownKey => "unknown_kid",
            Refusal::WrongAlgorithm => "wrong_algorithm",
            Refusal::BadSignature => "bad_signature",
            Refusal::WrongIssuer => "wrong_issuer",
            Refusal::WrongAudience => "wrong_audience",
            Refusal::Expired => "expired",
            Refusal::IssuedInFuture => "issued_in_future",
            Refusal::Stale => "stale",
            Refusal::NonceMismatch => "nonce_mismatch",
            Refusal::MissingClaim => "missing_claim",
            Refusal::NoEmail => "no_email",
            Refusal::EmailNotVerified => "email_not_verified",
            Refusal::Userinfo => "userinfo_failed",
        }
    }
}
