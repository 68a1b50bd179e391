//! CPU exhaustion before the signature: a forged SAML response whose
//! `ds:Reference` carries an XSLT or XPath transform makes xmlsec run it —
//! as long as its author wants — before it knows the signature is bad. One
//! anonymous POST to the ACS must not cost more than reading the document,
//! nor stall the other requests of the worker that received it; a
//! verification that does run long is refused at its time cap.
use crate::common::saml::*;
use crate::common::*;
use base64::Engine;
use portero::auth::saml::{verify, Refusal};
use std::time::{Duration, Instant};

/// An XSLT stylesheet that calls itself twice per level: 2^depth calls.
fn exponential_xslt(depth: u32) -> String {
    format!(
        r#"<ds:Transforms><ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"><xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"><xsl:template match="/"><xsl:call-template name="f"><xsl:with-param name="n" select="{depth}"/></xsl:call-template></xsl:template><xsl:template name="f"><xsl:param name="n"/><xsl:if test="$n &gt; 0"><xsl:call-template name="f"><xsl:with-param name="n" select="$n - 1"/></xsl:call-template><xsl:call-template name="f"><xsl:with-param name="n" select="$n - 1"/></xsl:call-template></xsl:if></xsl:template></xsl:stylesheet></ds:Transform></ds:Transforms>"#
    )
}

/// An XPath filter evaluated once per node over every node.
const XPATH_OVER_EVERYTHING: &str = r#"<ds:Transforms><ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>count(//. | //@* | //namespace::*) &gt; count(//*//*//*)</ds:XPath></ds:Transform></ds:Transforms>"#;

/// `xml` (a signed response) with the response signature's transforms
/// replaced: the signature no longer verifies, which is the point — the
/// work would be done before that is known.
fn with_transforms(xml: &str, transforms: &str) -> String {
    let start = xml.find("<ds:Transforms>").unwrap();
    let end = xml.find("</ds:Transforms>").unwrap() + "</ds:Transforms>".len();
    format!("{}{}{}", &xml[..start], transforms, &xml[end..])
}

#[test]
fn xslt_and_xpath_transforms_are_refused_before_xmlsec_runs_them() {
    let key = SigningKey::new();
    let spec = Spec::default();
    let genuine = spec.signed_by(&key);
    for transforms in [exponential_xslt(22), XPATH_OVER_EVERYTHING.to_string()] {
        let forged = with_transforms(&genuine, &transforms);
        // The precheck's own refusal: xmlsec (which would run the
        // transform, exponentially for the XSLT) was never asked. No timing
        // here: a loaded machine would make it flaky, and the refusal's
        // kind already says who refused.
        let got = verify(&forged, &key.trust(), &spec.expected());
        assert_eq!(got, Err(Refusal::ForbiddenTransform));
    }
}

#[test]
fn responses_over_the_size_limits_are_refused_before_any_signature_work() {
    let key = SigningKey::new();
    let spec = Spec {
        attributes: (0..5000)
            .map(|i| (format!("a{i}"), "v".to_string()))
            .collect(),
        ..Spec::default()
    };
    // Unsigned: the limits apply before a signature is looked at.
    let xml = spec.response_around(&spec.assertion(), "");
    assert_eq!(
        verify(&xml, &key.trust(), &spec.expected()),
        Err(Refusal::TooComplex)
    );
}

const HOST: &str = "panel.samlco.test";
const ORIGIN: &str = "http://panel.samlco.test";

/// A tenant on SAML with a bypass path, `server_extra` added to `[server]`.
fn config(server_extra: &str) -> String {
    let server = SERVER_AND_SESSION.replace(
        "grace_period = \"1s\"",
        &format!("grace_period = \"1s\"\n{server_extra}"),
    );
    format!(
        r#"{server}
[[tenant]]
name = "samlco"
hosts = ["panel.samlco.test"]
upstream = "{{UPSTREAM}}"
sso_mode = "auto_redirect"
bypass_paths = ["/static/"]
account = "samlco.test"

[[tenant.member]]
user = "ana@samlco.test"
account = "samlco.test"
permissions = ["technical"]

[tenant.saml]
idp_metadata = "{{DIR}}/idp.xml"
allow_idp_initiated = true
"#
    )
}

/// An unsolicited response for `ana@samlco.test` to this ACS, signed by `key`.
fn answer(key: &SigningKey) -> String {
    let n = now();
    let spec = Spec {
        in_response_to: None,
        destination: format!("{ORIGIN}/.portero/saml/acs"),
        recipient: format!("{ORIGIN}/.portero/saml/acs"),
        audience: format!("{ORIGIN}/.portero/saml/metadata"),
        name_id: "ana@samlco.test".into(),
        issued: n,
        not_before: n - 5,
        not_on_or_after: n + 300,
        ..Spec::default()
    };
    spec.signed_by(key)
}

fn post_acs(port: u16, xml: &str) -> Resp {
    let response = base64::engine::general_purpose::STANDARD.encode(xml);
    post_form(HOST, "/.portero/saml/acs", &[("SAMLResponse", &response)])
        .header("Origin", "https://idp.samlco.test")
        .send(port)
}

/// While `posts` run on other threads, requests to a bypass path on the
/// same (single) worker are answered promptly; returns the slowest.
fn slowest_bypass_while(
    p: &Portero,
    posts: Vec<std::thread::JoinHandle<Resp>>,
) -> (Duration, Vec<Resp>) {
    let mut slowest = Duration::ZERO;
    let deadline = Instant::now() + Duration::from_secs(20);
    while posts.iter().any(|h| !h.is_finished()) && Instant::now() < deadline {
        let started = Instant::now();
        let r = p.send(get(HOST, "/static/app.css"));
        assert_eq!(r.status, 200, "{}", r.body);
        slowest = slowest.max(started.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    (
        slowest,
        posts.into_iter().map(|h| h.join().unwrap()).collect(),
    )
}

fn metrics(p: &Portero) -> String {
    get("127.0.0.1", "/metrics").send(p.admin).body
}

#[test]
fn forged_transforms_posted_to_the_acs_cost_nothing_and_stall_nobody() {
    let key = SigningKey::new();
    let up = Upstream::start();
    let md = idp_metadata(&key, "https://idp.samlco.test/sso");
    let p = Portero::start_with(&config(""), &up, &[("idp.xml", md.as_str())]);
    let forged = with_transforms(&answer(&key), &exponential_xslt(24));
    let port = p.port;
    let posts = (0..4)
        .map(|_| {
            let forged = forged.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let r = post_acs(port, &forged);
                assert!(
                    started.elapsed() < Duration::from_secs(1),
                    "{:?}",
                    started.elapsed()
                );
                r
            })
        })
        .collect();
    let (slowest, answers) = slowest_bypass_while(&p, posts);
    assert!(
        slowest < Duration::from_millis(500),
        "a bypass request took {slowest:?}"
    );
    for r in answers {
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.set_cookie("portero_session").is_none());
    }
    assert!(p.audit().contains("forbidden_transform"), "{}", p.audit());
    assert!(
        metrics(&p).contains(
            r#"portero_refusals_total{kind="saml_response",reason="forbidden_transform"} 4"#
        ),
        "{}",
        metrics(&p)
    );
    // A genuine response still signs in.
    let r = post_acs(p.port, &answer(&key));
    assert_eq!(r.status, 302, "{}", r.body);
}

/// IdP metadata listing `decoys` certificates before the one that signs:
/// the verifier tries each in turn, so a genuine response takes a while.
fn metadata_with_decoys(key: &SigningKey, decoys: usize) -> String {
    let decoy = SigningKey::new();
    let enc = |der: &[u8]| base64::engine::general_purpose::STANDARD.encode(der);
    let descriptor = |der: &[u8]| {
        format!(
            r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
            enc(der)
        )
    };
    let mut keys = descriptor(&decoy.cert_der).repeat(decoys);
    keys.push_str(&descriptor(&key.cert_der));
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP_ENTITY}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.samlco.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}

#[test]
fn a_verification_past_its_cap_is_refused_off_the_worker() {
    let key = SigningKey::new();
    let md = metadata_with_decoys(&key, 400);
    // How long one verification takes here, measured in this process.
    let sp = portero::auth::saml::SamlSp::from_metadata(&md, Default::default(), true).unwrap();
    let genuine = base64::engine::general_purpose::STANDARD.encode(answer(&key));
    let verify_once = || sp.accept("samlco", ORIGIN, &genuine, None, now());
    assert!(verify_once().is_ok());
    let started = Instant::now();
    assert!(verify_once().is_ok());
    let one = started.elapsed();
    // A cap well under that: the verification cannot finish within it.
    let cap_ms = (one.as_millis() / 4).clamp(10, 500);
    let up = Upstream::start();
    let p = Portero::start_with(
        &config(&format!("saml_verify_timeout = \"{cap_ms}ms\"")),
        &up,
        &[("idp.xml", md.as_str())],
    );
    let port = p.port;
    let xml = answer(&key);
    let posts = (0..3)
        .map(|_| {
            let xml = xml.clone();
            std::thread::spawn(move || post_acs(port, &xml))
        })
        .collect();
    let (slowest, answers) = slowest_bypass_while(&p, posts);
    assert!(
        slowest < Duration::from_millis(300).max(one / 2),
        "a bypass request took {slowest:?} while verifications took {one:?} each"
    );
    for r in answers {
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(r.body.contains("Too many sign-ins"), "{}", r.body);
        assert!(r.set_cookie("portero_session").is_none());
    }
    let m = metrics(&p);
    assert!(m.contains(r#"reason="verification_timeout"}"#), "{m}");
}
