//! Sign-in protocols. Each verifier turns what an identity provider sent
//! into an [`UnclaimedLogin`]; claiming its one-time id
//! ([`UnclaimedLogin::claim`]) is the only way to a [`VerifiedLogin`], and
//! only a `VerifiedLogin` can make a session.

mod email;
pub mod external_jwt;
pub mod oidc;
mod proof;
pub mod saml;

pub use email::{clean_display_name, normalize_email};
pub use proof::{OnceId, Replayed, UnclaimedLogin, VerifiedLogin};

use serde::{Deserialize, Serialize};

/// How a session was made (`X-Portero-Auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthMethod {
    /// SAML 2.0.
    #[serde(rename = "saml")]
    Saml,
    /// OpenID Connect.
    #[serde(rename = "oidc")]
    Oidc,
    /// An external sign-in page's signed JWT.
    #[serde(rename = "jwt")]
    Jwt,
}

impl AuthMethod {
    /// The header value: `saml`, `oidc`, `jwt`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Saml => "saml",
            AuthMethod::Oidc => "oidc",
            AuthMethod::Jwt => "jwt",
        }
    }
}
