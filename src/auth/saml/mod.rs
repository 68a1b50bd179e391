//! SAML 2.0 service provider (CONTRACT §3, §6): the IdP from its metadata,
//! the AuthnRequest by HTTP-Redirect, the ACS ([`SamlSp::accept`], which
//! verifies with [`verify`]) and this SP's metadata. Not yet here: metadata
//! from an https URL, single logout, signed AuthnRequests.

mod response;
mod sp;

pub use response::{verify, Expected, IdpTrust, Refusal, SamlLogin};
/// Certificates as samael takes them (DER).
pub use samael::crypto::CertificateDer;
pub use sp::{acs_url, entity_id, AttributeNames, MetadataError, Pending, SamlSp, SpSigning};
