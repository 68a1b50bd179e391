//! Who the panel is told this is: permissions, the identity headers and
//! the signed assertion (docs/headers.md). What a membership is lives
//! in [`crate::membership`].

mod assertion;
mod headers;
mod permissions;
mod presets;
mod signed;

pub use assertion::{generate_ed25519_pem, AssertionClaims, AssertionSigner};
pub use headers::{
    forwarded_chain, strip_own_cookies, HeaderEdit, HeaderNames, Identity, DEFAULT_NAMES,
};
pub use permissions::{Permission, Permissions};
pub use presets::Preset;
pub use signed::{IdentityHeaders, SignedFor, SignedIdentities};
