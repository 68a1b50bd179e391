//! Server-side request forgery through a SAML response: a `ds:Reference`
//! (or a `KeyInfo` `RetrievalMethod`, or a stylesheet) that names
//! `http://…` or `file:…` would make the verifier fetch it, unauthenticated,
//! before any signature is checked. Portero refuses such a document before
//! xmlsec sees it, and xmlsec itself has no network or file input left.
use crate::common::saml::*;
use crate::common::*;
use base64::Engine;
use portero::auth::saml::{verify, Refusal};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A TCP listener on 127.0.0.1 that counts the connections made to it.
struct Trap {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Trap {
    fn start() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        Trap { port, hits }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/doc.xml", self.port)
    }

    fn hits_after_a_moment(&self) -> usize {
        std::thread::sleep(Duration::from_millis(300));
        self.hits.load(Ordering::SeqCst)
    }
}

/// `xml` with the first `ds:Reference` URI replaced by `uri`.
fn with_reference(xml: &str, uri: &str) -> String {
    let start = xml.find("<ds:Reference URI=\"").unwrap() + "<ds:Reference URI=\"".len();
    let end = start + xml[start..].find('"').unwrap();
    format!("{}{}{}", &xml[..start], uri, &xml[end..])
}

/// `xml` with the first `KeyInfo` replaced by one that points elsewhere.
fn with_retrieval_method(xml: &str, uri: &str) -> String {
    let start = xml.find("<ds:KeyInfo>").unwrap();
    let end = xml.find("</ds:KeyInfo>").unwrap() + "</ds:KeyInfo>".len();
    format!(
        r#"{}<ds:KeyInfo><ds:RetrievalMethod URI="{uri}" Type="http://www.w3.org/2000/09/xmldsig#X509Data"/></ds:KeyInfo>{}"#,
        &xml[..start],
        &xml[end..]
    )
}

#[test]
fn references_outside_the_document_are_refused_and_never_fetched() {
    let trap = Trap::start();
    let key = SigningKey::new();
    let spec = Spec::default();
    let genuine = spec.signed_by(&key);
    for uri in [
        trap.url(),
        format!("http://localhost:{}/", trap.port),
        "file:///etc/passwd".to_string(),
        format!("#xpointer(document('{}'))", trap.url()),
    ] {
        let forged = with_reference(&genuine, &uri);
        assert_eq!(
            verify(&forged, &key.trust(), &spec.expected()),
            Err(Refusal::ForbiddenReference),
            "{uri}"
        );
    }
    let forged = with_retrieval_method(&genuine, &trap.url());
    assert_eq!(
        verify(&forged, &key.trust(), &spec.expected()),
        Err(Refusal::SignatureShape)
    );
    assert_eq!(trap.hits_after_a_moment(), 0);
}

/// Below the pre-check: samael and xmlsec handed a reference to the trap
/// directly. With xmlsec's IO callbacks removed it cannot be opened.
#[test]
fn xmlsec_itself_opens_no_url_once_locked_down() {
    use samael::crypto::{Crypto, CryptoProvider, ReduceMode};
    portero::auth::saml::xmlsec_io::lock_down().unwrap();
    let trap = Trap::start();
    let key = SigningKey::new();
    let genuine = Spec::default().signed_by(&key);
    let forged = with_reference(&genuine, &trap.url());
    let reduced = Crypto::reduce_xml_to_signed(
        &forged,
        &[key.cert_der.clone().into()],
        ReduceMode::ValidateAndMarkNoAncestors,
    );
    assert!(reduced.is_err());
    assert_eq!(
        trap.hits_after_a_moment(),
        0,
        "xmlsec fetched the reference"
    );
}

#[test]
fn a_forged_reference_posted_to_the_acs_fetches_nothing() {
    let trap = Trap::start();
    let key = SigningKey::new();
    let up = Upstream::start();
    let md = idp_metadata(&key, "https://idp.samlco.test/sso");
    let p = Portero::start_with(
        &format!(
            r#"{SERVER_AND_SESSION}
[[tenant]]
name = "samlco"
hosts = ["panel.samlco.test"]
upstream = "{{UPSTREAM}}"
sso_mode = "auto_redirect"
account = "samlco.test"

[tenant.saml]
idp_metadata = "{{DIR}}/idp.xml"
allow_idp_initiated = true
"#
        ),
        &up,
        &[("idp.xml", md.as_str())],
    );
    let origin = "http://panel.samlco.test";
    let n = now();
    let spec = Spec {
        in_response_to: None,
        destination: format!("{origin}/.portero/saml/acs"),
        recipient: format!("{origin}/.portero/saml/acs"),
        audience: format!("{origin}/.portero/saml/metadata"),
        name_id: "ana@samlco.test".into(),
        issued: n,
        not_before: n - 5,
        not_on_or_after: n + 300,
        ..Spec::default()
    };
    let genuine = spec.signed_by(&key);
    for forged in [
        with_reference(&genuine, &trap.url()),
        with_retrieval_method(&genuine, &trap.url()),
    ] {
        let b64 = base64::engine::general_purpose::STANDARD.encode(&forged);
        let r = post_form(
            "panel.samlco.test",
            "/.portero/saml/acs",
            &[("SAMLResponse", &b64)],
        )
        .header("Origin", "https://idp.samlco.test")
        .send(p.port);
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.set_cookie("portero_session").is_none());
    }
    assert_eq!(trap.hits_after_a_moment(), 0);
    let audit = p.audit();
    assert!(audit.contains("forbidden_reference_uri"), "{audit}");
    assert!(audit.contains("signature_shape"), "{audit}");
}
