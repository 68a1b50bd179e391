//! SAML 2.0 service provider (README, "Connecting a SAML identity
//! provider"): the IdP from its metadata, the AuthnRequest by HTTP-Redirect, the ACS ([`SamlSp::accept`], which
//! verifies with [`verify`] after [`precheck`], on a [`VerifyPool`]), this SP's metadata, signed requests and
//! single logout. The IdP's metadata comes from a file or from a URL
//! (kept fresh by [`crate::remote`]).

pub mod pool;
pub mod precheck;
mod response;
mod sp;
pub mod trace;
pub mod xmlsec_io;

pub use pool::VerifyPool;
pub use response::{verify, Expected, IdpTrust, Refusal, SamlLogin, TrustError};
/// Certificates as samael takes them (DER).
pub use samael::crypto::CertificateDer;
pub use sp::{
    acs_url, entity_id, inflate, Answering, AttributeNames, IdpMetadata, IdpSource, MetadataError,
    Pending, SamlSp, SpEntityId, SpSigning,
};
