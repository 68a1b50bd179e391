//! Several nodes sharing a real Redis (`[server].redis`). Threats: a token
//! or assertion replayed to another node than the one that accepted it; a
//! "force re-authentication now" that only one node hears; a Redis outage
//! that lets a one-time check pass (it must fail closed: no sign-in, a
//! clear page, sessions already made keep working).
use crate::common::redis::RedisServer;
use crate::common::saml::*;
use crate::common::*;
use base64::Engine;
use std::time::{Duration, Instant};

const SAML_HOST: &str = "panel.samlco.test";
const JWT_HOST: &str = "panel.jwtco.test";

const TENANTS: &str = r#"
[[tenant]]
name = "samlco"
hosts = ["panel.samlco.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
account = "samlco.test"

[[tenant.member]]
user = "ana@samlco.test"
account = "samlco.test"
permissions = ["technical"]

[tenant.saml]
idp_metadata = "{DIR}/idp.xml"
allow_idp_initiated = true

[[tenant]]
name = "jwtco"
hosts = ["panel.jwtco.test"]
upstream = "{UPSTREAM}"
account = "jwtco.test"

[[tenant.member]]
user = "ana@jwtco.test"
account = "jwtco.test"
permissions = ["technical"]

[tenant.external_sso]
url = "https://login.jwtco.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"
"#;

/// Two nodes (own data directories, same keys) and their Redis.
fn cluster(key: &SigningKey) -> (RedisServer, Upstream, Portero, Portero) {
    let redis = RedisServer::start();
    let up = Upstream::start();
    let md = idp_metadata(key, "https://idp.samlco.test/sso");
    let template = format!("{SERVER_AND_SESSION}\n{TENANTS}").replace(
        "[server]\n",
        &format!(
            "[server]\nredis = \"{}\"\nredis_prefix = \"test:\"\n",
            redis.url()
        ),
    );
    let a = Portero::start_with(&template, &up, &[("idp.xml", md.as_str())]);
    let b = Portero::start_with(&template, &up, &[("idp.xml", md.as_str())]);
    (redis, up, a, b)
}

/// A browser's external sign-in on node `p`: started there, then handed
/// back there with `token` (the start's answer when it did not start).
fn jwt_callback(p: &Portero, token: &str) -> Resp {
    jwt_callback_on(p, p, token)
}

/// Started on `start`, handed back to `finish` (another node, maybe).
fn jwt_callback_on(start: &Portero, finish: &Portero, token: &str) -> Resp {
    let r = start.send(get(JWT_HOST, "/.portero/sso/external?return_to=%2Fhome").html());
    if r.status != 302 {
        return r;
    }
    let state = query_map(r.location())["state"].clone();
    let cookie = r.set_cookie("portero_jwt").unwrap();
    finish.send(
        get(JWT_HOST, &handback(token, "/home", &state))
            .html()
            .cookie("portero_jwt", &cookie),
    )
}

/// A signed response for this origin; `request_id` None: IdP-initiated.
fn saml_response(key: &SigningKey, request_id: Option<&str>, assertion_id: &str) -> String {
    let origin = format!("http://{SAML_HOST}");
    let n = now();
    let spec = Spec {
        assertion_id: assertion_id.to_string(),
        in_response_to: request_id.map(str::to_string),
        destination: format!("{origin}/.portero/saml/acs"),
        recipient: format!("{origin}/.portero/saml/acs"),
        audience: format!("{origin}/.portero/saml/metadata"),
        name_id: "ana@samlco.test".into(),
        issued: n,
        not_before: n - 5,
        not_on_or_after: n + 300,
        ..Spec::default()
    };
    base64::engine::general_purpose::STANDARD.encode(spec.signed_by(key))
}

fn post_acs(p: &Portero, response: &str, relay: &str, cookie: Option<&str>) -> Resp {
    let mut req = post_form(
        SAML_HOST,
        "/.portero/saml/acs",
        &[("SAMLResponse", response), ("RelayState", relay)],
    );
    if let Some(c) = cookie {
        req = req.cookie("portero_saml", c);
    }
    p.send(req)
}

/// Sends the browser to the IdP from node `p`: (request ID, flow cookie).
fn begin(p: &Portero) -> (String, String) {
    let r = p.send(get(SAML_HOST, "/domains").html());
    assert_eq!(r.status, 302, "{}", r.body);
    let relay = query_map(r.location())["RelayState"].clone();
    (relay, r.set_cookie("portero_saml").expect("flow cookie"))
}

#[test]
fn a_saml_sign_in_started_on_one_node_finishes_on_another_once() {
    let key = SigningKey::new();
    let (_redis, _up, a, b) = cluster(&key);
    let (relay, cookie) = begin(&a);
    let response = saml_response(&key, Some(&relay), "_assert_ab");
    let r = post_acs(&b, &response, &relay, Some(&cookie));
    assert_eq!(r.status, 302, "{}\n{}", r.body, b.audit());
    assert_eq!(r.location(), "/domains");
    let session = r.set_cookie("portero_session").unwrap();
    let got = a
        .send(get(SAML_HOST, "/domains").cookie("portero_session", &session))
        .received();
    assert_eq!(got.one("x-portero-user"), Some("ana@samlco.test"));
    // The same POST to the first node: the sign-in was used up on the second.
    let again = post_acs(&a, &response, &relay, Some(&cookie));
    assert_eq!(again.status, 401, "{}", again.body);
    assert!(again.set_cookie("portero_session").is_none());
    assert!(
        a.audit().contains("unknown_or_used_relay_state"),
        "{}",
        a.audit()
    );
}

#[test]
fn an_assertion_accepted_by_one_node_is_refused_by_another() {
    let key = SigningKey::new();
    let (_redis, _up, a, b) = cluster(&key);
    let response = saml_response(&key, None, "_assert_unsolicited");
    let first = post_acs(&a, &response, "", None);
    assert_eq!(first.status, 302, "{}\n{}", first.body, a.audit());
    let replayed = post_acs(&b, &response, "", None);
    assert_eq!(replayed.status, 401, "{}", replayed.body);
    assert!(replayed.set_cookie("portero_session").is_none());
    assert!(b.audit().contains("replayed_assertion"), "{}", b.audit());
}

#[test]
fn a_token_used_on_one_node_is_refused_on_another() {
    let key = SigningKey::new();
    let (_redis, _up, a, b) = cluster(&key);
    let token = hs256(EXT_SECRET, &claims("jwtco", "ana@jwtco.test"));
    // Started on one node, handed back to the other.
    let r = jwt_callback_on(&b, &a, &token);
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/home");
    let again = jwt_callback(&b, &token);
    assert_eq!(again.status, 401, "{}", again.body);
    assert!(again.body.contains("already used"), "{}", again.body);
    assert!(again.set_cookie("portero_session").is_none());
}

#[test]
fn force_reauth_on_one_node_reaches_every_node() {
    let key = SigningKey::new();
    let (_redis, _up, a, b) = cluster(&key);
    let session = sign_in(&a, JWT_HOST, "jwtco", "ana@jwtco.test");
    let on_b = || b.send(get(JWT_HOST, "/home").cookie("portero_session", &session));
    assert!(on_b().forwarded());
    // Marks are whole seconds; a session from the same second survives.
    std::thread::sleep(Duration::from_millis(1100));
    let r = a.admin_post("/tenants/jwtco/reauth");
    assert_eq!(r.status, 200, "{}", r.body);
    let deadline = Instant::now() + Duration::from_secs(5);
    while on_b().forwarded() {
        assert!(
            Instant::now() < deadline,
            "node B still honours the session 5 s after the mark"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A sign-in after the mark works on both.
    std::thread::sleep(Duration::from_millis(1100));
    let fresh = sign_in(&b, JWT_HOST, "jwtco", "ana@jwtco.test");
    assert!(a
        .send(get(JWT_HOST, "/home").cookie("portero_session", &fresh))
        .forwarded());
}

#[test]
fn with_redis_down_sign_ins_fail_closed_and_sessions_keep_working() {
    let key = SigningKey::new();
    let (mut redis, _up, a, _b) = cluster(&key);
    let session = sign_in(&a, JWT_HOST, "jwtco", "ana@jwtco.test");
    let (flow, state) = start_external(&a, JWT_HOST, "/home");
    redis.down();

    // A good token cannot be checked (its started sign-in, its replay):
    // refused, with a clear page.
    let token = hs256(EXT_SECRET, &claims("jwtco", "ana@jwtco.test"));
    let r = a.send(
        get(JWT_HOST, &handback(&token, "/home", &state))
            .html()
            .cookie("portero_jwt", &flow),
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.set_cookie("portero_session").is_none());
    // Nor can a new external sign-in start.
    let r = jwt_callback(&a, &token);
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.body.contains("Signing in is not possible right now"),
        "{}",
        r.body
    );
    assert!(r.set_cookie("portero_session").is_none());
    // Neither can a SAML sign-in start (it could never finish) …
    let start = a.send(get(SAML_HOST, "/domains").html());
    assert_eq!(start.status, 503, "{}", start.body);
    assert!(start.header("location").is_none());
    // … nor an unsolicited assertion be accepted.
    let response = saml_response(&key, None, "_assert_while_down");
    let acs = post_acs(&a, &response, "", None);
    assert_eq!(acs.status, 503, "{}", acs.body);
    assert!(acs.set_cookie("portero_session").is_none());
    // Sessions already made keep working.
    assert!(a
        .send(get(JWT_HOST, "/home").cookie("portero_session", &session))
        .forwarded());
    let ready = get("127.0.0.1", "/readyz").send(a.admin);
    assert!(ready.body.contains("unreachable redis"), "{}", ready.body);
    let metrics = get("127.0.0.1", "/metrics").send(a.admin).body;
    assert!(
        metrics.contains(r#"reason="shared_store_unavailable""#)
            || metrics.contains("shared_store_unavailable"),
        "{metrics}"
    );

    // Back up: the same token (never accepted) now signs in.
    redis.up();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = jwt_callback(&a, &token);
        if r.status == 302 {
            break;
        }
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(
            Instant::now() < deadline,
            "no sign-in 10 s after Redis came back"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let ready = get("127.0.0.1", "/readyz").send(a.admin);
    assert!(ready.body.contains("ok redis"), "{}", ready.body);
}
