//! The other sources of membership, each against a real thing: the panel's
//! HTTP endpoint (a real server on 127.0.0.1 whose answers and failures the
//! test switches: cached answers, negative answers, stale answers while it
//! fails, then a clear page), the IdP's role attribute (real SAML responses
//! signed by `xmlsec1`), and reseller sublogin in the static list.
use crate::common::saml::{idp_metadata, SigningKey, Spec};
use crate::common::*;
use base64::Engine;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The panel's membership endpoint: answers per user, or fails.
#[derive(Clone)]
struct PanelEndpoint {
    port: u16,
    answers: Arc<Mutex<Vec<(String, String)>>>,
    failing: Arc<Mutex<bool>>,
    hits: Arc<AtomicUsize>,
    last_request: Arc<Mutex<String>>,
}

impl PanelEndpoint {
    fn start() -> PanelEndpoint {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let me = PanelEndpoint {
            port: listener.local_addr().unwrap().port(),
            answers: Arc::default(),
            failing: Arc::default(),
            hits: Arc::default(),
            last_request: Arc::default(),
        };
        let it = me.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut buf = vec![0u8; 8192];
                let n = conn.read(&mut buf).unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                it.hits.fetch_add(1, Ordering::SeqCst);
                *it.last_request.lock().unwrap() = request.clone();
                let target = request.split_whitespace().nth(1).unwrap_or("").to_string();
                let user = query_map(&target).get("user").cloned().unwrap_or_default();
                let (status, body) = if *it.failing.lock().unwrap() {
                    ("500 Internal Server Error", "{}".to_string())
                } else {
                    match it.answers.lock().unwrap().iter().find(|(u, _)| *u == user) {
                        Some((_, a)) => ("200 OK", a.clone()),
                        None => ("404 Not Found", "{}".to_string()),
                    }
                };
                let _ = conn.write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len()).as_bytes(),
                );
            }
        });
        me
    }
}

fn panel_tenant(endpoint: &PanelEndpoint) -> String {
    format!(
        r#"
[[tenant]]
name = "panelco"
hosts = ["panel.panelco.test"]
upstream = "{{UPSTREAM}}"
sso_mode = "auto_redirect"
account = "panelco.test"
membership = "panel"

[tenant.panel_members]
url = "http://127.0.0.1:{}/portero/members"
token = "panel-secret"
ttl = "2s"
negative_ttl = "2s"
stale_for = "3s"

[tenant.external_sso]
url = "https://login.panelco.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
"#,
        endpoint.port
    )
}

const PANEL_HOST: &str = "panel.panelco.test";

#[test]
fn the_panel_endpoint_is_cached_and_its_failures_are_bounded() {
    let endpoint = PanelEndpoint::start();
    endpoint.answers.lock().unwrap().push((
        "ana@panelco.test".into(),
        r#"{"name":"Ana P","memberships":[{"account":"panelco.test","permissions":["technical","invite"],"impersonate":"ana_legacy"}]}"#.into(),
    ));
    let up = Upstream::start();
    let p = Portero::start(&panel_tenant(&endpoint), &up);
    let session = sign_in(&p, PANEL_HOST, "panelco", "ana@panelco.test");
    let visit = |s: &str| p.send(get(PANEL_HOST, "/").cookie("portero_session", s));

    let got = visit(&session).received();
    assert_eq!(got.one("x-portero-permissions"), Some("invite,technical"));
    assert_eq!(got.one("x-portero-impersonate"), Some("ana_legacy"));
    let asked = endpoint.last_request.lock().unwrap().clone();
    assert!(
        asked.contains("GET /portero/members?user=ana%40panelco.test"),
        "{asked}"
    );
    assert!(
        asked
            .to_ascii_lowercase()
            .contains("authorization: bearer panel-secret"),
        "{asked}"
    );
    // Cached: more requests, no more questions.
    visit(&session).received();
    visit(&session).received();
    assert_eq!(endpoint.hits.load(Ordering::SeqCst), 1);

    // A user the panel does not know: not a member (and asked once).
    let eve = sign_in(&p, PANEL_HOST, "panelco", "eve@panelco.test");
    assert_eq!(visit(&eve).status, 403);
    assert_eq!(visit(&eve).status, 403);
    assert_eq!(endpoint.hits.load(Ordering::SeqCst), 2);

    // The endpoint fails: the kept answer serves past its ttl, up to stale_for.
    *endpoint.failing.lock().unwrap() = true;
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let got = visit(&session).received();
    assert_eq!(got.one("x-portero-permissions"), Some("invite,technical"));
    let ready = get("127.0.0.1", "/readyz").send(p.admin).body;
    assert!(
        ready.contains("failing membership endpoint of panelco"),
        "{ready}"
    );
    let metrics = get("127.0.0.1", "/metrics").send(p.admin).body;
    assert!(
        metrics.contains(r#"portero_membership_fetches_total{result="failed",tenant="panelco"}"#),
        "{metrics}"
    );
    // Ana's first visit and the one past the ttl asked the endpoint; two
    // were answered from the cache (Eve's 403s are not forwarded).
    assert!(
        metrics.contains(r#"portero_cache_lookups_total{cache="panel_members",result="hit"} 2"#)
            && metrics
                .contains(r#"portero_cache_lookups_total{cache="panel_members",result="miss"} 2"#),
        "{metrics}"
    );
    // Beyond ttl + stale_for: a clear page, not someone else's access, not a loop.
    std::thread::sleep(std::time::Duration::from_millis(3300));
    let r = p.send(
        get(PANEL_HOST, "/")
            .html()
            .cookie("portero_session", &session),
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("cannot check"), "{}", r.body);
    // Forward-auth says the same to the proxy in front: 503, neither a
    // 401 (sign in again would not help) nor a 2xx with stale rights.
    let r = p.send(
        get(PANEL_HOST, "/.portero/auth")
            .header("X-Original-URI", "/")
            .cookie("portero_session", &session),
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("x-portero-user"), None);
    // Back: answers again.
    *endpoint.failing.lock().unwrap() = false;
    std::thread::sleep(std::time::Duration::from_millis(5100));
    assert!(visit(&session).forwarded());
}

const ROLES_TENANT: &str = r#"
[[tenant]]
name = "libros"
hosts = ["*.libros.com.ar", "panel.cliente.com", "panel.otro.com"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
account_from_host = "panel.{account}"
membership = "idp"

[tenant.roles]
account = "libros.com.ar"
whitelabel_manager = ["commercial", "invite"]

[tenant.saml]
idp_metadata = "{DIR}/idp.xml"
allow_idp_initiated = true
[tenant.saml.attributes]
roles = "Role"
"#;

/// Signs in at `host` with an IdP-initiated response carrying `roles`.
fn saml_sign_in(p: &Portero, key: &SigningKey, host: &str, roles: &[&str], id: &str) -> String {
    let origin = format!("http://{host}");
    let n = now();
    let spec = Spec {
        assertion_id: id.into(),
        response_id: format!("_r{id}"),
        in_response_to: None,
        destination: format!("{origin}/.portero/saml/acs"),
        recipient: format!("{origin}/.portero/saml/acs"),
        audience: format!("{origin}/.portero/saml/metadata"),
        name_id: "ana@libros.com.ar".into(),
        issued: n,
        not_before: n - 5,
        not_on_or_after: n + 300,
        attributes: roles
            .iter()
            .map(|r| ("Role".to_string(), r.to_string()))
            .collect(),
        ..Spec::default()
    };
    let response = base64::engine::general_purpose::STANDARD.encode(spec.signed_by(key));
    let r = p.send(post_form(
        host,
        "/.portero/saml/acs",
        &[("SAMLResponse", &response)],
    ));
    assert_eq!(r.status, 302, "{}\n{}", r.body, p.audit());
    r.set_cookie("portero_session").unwrap()
}

#[test]
fn the_idps_roles_are_the_memberships() {
    let key = SigningKey::new();
    let up = Upstream::start();
    let md = idp_metadata(&key, "https://idp.libros.test/sso");
    let p = Portero::start_with(
        &format!("{SERVER_AND_SESSION}\n{ROLES_TENANT}"),
        &up,
        &[("idp.xml", md.as_str())],
    );
    let session = saml_sign_in(
        &p,
        &key,
        "panel.libros.com.ar",
        &[
            "libros.com.ar:technical",
            "cliente.com:commercial",
            "whitelabel_manager",
            "junk",
        ],
        "_roles1",
    );
    let visit = |host: &str| p.send(get(host, "/").cookie("portero_session", &session));
    let got = visit("panel.libros.com.ar").received();
    assert_eq!(got.one("x-portero-account"), Some("libros.com.ar"));
    // technical from its own role, commercial and invite from whitelabel_manager.
    assert_eq!(
        got.one("x-portero-permissions"),
        Some("commercial,invite,technical")
    );
    assert_eq!(
        visit("panel.cliente.com")
            .received()
            .one("x-portero-permissions"),
        Some("commercial")
    );
    assert_eq!(visit("panel.otro.com").status, 403);

    // whitelabel_admin: admin of the tenant's account.
    let admin = saml_sign_in(
        &p,
        &key,
        "panel.libros.com.ar",
        &["whitelabel_admin"],
        "_roles2",
    );
    let got = p
        .send(get("panel.libros.com.ar", "/").cookie("portero_session", &admin))
        .received();
    assert_eq!(
        got.one("x-portero-permissions"),
        Some("admin,commercial,invite,sublogin,technical")
    );
}

#[test]
fn static_reseller_sublogin() {
    let tenants = r#"
[[tenant]]
name = "reseller"
hosts = ["*.reseller.test"]
upstream = "{UPSTREAM}"
account_from_host = "panel.{account}"
sublogin_keeps_sublogin = false

[[tenant.client_account]]
name = "client.reseller.test"
reseller = "reseller.test"

[[tenant.member]]
user = "rosa@reseller.test"
account = "reseller.test"
permissions = ["sublogin", "technical"]

[[tenant.member]]
user = "tom@reseller.test"
account = "reseller.test"
permissions = ["technical"]

[tenant.external_sso]
url = "https://login.reseller.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
"#;
    let up = Upstream::start();
    let p = Portero::start(tenants, &up);
    let rosa = sign_in(&p, "panel.reseller.test", "reseller", "rosa@reseller.test");
    let got = p
        .send(get("panel.client.reseller.test", "/").cookie("portero_session", &rosa))
        .received();
    assert_eq!(got.one("x-portero-account"), Some("client.reseller.test"));
    assert_eq!(got.one("x-portero-permissions"), Some("technical"));
    let tom = sign_in(&p, "panel.reseller.test", "reseller", "tom@reseller.test");
    let r = p.send(
        get("panel.client.reseller.test", "/")
            .html()
            .cookie("portero_session", &tom),
    );
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains("/.portero/accounts"),
        "the 403 page leads to the accounts page"
    );
}

#[test]
fn an_impersonation_the_panel_does_not_know_gets_a_page_that_says_how_to_fix_it() {
    let tenants = r#"
[[tenant]]
name = "reseller"
hosts = ["panel.reseller.test"]
upstream = "{UPSTREAM}"
account = "reseller.test"

[[tenant.member]]
user = "kim@reseller.test"
account = "reseller.test"
permissions = ["technical"]
impersonate = "ghost"

[[tenant.member]]
user = "lea@reseller.test"
account = "reseller.test"
permissions = ["technical"]
impersonate = "lea_legacy"

[tenant.external_sso]
url = "https://login.reseller.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
"#;
    let up = Upstream::start();
    let p = Portero::start(tenants, &up);
    let kim = sign_in(&p, "panel.reseller.test", "reseller", "kim@reseller.test");
    let r = p.send(
        get("panel.reseller.test", "/")
            .html()
            .cookie("portero_session", &kim),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("ghost") && r.body.contains("impersonate"),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains("PATH /"),
        "the panel's own answer is not shown"
    );
    assert!(r.header("x-portero-impersonate-unknown").is_none());
    let lea = sign_in(&p, "panel.reseller.test", "reseller", "lea@reseller.test");
    let got = p
        .send(get("panel.reseller.test", "/").cookie("portero_session", &lea))
        .received();
    assert_eq!(got.one("x-portero-impersonate"), Some("lea_legacy"));
}
