//! XML signature wrapping and signature stripping against the ACS verifier:
//! real responses signed by `xmlsec1` with a real RSA key, then edited the
//! way the attacks in "On Breaking SAML" (Somorovsky et al., 2012) edit
//! them. Only the element a valid signature covers may be used.
use crate::common::saml::*;
use portero::auth::saml::{verify, Refusal};

const EVIL: &str = "root@latincloud.test";

fn idp() -> SigningKey {
    SigningKey::new()
}

#[test]
fn genuine_responses_are_accepted_however_they_are_signed() {
    let key = idp();
    for (response, assertion) in [(true, true), (true, false), (false, true)] {
        let spec = Spec {
            sign_response: response,
            sign_assertion: assertion,
            ..Spec::default()
        };
        let xml = spec.signed_by(&key);
        let login = verify(&xml, &key.trust(), &spec.expected())
            .unwrap_or_else(|r| panic!("response {response} assertion {assertion}: {r:?}\n{xml}"));
        assert_eq!(login.name_id, "ana@latincloud.test");
        assert_eq!(login.assertion_id, "_assert1");
        assert_eq!(login.attribute("givenName"), Some("Ana"));
    }
}

#[test]
fn any_certificate_of_a_rollover_may_sign() {
    let old = idp();
    let new = idp();
    let spec = Spec::default();
    let xml = spec.signed_by(&new);
    let both = portero::auth::saml::IdpTrust::new(
        IDP_ENTITY.into(),
        vec![old.cert_der.clone().into(), new.cert_der.clone().into()],
    )
    .unwrap();
    assert!(verify(&xml, &both, &spec.expected()).is_ok());
}

#[test]
fn unsigned_response_is_refused() {
    let key = idp();
    let spec = Spec {
        sign_response: false,
        sign_assertion: false,
        ..Spec::default()
    };
    let xml = spec.signed_by(&key);
    assert_eq!(
        verify(&xml, &key.trust(), &spec.expected()),
        Err(Refusal::BadSignature)
    );
}

#[test]
fn an_idp_without_certificates_cannot_be_trusted() {
    assert_eq!(
        portero::auth::saml::IdpTrust::new(IDP_ENTITY.into(), vec![]).err(),
        Some(portero::auth::saml::TrustError::NoCertificate)
    );
    // Nor one whose certificate xmlsec cannot load.
    assert!(matches!(
        portero::auth::saml::IdpTrust::new(IDP_ENTITY.into(), vec![b"not DER".to_vec().into()]),
        Err(portero::auth::saml::TrustError::Unloadable(_))
    ));
}

#[test]
fn response_signed_by_another_key_is_refused() {
    let key = idp();
    let stranger = idp();
    let spec = Spec::default();
    let xml = spec.signed_by(&stranger);
    assert_eq!(
        verify(&xml, &key.trust(), &spec.expected()),
        Err(Refusal::BadSignature)
    );
}

#[test]
fn editing_a_signed_response_breaks_it() {
    let key = idp();
    for (response, assertion) in [(true, true), (true, false), (false, true)] {
        let spec = Spec {
            sign_response: response,
            sign_assertion: assertion,
            ..Spec::default()
        };
        let xml = spec.signed_by(&key).replace("ana@latincloud.test", EVIL);
        assert_eq!(
            verify(&xml, &key.trust(), &spec.expected()),
            Err(Refusal::BadSignature),
            "response {response} assertion {assertion}"
        );
    }
}

/// A valid signature over something else (a signed `Extensions` element)
/// next to an unsigned assertion: the assertion must not be used. The
/// pre-check refuses it (a SAML signature sits only in the Response or the
/// Assertion); behind it, the reduction to signed content would too.
#[test]
fn signature_over_another_element_does_not_cover_the_assertion() {
    let key = idp();
    let spec = Spec {
        sign_response: false,
        sign_assertion: false,
        name_id: EVIL.into(),
        ..Spec::default()
    };
    let extensions = format!(
        r#"<samlp:Extensions xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_ext1">{}<x:Note xmlns:x="urn:example">signed</x:Note></samlp:Extensions>"#,
        signature_template("_ext1")
    );
    let signed_ext = strip_decl(&key.sign(&format!(r#"<?xml version="1.0"?>{extensions}"#)));
    let xml = spec.response_around(&spec.assertion(), &signed_ext);
    assert_eq!(
        verify(&xml, &key.trust(), &spec.expected()),
        Err(Refusal::SignatureShape)
    );
}

/// XSW1/XSW2: the signed response is kept (inside the signature, or next to
/// it) while an unsigned response around it carries the attacker's assertion.
#[test]
fn xsw1_and_xsw2_wrapped_response_is_refused() {
    let key = idp();
    let good = Spec {
        sign_assertion: false,
        ..Spec::default()
    };
    let signed = good.signed_by(&key);
    let evil = Spec {
        response_id: "_evilresp".into(),
        assertion_id: "_evil".into(),
        name_id: EVIL.into(),
        sign_response: false,
        sign_assertion: false,
        ..Spec::default()
    };
    // XSW1: original response inside an Object of the copied signature.
    let sig_start = signed.find("<ds:Signature").unwrap();
    let sig_end = signed.find("</ds:Signature>").unwrap();
    let signature = &signed[sig_start..sig_end];
    let xsw1 = evil.response_around(
        &evil.assertion(),
        &format!("{signature}<ds:Object>{signed}</ds:Object></ds:Signature>"),
    );
    // XSW2: original response as a sibling before the evil content.
    let xsw2 = evil.response_around(
        &evil.assertion(),
        &format!("{signature}</ds:Signature>{signed}"),
    );
    for (name, xml) in [("XSW1", xsw1), ("XSW2", xsw2)] {
        assert!(
            verify(&xml, &key.trust(), &good.expected()).is_err(),
            "{name} accepted"
        );
    }
}

/// XSW3–XSW8: the signed assertion stays somewhere in the document (before,
/// inside, after, in an Object or Extensions) next to an evil assertion.
#[test]
fn xsw3_to_xsw8_wrapped_assertion_is_refused() {
    let key = idp();
    let good = Spec {
        sign_response: false,
        ..Spec::default()
    };
    let signed_assertion =
        strip_decl(&key.sign(&format!(r#"<?xml version="1.0"?>{}"#, good.assertion())));
    let evil = Spec {
        assertion_id: "_evil".into(),
        name_id: EVIL.into(),
        sign_response: false,
        sign_assertion: false,
        ..Spec::default()
    };
    let evil_assertion = evil.assertion();
    let open_evil = evil_assertion
        .strip_suffix("</saml:Assertion>")
        .unwrap()
        .to_string();
    let sig_start = signed_assertion.find("<ds:Signature").unwrap();
    let sig_end = signed_assertion.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let signature = &signed_assertion[sig_start..sig_end];
    let sig_open = &signed_assertion[sig_start..sig_end - "</ds:Signature>".len()];
    let issuer_end = open_evil.find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
    let cases = [
        // XSW3: evil assertion first, signed one after.
        ("XSW3", format!("{evil_assertion}{signed_assertion}")),
        // XSW4: signed assertion inside the evil one.
        (
            "XSW4",
            format!("{open_evil}{signed_assertion}</saml:Assertion>"),
        ),
        // XSW5: evil assertion carries the copied signature; the signed one appended.
        (
            "XSW5",
            format!(
                "{}{signature}{}{signed_assertion}",
                &open_evil[..issuer_end],
                &evil_assertion[issuer_end..]
            ),
        ),
        // XSW6: the signed assertion inside the copied signature's Object, in the evil one.
        (
            "XSW6",
            format!(
                "{}{sig_open}<ds:Object>{signed_assertion}</ds:Object></ds:Signature>{}",
                &open_evil[..issuer_end],
                &evil_assertion[issuer_end..]
            ),
        ),
        // XSW7: the signed assertion hidden in Extensions, the evil one used.
        (
            "XSW7",
            format!("<samlp:Extensions>{signed_assertion}</samlp:Extensions>{evil_assertion}"),
        ),
        // XSW8: the evil assertion's signature holds the original in an Object.
        (
            "XSW8",
            format!(
                "{}{sig_open}<ds:Object>{signed_assertion}</ds:Object></ds:Signature>{}",
                &open_evil[..issuer_end],
                &evil_assertion[issuer_end..]
            ),
        ),
    ];
    for (name, body) in cases {
        let xml = evil.response_around(&body, "");
        let verdict = verify(&xml, &key.trust(), &good.expected());
        assert!(verdict.is_err(), "{name} accepted: {verdict:?}");
    }
}

#[test]
fn a_second_assertion_is_refused_even_when_both_are_signed() {
    let key = idp();
    let one = Spec {
        sign_response: false,
        ..Spec::default()
    };
    let two = Spec {
        assertion_id: "_assert2".into(),
        name_id: EVIL.into(),
        sign_response: false,
        ..Spec::default()
    };
    let a1 = strip_decl(&key.sign(&format!(r#"<?xml version="1.0"?>{}"#, one.assertion())));
    let a2 = strip_decl(&key.sign(&format!(r#"<?xml version="1.0"?>{}"#, two.assertion())));
    let xml = one.response_around(&format!("{a1}{a2}"), "");
    assert_eq!(
        verify(&xml, &key.trust(), &one.expected()),
        Err(Refusal::AssertionCount)
    );
}

#[test]
fn a_dtd_is_refused_before_any_parsing_of_entities() {
    let key = idp();
    let spec = Spec::default();
    let xml = format!(
        "<!DOCTYPE r [<!ENTITY x \"ana@latincloud.test\">]>{}",
        spec.signed_by(&key)
    );
    assert_eq!(
        verify(&xml, &key.trust(), &spec.expected()),
        Err(Refusal::Malformed)
    );
}
