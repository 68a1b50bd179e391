//! Threat: an anonymous flood of started sign-ins (`GET
//! /.portero/sso/saml?return_to=/<4000 bytes>`, each remembered for ten
//! minutes) grows memory without bound and pushes out the sign-ins real
//! people started, or the replay markers kept beside them.
//!
//! Refused: a `return_to` longer than 2048 bytes (falls back to `/`); more
//! than `sign_ins_per_client` starts from one address (429); more than
//! `max_started_sign_ins` waiting at once (503, nothing already started is
//! dropped). Both back-ends: in process and Redis.
use crate::common::redis::RedisServer;
use crate::common::saml::*;
use crate::common::*;
use base64::Engine;

const HOST: &str = "panel.samlco.test";

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
"#;

/// Portero with `extra` lines in `[server]` (and Redis when given).
fn start_with(key: &SigningKey, extra: &str, redis: Option<&RedisServer>) -> (Upstream, Portero) {
    let up = Upstream::start();
    let md = idp_metadata(key, "https://idp.samlco.test/sso");
    let mut server = format!("[server]\n{extra}\n");
    if let Some(r) = redis {
        server.push_str(&format!(
            "redis = \"{}\"\nredis_prefix = \"flood:\"\n",
            r.url()
        ));
    }
    let template = format!("{SERVER_AND_SESSION}\n{TENANTS}").replace("[server]\n", &server);
    let p = Portero::start_with(&template, &up, &[("idp.xml", md.as_str())]);
    (up, p)
}

/// A browser at `client` (believed through the trusted proxy 127.0.0.2)
/// asking to sign in with SAML, going back to `return_to`.
fn start_saml(p: &Portero, client: &str, return_to: &str) -> Resp {
    p.send(
        get(
            HOST,
            &format!(
                "/.portero/sso/saml?return_to={}",
                form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
            ),
        )
        .html()
        .from("127.0.0.2")
        .header("X-Forwarded-For", client),
    )
}

/// The IdP's signed answer to a started sign-in, posted by the browser
/// (with its flow cookie) from `client`.
fn finish_saml(p: &Portero, key: &SigningKey, started: &Resp, client: &str, id: &str) -> Resp {
    assert_eq!(started.status, 302, "{}", started.body);
    let relay = query_map(started.location())["RelayState"].clone();
    let cookie = started.set_cookie("portero_saml").unwrap();
    let origin = format!("http://{HOST}");
    let n = now();
    let xml = Spec {
        assertion_id: id.to_string(),
        in_response_to: Some(relay.clone()),
        destination: format!("{origin}/.portero/saml/acs"),
        recipient: format!("{origin}/.portero/saml/acs"),
        audience: format!("{origin}/.portero/saml/metadata"),
        name_id: "ana@samlco.test".into(),
        issued: n,
        not_before: n - 5,
        not_on_or_after: n + 300,
        ..Spec::default()
    }
    .signed_by(key);
    let response = base64::engine::general_purpose::STANDARD.encode(xml);
    p.send(
        post_form(
            HOST,
            "/.portero/saml/acs",
            &[("SAMLResponse", &response), ("RelayState", &relay)],
        )
        .cookie("portero_saml", &cookie)
        .from("127.0.0.2")
        .header("X-Forwarded-For", client),
    )
}

fn metrics(p: &Portero) -> String {
    get("127.0.0.1", "/metrics").send(p.admin).body
}

#[test]
fn a_flood_from_one_address_is_cut_off_and_another_address_still_signs_in() {
    let key = SigningKey::new();
    let (_up, p) = start_with(&key, "sign_ins_per_client = 20", None);
    let long = format!("/{}", "a".repeat(4000));
    // A real person, at another address, starts before the flood …
    let before = start_saml(&p, "198.51.100.7", "/domains?tab=dns");
    assert_eq!(before.status, 302, "{}", before.body);
    let rss_before = p.rss_kib();
    let mut started = Vec::new();
    let mut refused = 0;
    for _ in 0..3000 {
        let r = start_saml(&p, "203.0.113.66", &long);
        match r.status {
            302 => started.push(r),
            429 => {
                refused += 1;
                assert!(r.body.contains("Too many sign-ins started"), "{}", r.body);
                assert!(r.header("location").is_none());
                assert!(r.set_cookie("portero_saml").is_none());
                assert_eq!(r.header("retry-after"), Some("60"));
            }
            s => panic!("unexpected {s}: {}", r.body),
        }
    }
    assert_eq!(started.len(), 20, "one address gets its budget and no more");
    assert_eq!(refused, 2980);
    // … and another starts during it: both finish.
    let during = start_saml(&p, "198.51.100.8", "/mail");
    let r = finish_saml(&p, &key, &during, "198.51.100.8", "_during");
    assert_eq!(r.status, 302, "{}\n{}", r.body, p.audit());
    assert_eq!(r.location(), "/mail");
    let r = finish_saml(&p, &key, &before, "198.51.100.7", "_before");
    assert_eq!(r.status, 302, "{}\n{}", r.body, p.audit());
    assert_eq!(r.location(), "/domains?tab=dns");
    // The flood's own sign-ins kept no 4000-byte return_to: they lead to `/`.
    let r = finish_saml(&p, &key, &started[0], "203.0.113.66", "_flood");
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/");
    // Nothing to speak of was kept (before the fix: ~5 KiB per request).
    let grown = p.rss_kib().saturating_sub(rss_before);
    assert!(grown < 8 * 1024, "RSS grew by {grown} KiB under the flood");
    let m = metrics(&p);
    assert!(
        m.contains(r#"portero_refusals_total{kind="sign_in_start",reason="client_budget"} 2980"#),
        "{m}"
    );
}

#[test]
fn ipv6_neighbours_in_one_64_share_a_budget() {
    let key = SigningKey::new();
    let (_up, p) = start_with(&key, "sign_ins_per_client = 5", None);
    for i in 0..5 {
        let r = start_saml(&p, &format!("2001:db8:7:7::{:x}", i + 1), "/");
        assert_eq!(r.status, 302, "{}", r.body);
    }
    assert_eq!(start_saml(&p, "2001:db8:7:7:ffff::1", "/").status, 429);
    // The next /64 is another client.
    assert_eq!(start_saml(&p, "2001:db8:7:8::1", "/").status, 302);
}

#[test]
fn a_flood_from_many_addresses_never_pushes_out_a_started_sign_in() {
    let key = SigningKey::new();
    let (_up, p) = start_with(&key, "max_started_sign_ins = 100", None);
    let real = start_saml(&p, "198.51.100.7", "/domains");
    assert_eq!(real.status, 302);
    let mut full = 0;
    for i in 0..400 {
        let r = start_saml(&p, &format!("10.1.{}.{}", i / 200, i % 200 + 1), "/x");
        match r.status {
            302 => {}
            503 => {
                full += 1;
                assert!(
                    r.body.contains("Too many sign-ins in progress"),
                    "{}",
                    r.body
                );
                assert!(r.set_cookie("portero_saml").is_none());
            }
            s => panic!("unexpected {s}: {}", r.body),
        }
    }
    assert_eq!(full, 301, "99 room after the real one, the rest refused");
    // The sign-in started before the flood still finishes.
    let r = finish_saml(&p, &key, &real, "198.51.100.7", "_real");
    assert_eq!(r.status, 302, "{}\n{}", r.body, p.audit());
    assert_eq!(r.location(), "/domains");
    // Its place is free again.
    assert_eq!(start_saml(&p, "198.51.100.9", "/").status, 302);
    let m = metrics(&p);
    assert!(
        m.contains(
            r#"portero_refusals_total{kind="sign_in_start",reason="too_many_in_progress"} 301"#
        ),
        "{m}"
    );
}

fn redis_cli(redis: &RedisServer, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli (Debian package redis-tools)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn redis_keys(redis: &RedisServer) -> u64 {
    redis_cli(redis, &["DBSIZE"]).parse().unwrap()
}

#[test]
fn with_redis_the_flood_is_bounded_and_replay_markers_stay() {
    let key = SigningKey::new();
    let redis = RedisServer::start();
    let (_up, p) = start_with(&key, "max_started_sign_ins = 100", Some(&redis));
    // A token used before the flood (its jti marker is in Redis).
    let token = hs256(EXT_SECRET, &claims("jwtco", "ana@jwtco.test"));
    let r = external_sign_in(&p, "panel.jwtco.test", &token, "/");
    assert_eq!(r.status, 302, "{}", r.body);
    let real = start_saml(&p, "198.51.100.7", "/domains");
    assert_eq!(real.status, 302);
    // This time the long target is the page asked for (the tenant sends
    // every visitor straight to the IdP).
    let long = format!("/{}", "b".repeat(4000));
    let mut full = 0;
    let mut relay = None;
    for i in 0..300 {
        let client = format!("10.2.{}.{}", i / 200, i % 200 + 1);
        let r = p.send(
            get(HOST, &long)
                .html()
                .from("127.0.0.2")
                .header("X-Forwarded-For", &client),
        );
        if r.status == 503 {
            assert!(
                r.body.contains("Too many sign-ins in progress"),
                "{}",
                r.body
            );
            full += 1;
        } else {
            assert_eq!(r.status, 302, "{}", r.body);
            relay = Some(query_map(r.location())["RelayState"].clone());
        }
    }
    assert_eq!(full, 201);
    // What one of them keeps is small: not the 4000-byte return_to.
    let kept = redis_cli(
        &redis,
        &["STRLEN", &format!("flood:rec:saml:{}", relay.unwrap())],
    );
    let kept: usize = kept.parse().unwrap();
    assert!(
        (1..1024).contains(&kept),
        "a started sign-in keeps {kept} bytes"
    );
    // Redis holds the 100 started sign-ins, their index, the marker and
    // little else: not the flood.
    let keys = redis_keys(&redis);
    assert!(keys <= 110, "{keys} keys in Redis");
    // The sign-in started before the flood still finishes …
    let r = finish_saml(&p, &key, &real, "198.51.100.7", "_real_redis");
    assert_eq!(r.status, 302, "{}\n{}", r.body, p.audit());
    assert_eq!(r.location(), "/domains");
    // … and the replay marker survived the flood (its place is free again
    // for the browser to start one more).
    let again = external_sign_in(&p, "panel.jwtco.test", &token, "/");
    assert_eq!(again.status, 401, "{}", again.body);
    assert!(again.body.contains("already used"), "{}", again.body);
}
