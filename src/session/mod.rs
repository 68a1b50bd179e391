//! Sessions: sealed cookies that say who signed in, for which tenant, when.
//!
//! Only a [`VerifiedLogin`](crate::auth::VerifiedLogin) makes a session
//! ([`SessionClaims::issue`]); every request checks the cookie against the
//! tenant, the re-authentication period and the tenant's "force
//! re-authentication now" mark ([`Revocations`]) and the sessions ended
//! early, by logout or by an administrator ([`EndedSessions`]).

mod claims;
mod ended;
mod opened;
mod revocation;
mod seal;

pub use claims::{
    classic_cookie, clear_cookie, find_cookie_values, own_cookie_values, session_cookie,
    session_life, ClassicClaims, OneCookie, Refusal, SessionClaims, HOST_PREFIX, MAX_SESSION_LIFE,
};
pub use ended::{append_line, EndedSessions, Ending, CAPACITY};
pub use opened::{OpenedCookies, OPENED_CAPACITY};
pub use revocation::Revocations;
pub use seal::{generate_key, BadKey, Sealer};
