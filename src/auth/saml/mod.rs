//! SAML 2.0 (CONTRACT §6), built up for issue 4. What is here: verifying a
//! `Response` at the ACS ([`verify`]). Not yet here: metadata loading, the
//! AuthnRequest, the ACS endpoint and SLO; until they are, a tenant's SAML
//! sign-in still answers with the "not available" page.

mod response;

pub use response::{verify, Expected, IdpTrust, Refusal, SamlLogin};
/// Certificates as samael takes them (DER).
pub use samael::crypto::CertificateDer;
