//! OpenID Connect relying party (README, "Connecting an OpenID Connect
//! provider"): discovery ([`Discovery`], kept fresh by [`crate::remote`]),
//! the authorization code flow with PKCE S256, `state` and `nonce`
//! ([`OidcRp::start`]), the token exchange and the ID token check ([`OidcRp::finish`], which verifies with
//! [`verify_id_token`] against the issuer's key set), userinfo when the ID
//! token carries no e-mail, and RP-initiated logout.

mod discovery;
mod id_token;
mod refusal;
mod rp;

pub use discovery::Discovery;
pub use id_token::{verify_id_token, IdTokenCheck};
pub use refusal::Refusal;
pub use rp::{ClaimNames, ClientAuth, OidcRp, Pending};
