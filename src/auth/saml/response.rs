//! Verifying a SAML `Response` at the ACS (README, "Connecting a SAML
//! identity provider", step 3): the XML signature by samael/xmlsec,
//! everything else here, against an injected clock.
//!
//! The order matters. The raw document is first checked for shape by
//! [`super::precheck`] (size limits, one assertion, no DTD, a NameID that is
//! plain text, signatures shaped as SAML signs: no transform but
//! enveloped-signature and canonicalisation, no reference but the signed
//! element itself), so nothing costly or outward-reaching runs before a
//! signature is known good. Then xmlsec (with its network and file input
//! removed, [`super::xmlsec_io`]) verifies every signature against the
//! IdP's metadata certificates (loaded into xmlsec keys once per metadata,
//! [`IdpTrust`]) and samael *reduces* the document to the signed content
//! only. Every later check reads that reduced document, never
//! the original: an element the signature does not cover cannot be seen.

use super::precheck;
use chrono::{DateTime, Utc};
use quick_xml::events::Event as XmlEvent;
use quick_xml::Reader;
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, ReduceMode, XmlSecVerificationKeys,
};
use samael::schema::{Assertion, Response};
use std::sync::Arc;

const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// The signature algorithms accepted (no SHA-1, no DSA).
const ALGORITHMS: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// What Portero trusts of one IdP: its entity ID and its signing
/// certificates (several during a rollover; any may sign), loaded into
/// xmlsec keys once, when the trust is made (once per metadata read or
/// fetch), and shared by every verification until the metadata is replaced;
/// the last clone dropped frees them. Never empty: [`IdpTrust::new`] refuses
/// an IdP without certificates, because samael would then skip signature
/// verification altogether.
#[derive(Debug, Clone)]
pub struct IdpTrust {
    entity_id: String,
    keys: Arc<XmlSecVerificationKeys>,
}

/// Why an IdP's certificates cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// No certificate to verify with.
    #[error("the metadata holds no signing certificate, so no response could be verified")]
    NoCertificate,
    /// xmlsec cannot be initialised, or cannot load a certificate's key.
    #[error("a signing certificate cannot be loaded into xmlsec: {0}")]
    Unloadable(String),
}

impl IdpTrust {
    /// Loads `certs` into xmlsec keys. Refused when there is none, or when
    /// any cannot be loaded (which would otherwise fail every response).
    pub fn new(entity_id: String, certs: Vec<CertificateDer>) -> Result<IdpTrust, TrustError> {
        if certs.is_empty() {
            return Err(TrustError::NoCertificate);
        }
        // xmlsec loses its network and file input before it is used at all.
        super::xmlsec_io::lock_down().map_err(TrustError::Unloadable)?;
        let keys = XmlSecVerificationKeys::from_certificates(&certs).map_err(|e| {
            let mut reason = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                reason = format!("{reason}: {s}");
                source = s.source();
            }
            TrustError::Unloadable(reason)
        })?;
        Ok(IdpTrust {
            entity_id,
            keys: Arc::new(keys),
        })
    }

    /// The IdP's entity ID.
    pub fn entity_id(&self) -> &str {
        &self.entity_id
    }
}

/// What this response must match.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// This SP's entity ID (the audience).
    pub sp_entity_id: &'a str,
    /// This SP's ACS URL (`Destination` and `Recipient`).
    pub acs_url: &'a str,
    /// The ID of the AuthnRequest this browser started; `None` for IdP-initiated.
    pub request_id: Option<&'a str>,
    /// Whether a response to no request is acceptable (tenant option).
    pub allow_idp_initiated: bool,
    /// The e-mail the flow began with, which the NameID must equal.
    pub login_hint: Option<&'a str>,
    /// Now, in Unix seconds (the clock is an input).
    pub now: u64,
    /// Clock skew tolerated on every time check, in seconds.
    pub skew: u64,
    /// How old an assertion's `IssueInstant` may be, in seconds.
    pub max_age: u64,
}

/// A verified assertion: what a session is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlLogin {
    /// The NameID (an e-mail with the `emailAddress` format).
    pub name_id: String,
    /// The assertion's ID, for the replay guard.
    pub assertion_id: String,
    /// Until when the assertion may be used (Unix seconds): the replay
    /// guard must remember the ID at least this long.
    pub usable_until: u64,
    /// Attributes by name (and friendly name), with their values.
    pub attributes: Vec<(String, Vec<String>)>,
}

impl SamlLogin {
    /// Every value of the attribute `name`.
    pub fn attribute_values(&self, name: &str) -> Vec<String> {
        self.attributes
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.iter().cloned())
            .collect()
    }

    /// The first value of the attribute `name` (matched on Name or FriendlyName).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }
}

/// Why a response was refused; [`Refusal::as_str`] is the audit reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The IdP's metadata (from a URL) has never been fetched: nothing to
    /// verify against.
    NoIdpMetadata,
    /// Not XML, not a SAML Response, or a DTD or processing instruction in it.
    Malformed,
    /// Over the limits on elements, depth or attributes.
    TooComplex,
    /// Two elements with the same ID.
    DuplicateId,
    /// No assertion, more than one, or an encrypted one.
    AssertionCount,
    /// A NameID split by a comment, CDATA or child element.
    NameIdNotPlainText,
    /// A signature not shaped as SAML signs (where it sits, its elements,
    /// how many, its algorithms).
    SignatureShape,
    /// A reference transform other than enveloped-signature and
    /// canonicalisation (XSLT, XPath, …).
    ForbiddenTransform,
    /// A reference URI other than the signed element's own `#ID`.
    ForbiddenReference,
    /// The check did not finish within its time cap.
    VerificationTimeout,
    /// Too many responses are being checked at once.
    VerifierBusy,
    /// xmlsec could not be initialised.
    VerifierUnavailable,
    /// No signature by a metadata certificate over what is used.
    BadSignature,
    /// Status other than Success.
    Status,
    /// `Destination` is not this ACS.
    Destination,
    /// The issuer is not the configured IdP.
    Issuer,
    /// This SP is not in the audience.
    Audience,
    /// No bearer confirmation for this ACS, in time, for this request.
    Confirmation,
    /// `InResponseTo` is not the request this browser started.
    InResponseTo,
    /// Before `NotBefore` or at/after `NotOnOrAfter`, or issued too long ago.
    OutOfTime,
    /// The NameID is not the e-mail the sign-in began with.
    NotTheHintedUser,
    /// No usable e-mail in the NameID or the mapped attribute.
    NoEmail,
}

impl Refusal {
    /// A stable, short reason for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::TooComplex => "too_complex",
            Refusal::DuplicateId => "duplicate_id",
            Refusal::AssertionCount => "assertion_count",
            Refusal::NameIdNotPlainText => "name_id_not_plain_text",
            Refusal::SignatureShape => "signature_shape",
            Refusal::ForbiddenTransform => "forbidden_transform",
            Refusal::ForbiddenReference => "forbidden_reference_uri",
            Refusal::VerificationTimeout => "verification_timeout",
            Refusal::VerifierBusy => "verifier_busy",
            Refusal::VerifierUnavailable => "verifier_unavailable",
            Refusal::BadSignature => "bad_signature",
            Refusal::Status => "status_not_success",
            Refusal::Destination => "wrong_destination",
            Refusal::Issuer => "wrong_issuer",
            Refusal::Audience => "wrong_audience",
            Refusal::Confirmation => "no_valid_bearer_confirmation",
            Refusal::InResponseTo => "unknown_in_response_to",
            Refusal::OutOfTime => "out_of_time",
            Refusal::NotTheHintedUser => "name_id_not_hinted_user",
            Refusal::NoEmail => "no_email",
            Refusal::NoIdpMetadata => "no_idp_metadata",
        }
    }
}

/// Verifies a decoded `SAMLResponse` document. CPU-bound (about a
/// millisecond per signature): call it off the request workers.
pub fn verify(xml: &str, idp: &IdpTrust, expected: &Expected<'_>) -> Result<SamlLogin, Refusal> {
    precheck::check(xml)?;
    super::xmlsec_io::lock_down().map_err(|e| {
        tracing::error!("SAML responses cannot be verified: {e}");
        Refusal::VerifierUnavailable
    })?;
    let reduced = Crypto::reduce_xml_to_signed_with_keys(
        xml,
        &idp.keys,
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(ALGORITHMS),
    )
    .map_err(|_| Refusal::BadSignature)?;
    // Whatever follows reads only what the signatures cover. The root says
    // what was signed (serde would happily read an Assertion as a Response).
    let assertion = match root_element(&reduced).as_deref() {
        Some(b"Response") => {
            let response: Response = reduced.parse().map_err(|_| Refusal::Malformed)?;
            check_response(&response, idp, expected)?;
            response.assertion.ok_or(Refusal::BadSignature)?
        }
        // Only the assertion was signed: the response around it is not trusted.
        Some(b"Assertion") => reduced.parse().map_err(|_| Refusal::Malformed)?,
        _ => return Err(Refusal::BadSignature),
    };
    check_assertion(&assertion, idp, expected)
}

/// The local name of the document's root element.
fn root_element(xml: &str) -> Option<Vec<u8>> {
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            XmlEvent::Start(e) | XmlEvent::Empty(e) => {
                return Some(e.local_name().as_ref().to_vec())
            }
            XmlEvent::Eof => return None,
            _ => {}
        }
    }
}

fn check_response(
    response: &Response,
    idp: &IdpTrust,
    expected: &Expected<'_>,
) -> Result<(), Refusal> {
    if response.destination.as_deref() != Some(expected.acs_url) {
        return Err(Refusal::Destination);
    }
    if let Some(issuer) = &response.issuer {
        if issuer.value.as_deref() != Some(idp.entity_id.as_str()) {
            return Err(Refusal::Issuer);
        }
    }
    let status = response
        .status
        .as_ref()
        .and_then(|s| s.status_code.value.as_deref());
    if status != Some(SUCCESS) {
        return Err(Refusal::Status);
    }
    check_in_response_to(response.in_response_to.as_deref(), expected)?;
    let now = expected.now;
    let issued = unix(&response.issue_instant);
    if issued > now + expected.skew || issued + expected.max_age + expected.skew < now {
        return Err(Refusal::OutOfTime);
    }
    Ok(())
}

fn check_in_response_to(found: Option<&str>, expected: &Expected<'_>) -> Result<(), Refusal> {
    match (found, expected.request_id) {
        (Some(f), Some(e)) if f == e => Ok(()),
        (None, None) if expected.allow_idp_initiated => Ok(()),
        _ => Err(Refusal::InResponseTo),
    }
}

fn check_assertion(
    assertion: &Assertion,
    idp: &IdpTrust,
    expected: &Expected<'_>,
) -> Result<SamlLogin, Refusal> {
    let now = expected.now;
    let skew = expected.skew;
    if assertion.issuer.value.as_deref() != Some(idp.entity_id.as_str()) {
        return Err(Refusal::Issuer);
    }
    let issued = unix(&assertion.issue_instant);
    if issued > now + skew || issued + expected.max_age + skew < now {
        return Err(Refusal::OutOfTime);
    }
    let conditions = assertion.conditions.as_ref().ok_or(Refusal::Audience)?;
    if conditions.not_before.is_some_and(|t| now + skew < unix(&t)) {
        return Err(Refusal::OutOfTime);
    }
    if conditions
        .not_on_or_after
        .is_some_and(|t| now >= unix(&t) + skew)
    {
        return Err(Refusal::OutOfTime);
    }
    let audiences = conditions
        .audience_restrictions
        .as_deref()
        .ok_or(Refusal::Audience)?;
    // Every AudienceRestriction must name this SP (they are ANDed).
    if audiences.is_empty()
        || !audiences
            .iter()
            .all(|r| r.audience.iter().any(|a| a == expected.sp_entity_id))
    {
        return Err(Refusal::Audience);
    }
    let subject = assertion.subject.as_ref().ok_or(Refusal::Confirmation)?;
    let name_id = subject
        .name_id
        .as_ref()
        .map(|n| n.value.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or(Refusal::Confirmation)?;
    let mut confirmed_until = None;
    let mut refusal = Refusal::Confirmation;
    for c in subject.subject_confirmations.iter().flatten() {
        if c.method.as_deref() != Some(BEARER) {
            continue;
        }
        let Some(data) = &c.subject_confirmation_data else {
            continue;
        };
        if data.recipient.as_deref() != Some(expected.acs_url) {
            continue;
        }
        let Some(until) = data.not_on_or_after.as_ref().map(unix) else {
            continue;
        };
        if now >= until + skew || data.not_before.is_some_and(|t| now + skew < unix(&t)) {
            refusal = Refusal::OutOfTime;
            continue;
        }
        if check_in_response_to(data.in_response_to.as_deref(), expected).is_err() {
            refusal = Refusal::InResponseTo;
            continue;
        }
        confirmed_until = Some(until);
        break;
    }
    let until = confirmed_until.ok_or(refusal)?;
    if let Some(hint) = expected.login_hint {
        if !name_id.eq_ignore_ascii_case(hint) {
            return Err(Refusal::NotTheHintedUser);
        }
    }
    let mut attributes = Vec::new();
    for statement in assertion.attribute_statements.iter().flatten() {
        for a in &statement.attributes {
            let values: Vec<String> = a.values.iter().filter_map(|v| v.value.clone()).collect();
            for n in [&a.name, &a.friendly_name].into_iter().flatten() {
                attributes.push((n.clone(), values.clone()));
            }
        }
    }
    let usable_until = conditions
        .not_on_or_after
        .as_ref()
        .map(unix)
        .map_or(until, |c| c.max(until))
        + skew;
    Ok(SamlLogin {
        name_id,
        assertion_id: assertion.id.clone(),
        usable_until,
        attributes,
    })
}

fn unix(t: &DateTime<Utc>) -> u64 {
    u64::try_from(t.timestamp()).unwrap_or(0)
}

/// Signed fixtures made with the `openssl` and `xmlsec1` command lines.
#[cfg(test)]
#[path = "../../../tests/common/saml.rs"]
mod fixtures;

#[cfg(test)]
mod tests {
    use super::fixtures::{idp_metadata, SigningKey, Spec};
    use super::*;
    use crate::auth::saml::IdpMetadata;
    use crate::remote::{Refresh, Remote};
    use samael::crypto::keys_loaded_on_this_thread;

    const SSO: &str = "https://idp.latincloud.test/sso";

    /// Keys xmlsec has parsed on this thread since `since`.
    fn loaded_since(since: u64) -> u64 {
        keys_loaded_on_this_thread() - since
    }

    fn locked() -> u64 {
        assert_eq!(super::super::xmlsec_io::lock_down(), Ok(()));
        keys_loaded_on_this_thread()
    }

    #[test]
    fn keys_are_loaded_once_per_metadata_and_never_per_signature() {
        let key = SigningKey::new();
        let other = SigningKey::new();
        let spec = Spec::default();
        let good = spec.signed_by(&key);
        let foreign = spec.signed_by(&other);
        let start = locked();
        let metadata = IdpMetadata::parse(&idp_metadata(&key, SSO)).unwrap();
        assert_eq!(loaded_since(start), 1, "one certificate, one key");
        for _ in 0..5 {
            // Response and Assertion both signed: two signature checks each.
            assert!(verify(&good, metadata.trust(), &spec.expected()).is_ok());
        }
        // Signed by a key the metadata does not hold: refused, with the
        // same cached key.
        assert_eq!(
            verify(&foreign, metadata.trust(), &spec.expected()),
            Err(Refusal::BadSignature)
        );
        // Also when only the assertion is signed, by the other key.
        let assertion_only = Spec {
            sign_response: false,
            ..Spec::default()
        };
        assert_eq!(
            verify(
                &assertion_only.signed_by(&other),
                metadata.trust(),
                &assertion_only.expected()
            ),
            Err(Refusal::BadSignature)
        );
        assert_eq!(loaded_since(start), 1, "verification loaded no key");
    }

    #[test]
    fn a_metadata_change_replaces_the_keys_and_frees_the_old_ones() {
        let old = SigningKey::new();
        let new = SigningKey::new();
        let spec = Spec::default();
        let by_old = spec.signed_by(&old);
        let by_new = spec.signed_by(&new);
        let remote = Remote::new(
            "https://idp.latincloud.test/metadata",
            "SAML metadata",
            3600,
            |xml| IdpMetadata::parse(xml).map_err(|e| e.to_string()),
        );
        let start = locked();
        remote.offer(&idp_metadata(&old, SSO), 1).unwrap();
        let first = remote.get().unwrap();
        assert!(verify(&by_old, first.trust(), &spec.expected()).is_ok());
        assert_eq!(
            verify(&by_new, first.trust(), &spec.expected()),
            Err(Refusal::BadSignature)
        );
        let old_keys = Arc::downgrade(&first.trust().keys);
        drop(first);
        assert_eq!(loaded_since(start), 1);

        // The IdP rolled its key over: the next fetch brings new metadata.
        remote.offer(&idp_metadata(&new, SSO), 2).unwrap();
        assert_eq!(loaded_since(start), 2, "the new certificate, loaded once");
        assert!(old_keys.upgrade().is_none(), "the old keys were freed");
        let second = remote.get().unwrap();
        assert!(verify(&by_new, second.trust(), &spec.expected()).is_ok());
        assert_eq!(
            verify(&by_old, second.trust(), &spec.expected()),
            Err(Refusal::BadSignature)
        );
        // A fetch that does not parse keeps the keys in force.
        assert!(remote.offer("<not-metadata/>", 3).is_err());
        assert!(Arc::ptr_eq(
            &remote.get().unwrap().trust().keys,
            &second.trust().keys
        ));
        assert_eq!(loaded_since(start), 2);
    }

    #[test]
    fn shared_keys_verify_on_many_threads_at_once() {
        let key = SigningKey::new();
        let other = SigningKey::new();
        let spec = Spec::default();
        let good = spec.signed_by(&key);
        let foreign = spec.signed_by(&other);
        let trust = key.trust();
        let start = locked();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let start = keys_loaded_on_this_thread();
                    for _ in 0..20 {
                        assert!(verify(&good, &trust, &spec.expected()).is_ok());
                        assert_eq!(
                            verify(&foreign, &trust, &spec.expected()),
                            Err(Refusal::BadSignature)
                        );
                    }
                    assert_eq!(loaded_since(start), 0);
                });
            }
        });
        assert_eq!(loaded_since(start), 0);
        assert_eq!(Arc::strong_count(&trust.keys), 1);
    }
}
