//! The SAML sign-in end to end through the real binary: panel request →
//! redirect with an AuthnRequest → a response signed by `xmlsec1` posted to
//! the ACS → session → the panel receives the identity headers. And what
//! must not work: replaying the response, posting it from a browser that did
//! not start the sign-in, replaying an unsolicited assertion, unknown
//! RelayState.
use crate::common::saml::*;
use crate::common::*;
use base64::Engine;
use std::io::Read;

const HOST: &str = "panel.samlco.test";
const ORIGIN: &str = "http://panel.samlco.test";

fn metadata(key: &SigningKey) -> String {
    idp_metadata(key, "https://idp.samlco.test/sso")
}

const TENANTS: &str = r#"
[[tenant]]
name = "samlco"
hosts = ["panel.samlco.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
super_admins = ["root@samlco.test"]
admin_paths = ["/admin"]
bypass_paths = ["/static/"]
account = "samlco.test"

[[tenant.member]]
user = "ana@samlco.test"
account = "samlco.test"
permissions = ["technical"]

[tenant.saml]
idp_metadata = "{DIR}/idp.xml"
[tenant.saml.attributes]
first_name = "givenName"

[[tenant]]
name = "unsolicited"
hosts = ["panel.unsolicited.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
account = "unsolicited.test"

[[tenant.member]]
user = "ana@samlco.test"
account = "unsolicited.test"
permissions = ["admin"]

[tenant.saml]
idp_metadata = "{DIR}/idp.xml"
allow_idp_initiated = true

[[tenant]]
name = "issuerco"
hosts = ["panel.issuerco.test", "admin.issuerco.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
account = "issuerco.test"

[[tenant.member]]
user = "ana@samlco.test"
account = "issuerco.test"
permissions = ["technical"]

[tenant.saml]
idp_metadata = "{DIR}/idp.xml"
allow_idp_initiated = true
tenant_specific_issuer = true
"#;

fn start(key: &SigningKey) -> (Upstream, Portero) {
    let up = Upstream::start();
    let md = metadata(key);
    let p = Portero::start_with(
        &format!("{SERVER_AND_SESSION}\n{TENANTS}"),
        &up,
        &[("idp.xml", md.as_str())],
    );
    (up, p)
}

/// Follows the redirect to the IdP and returns (request ID, flow cookie, decoded AuthnRequest).
fn begin(p: &Portero) -> (String, String, String) {
    let r = p.send(get(HOST, "/domains?page=2").html());
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.location().to_string();
    assert!(
        location.starts_with("https://idp.samlco.test/sso?"),
        "{location}"
    );
    let q = query_map(&location);
    let relay = q["RelayState"].clone();
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(&q["SAMLRequest"])
        .unwrap();
    let mut request = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut request)
        .unwrap();
    assert!(request.contains(&format!(r#"ID="{relay}""#)), "{request}");
    let cookie = r.set_cookie("portero_saml").expect("flow cookie");
    assert_eq!(cookie, relay);
    (relay, cookie, request)
}

fn answer(key: &SigningKey, request_id: Option<&str>, origin: &str) -> String {
    answer_with_id(key, request_id, origin, "_assert1")
}

fn answer_with_id(key: &SigningKey, request_id: Option<&str>, origin: &str, id: &str) -> String {
    let audience = format!("{origin}/.portero/saml/metadata");
    answer_to(key, request_id, origin, &audience, id)
}

fn answer_to(
    key: &SigningKey,
    request_id: Option<&str>,
    origin: &str,
    audience: &str,
    id: &str,
) -> String {
    let n = now();
    let spec = Spec {
        assertion_id: id.to_string(),
        in_response_to: request_id.map(str::to_string),
        destination: format!("{origin}/.portero/saml/acs"),
        recipient: format!("{origin}/.portero/saml/acs"),
        audience: audience.to_string(),
        name_id: "ana@samlco.test".into(),
        issued: n,
        not_before: n - 5,
        not_on_or_after: n + 300,
        ..Spec::default()
    };
    base64::engine::general_purpose::STANDARD.encode(spec.signed_by(key))
}

fn post_acs(p: &Portero, host: &str, response: &str, relay: &str, cookie: Option<&str>) -> Resp {
    let mut req = post_form(
        host,
        "/.portero/saml/acs",
        &[("SAMLResponse", response), ("RelayState", relay)],
    )
    .header("Origin", "https://idp.samlco.test");
    if let Some(c) = cookie {
        req = req.cookie("portero_saml", c);
    }
    p.send(req)
}

#[test]
fn authn_request_names_this_sp_and_asks_for_an_email() {
    let key = SigningKey::new();
    let (_up, p) = start(&key);
    let (_, _, request) = begin(&p);
    assert!(
        request.contains(&format!("{ORIGIN}/.portero/saml/acs")),
        "{request}"
    );
    assert!(
        request.contains(&format!("{ORIGIN}/.portero/saml/metadata")),
        "{request}"
    );
    assert!(request.contains("nameid-format:emailAddress"), "{request}");
}

#[test]
fn full_flow_reaches_the_panel_with_saml_identity() {
    let key = SigningKey::new();
    let (_up, p) = start(&key);
    let (relay, cookie, _) = begin(&p);
    let r = post_acs(
        &p,
        HOST,
        &answer(&key, Some(&relay), ORIGIN),
        &relay,
        Some(&cookie),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/domains?page=2");
    let session = r.set_cookie("portero_session").expect("session");
    let r = p.send(get(HOST, "/domains").cookie("portero_session", &session));
    let got = r.received();
    assert_eq!(got.one("x-portero-user"), Some("ana@samlco.test"));
    assert_eq!(got.one("x-portero-auth"), Some("saml"));
    assert_eq!(got.one("x-portero-name"), Some("Ana"));
    assert_eq!(got.one("x-portero-account"), Some("samlco.test"));
    assert!(p.audit().contains("\"sign_in\""));
}

#[test]
fn a_response_is_used_once() {
    let key = SigningKey::new();
    let (_up, p) = start(&key);
    let (relay, cookie, _) = begin(&p);
    let response = answer(&key, Some(&relay), ORIGIN);
    assert_eq!(
        post_acs(&p, HOST, &response, &relay, Some(&cookie)).status,
        302
    );
    let again = post_acs(&p, HOST, &response, &relay, Some(&cookie));
    assert_eq!(again.status, 401, "{}", again.body);
    assert!(again.set_cookie("portero_session").is_none());
}

#[test]
fn a_started_sign_in_is_finished_once_even_with_a_fresh_assertion() {
    let key = SigningKey::new();
    let (_up, p) = start(&key);
    let (relay, cookie, _) = begin(&p);
    let first = answer_with_id(&key, Some(&relay), ORIGIN, "_first");
    assert_eq!(
        post_acs(&p, HOST, &first, &relay, Some(&cookie)).status,
        302
    );
    // A second, valid assertion for the same request: the request is used up.
    let second = answer_with_id(&key, Some(&relay), ORIGIN, "_second");
    let r = post_acs(&p, HOST, &second, &relay, Some(&cookie));
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(p.audit().contains("unknown_or_used_relay_state"));
}

#[test]
fn a_sign_in_started_for_one_tenant_cannot_finish_at_another() {
    let key = SigningKey::new();
    let (_up, p) = start(&key);
    let (relay, cookie, _) = begin(&p);
    // A response made for the other tenant's ACS, answering samlco's request.
    let other = "http://panel.unsolicited.test";
    let response = answer(&key, Some(&relay), other);
    let r = post_acs(
        &p,
        "panel.unsolicited.test",
        &response,
        &relay,
        Some(&cookie),
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.set_cookie("portero_session").is_none());
    assert!(p.audit().contains("relay_state_of_another_tenant"));
}

#[test]
fn another_browser_cannot_finish_someone_elses_sign_in() {
    let key = SigningKey::new();
    let (_up, p) = start(&key);
    let (relay, _, _) = begin(&p);
    let r = post_acs(&p, HOST, &answer(&key, Some(&relay), ORIGIN), &relay, None);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.set_cookie("portero_session").is_none());
    assert!(p.audit().contains("relay_state_not_this_browser"));
}

#[test]
fn unknown_relay_state_is_refused() {
    let key = SigningKey::new();
    let (_up, p) = start(&key);
    let r = post_acs(
        &p,
        HOST,
        &answer(&key, Some("_made_up"), ORIGIN),
        "_made_up",
        Some("_made_up"),
    );
    assert_eq!(r.status, 401);
}

#[test]
fn unsolicited_responses_only_where_allowed_and_only_once() {
    let key = SigningKey::new();
    let (_up, p) = start(&key);
    // samlco does not allow IdP-initiated sign-in.
    let r = post_acs(&p, HOST, &answer(&key, None, ORIGIN), "", None);
    assert_eq!(r.status, 401, "{}", r.body);
    // unsolicited does, once per assertion.
    let origin = "http://panel.unsolicited.test";
    let response = answer(&key, None, origin);
    let r = post_acs(&p, "panel.unsolicited.test", &response, "", None);
    assert_eq!(r.status, 302, "{}", r.body);
    let session = r.set_cookie("portero_session").unwrap();
    let got = p
        .send(get("panel.unsolicited.test", "/").cookie("portero_session", &session))
        .received();
    assert_eq!(got.one("x-portero-user"), Some("ana@samlco.test"));
    let r = post_acs(&p, "panel.unsolicited.test", &response, "", None);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(p.audit().contains("replayed_assertion"));
}

#[test]
fn sp_metadata_is_served() {
    let key = SigningKey::new();
    let (_up, p) = start(&key);
    let r = p.send(get(HOST, "/.portero/saml/metadata"));
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains(&format!("{ORIGIN}/.portero/saml/metadata")),
        "{}",
        r.body
    );
    assert!(
        r.body.contains(&format!("{ORIGIN}/.portero/saml/acs")),
        "{}",
        r.body
    );
}

#[test]
fn a_tenant_specific_issuer_names_the_sp_on_every_host() {
    let key = SigningKey::new();
    let (_up, p) = start(&key);
    const ISSUER: &str = "urn:portero:tenant:issuerco";
    for host in ["panel.issuerco.test", "admin.issuerco.test"] {
        let r = p.send(get(host, "/").html());
        assert_eq!(r.status, 302, "{}", r.body);
        let q = query_map(r.location());
        let deflated = base64::engine::general_purpose::STANDARD
            .decode(&q["SAMLRequest"])
            .unwrap();
        let mut request = String::new();
        flate2::read::DeflateDecoder::new(&deflated[..])
            .read_to_string(&mut request)
            .unwrap();
        assert!(request.contains(&format!(">{ISSUER}</")), "{request}");
        // The ACS stays the host's own.
        assert!(
            request.contains(&format!("http://{host}/.portero/saml/acs")),
            "{request}"
        );
        let md = p.send(get(host, "/.portero/saml/metadata"));
        assert!(
            md.body.contains(&format!(r#"entityID="{ISSUER}""#)),
            "{}",
            md.body
        );
    }
    let origin = "http://admin.issuerco.test";
    let host_audience = format!("{origin}/.portero/saml/metadata");
    let r = post_acs(
        &p,
        "admin.issuerco.test",
        &answer_to(&key, None, origin, &host_audience, "_i1"),
        "",
        None,
    );
    assert_eq!(
        r.status, 401,
        "the per-host entity ID is not this SP's name"
    );
    assert!(p.audit().contains("wrong_audience"));
    let r = post_acs(
        &p,
        "admin.issuerco.test",
        &answer_to(&key, None, origin, ISSUER, "_i2"),
        "",
        None,
    );
    assert_eq!(r.status, 302, "{}", r.body);
}

#[test]
fn metadata_without_a_signing_certificate_is_a_config_error() {
    let bare = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.test"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#;
    let err = portero::auth::saml::SamlSp::from_metadata(bare, Default::default(), false)
        .expect_err("accepted metadata without certificates");
    assert!(err.to_string().contains("no signing certificate"), "{err}");
}

#[test]
fn the_saml_trace_shows_recent_exchanges_decoded_and_cut_short() {
    let key = SigningKey::new();
    let (_up, p) = start(&key);
    let (relay, cookie, _) = begin(&p);
    let response = answer(&key, Some(&relay), ORIGIN);
    assert_eq!(
        post_acs(&p, HOST, &response, &relay, Some(&cookie)).status,
        302
    );
    // The same response again: refused, and traced as such.
    let (relay2, cookie2, _) = begin(&p);
    assert_eq!(
        post_acs(&p, HOST, &response, &relay2, Some(&cookie2)).status,
        401
    );
    let trace = get("127.0.0.1", "/tenants/samlco/saml-trace")
        .send(p.admin)
        .body;
    assert!(trace.contains("AuthnRequest sent"), "{trace}");
    assert!(trace.contains("Response received  accepted"), "{trace}");
    assert!(
        trace.contains("Response received  refused: unknown_in_response_to")
            || trace.contains("refused: replayed_assertion"),
        "{trace}"
    );
    assert!(
        trace.contains("ana@samlco.test"),
        "the NameID is shown: {trace}"
    );
    assert!(
        trace.contains("characters cut]"),
        "signature values are cut: {trace}"
    );
    // Newest first.
    assert!(
        trace.find("refused").unwrap() < trace.find("accepted").unwrap(),
        "{trace}"
    );
    let other = get("127.0.0.1", "/tenants/unsolicited/saml-trace")
        .send(p.admin)
        .body;
    assert!(other.contains("no SAML exchanges"), "{other}");
}
