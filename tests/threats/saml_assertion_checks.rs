//! Every semantic check of a signed SAML response (README, SAML step 3), each with a
//! real response signed by `xmlsec1` that differs from a good one in that
//! one respect; plus NameID comment/CDATA injection, which survives
//! exclusive canonicalisation and so keeps the signature valid.
use crate::common::saml::*;
use portero::auth::saml::{verify, Expected, Refusal};

fn check(spec: &Spec, expected: Expected<'_>) -> Result<String, Refusal> {
    let key = SigningKey::new();
    verify(&spec.signed_by(&key), &key.trust(), &expected).map(|l| l.name_id)
}

fn refused(spec: Spec, expected: Option<Expected<'_>>) -> Refusal {
    let e = expected.unwrap_or_else(|| spec.expected());
    check(&spec, e).expect_err("accepted")
}

#[test]
fn wrong_audience() {
    let r = refused(
        Spec {
            audience: "https://other-sp.test/metadata".into(),
            ..Spec::default()
        },
        None,
    );
    assert_eq!(r, Refusal::Audience);
}

#[test]
fn wrong_destination() {
    let r = refused(
        Spec {
            destination: "https://evil.test/acs".into(),
            ..Spec::default()
        },
        None,
    );
    assert_eq!(r, Refusal::Destination);
}

#[test]
fn wrong_recipient() {
    let r = refused(
        Spec {
            recipient: "https://evil.test/acs".into(),
            sign_response: false,
            ..Spec::default()
        },
        None,
    );
    assert_eq!(r, Refusal::Confirmation);
}

#[test]
fn wrong_issuer() {
    let r = refused(
        Spec {
            issuer: "https://evil-idp.test".into(),
            ..Spec::default()
        },
        None,
    );
    assert_eq!(r, Refusal::Issuer);
}

#[test]
fn status_not_success() {
    let r = refused(
        Spec {
            status: "urn:oasis:names:tc:SAML:2.0:status:Responder".into(),
            ..Spec::default()
        },
        None,
    );
    assert_eq!(r, Refusal::Status);
}

#[test]
fn expired_assertion() {
    let spec = Spec::default();
    let mut e = spec.expected();
    e.now = spec.not_on_or_after + e.skew;
    assert_eq!(refused(spec, Some(e)), Refusal::OutOfTime);
}

#[test]
fn not_yet_valid_assertion() {
    let spec = Spec::default();
    let mut e = spec.expected();
    e.now = spec.not_before - e.skew - 1;
    assert_eq!(refused(spec, Some(e)), Refusal::OutOfTime);
}

#[test]
fn stale_issue_instant() {
    let spec = Spec {
        not_on_or_after: T0 + 3600,
        ..Spec::default()
    };
    let mut e = spec.expected();
    e.now = T0 + e.max_age + e.skew + 1;
    assert_eq!(refused(spec, Some(e)), Refusal::OutOfTime);
}

#[test]
fn time_checks_use_the_given_clock_and_skew() {
    let spec = Spec::default();
    let mut e = spec.expected();
    e.now = spec.not_on_or_after + e.skew - 1;
    assert!(check(&spec, e).is_ok(), "inside the skew must pass");
}

#[test]
fn unknown_in_response_to() {
    let spec = Spec::default();
    let mut e = spec.expected();
    e.request_id = Some("_another_request");
    assert_eq!(refused(spec, Some(e)), Refusal::InResponseTo);
}

#[test]
fn idp_initiated_only_when_the_tenant_allows_it() {
    let spec = Spec {
        in_response_to: None,
        ..Spec::default()
    };
    let mut e = spec.expected();
    e.request_id = None;
    assert_eq!(refused(spec.clone(), Some(e)), Refusal::InResponseTo);
    e.allow_idp_initiated = true;
    assert_eq!(check(&spec, e).unwrap(), "ana@latincloud.test");
}

#[test]
fn an_answer_to_some_request_is_not_idp_initiated() {
    // A response to a request this browser did not start, replayed into a
    // tenant that allows IdP-initiated sign-in, is still refused.
    let spec = Spec::default();
    let mut e = spec.expected();
    e.request_id = None;
    e.allow_idp_initiated = true;
    assert_eq!(refused(spec, Some(e)), Refusal::InResponseTo);
}

#[test]
fn name_id_must_be_the_user_the_flow_began_with() {
    let spec = Spec::default();
    let mut e = spec.expected();
    e.login_hint = Some("boss@latincloud.test");
    assert_eq!(refused(spec.clone(), Some(e)), Refusal::NotTheHintedUser);
    e.login_hint = Some("Ana@LatinCloud.test");
    assert!(check(&spec, e).is_ok());
}

/// The IdP signed `ana@latincloud.test.evil.test` (a user the attacker may
/// register); a comment or an empty CDATA section inserted after signing
/// leaves exclusive-c14n output, and so the signature, unchanged, while a
/// naive parser would read the NameID as `ana@latincloud.test`.
#[test]
fn comment_or_cdata_splitting_the_name_id_is_refused() {
    let key = SigningKey::new();
    let spec = Spec {
        name_id: "ana@latincloud.test.evil.test".into(),
        ..Spec::default()
    };
    let signed = spec.signed_by(&key);
    assert_eq!(
        verify(&signed, &key.trust(), &spec.expected())
            .unwrap()
            .name_id,
        "ana@latincloud.test.evil.test"
    );
    for splitter in ["<!---->", "<!-- x -->", "<![CDATA[]]>"] {
        let xml = signed.replacen(
            "ana@latincloud.test.evil.test",
            &format!("ana@latincloud.test{splitter}.evil.test"),
            1,
        );
        assert_ne!(xml, signed);
        assert_eq!(
            verify(&xml, &key.trust(), &spec.expected()),
            Err(Refusal::NameIdNotPlainText),
            "{splitter}"
        );
    }
}
