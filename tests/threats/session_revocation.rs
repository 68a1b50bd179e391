//! Sessions that end when they should. Threats: a session cookie copied
//! before its owner signed out (malware, a shared machine, a proxy log)
//! that keeps working until `reauth`; a person whose account was taken over,
//! whose sessions an administrator cannot end one by one; a logout or a
//! revocation heard by one node of a cluster only. Through the real binary,
//! the admin API, the `portero accounts` command line, and two nodes on a
//! real `redis-server`.
use crate::common::redis::RedisServer;
use crate::common::*;
use std::process::Command;
use std::time::{Duration, Instant};

const TENANTS: &str = r#"
[[tenant]]
name = "jwtco"
hosts = ["panel.jwtco.test"]
upstream = "{UPSTREAM}"
account = "jwtco.test"

[[tenant.member]]
user = "ana@jwtco.test"
account = "jwtco.test"
permissions = ["technical"]

[[tenant.member]]
user = "bob@jwtco.test"
account = "jwtco.test"
permissions = ["technical"]

[tenant.external_sso]
url = "https://login.jwtco.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"
"#;

const HOST: &str = "panel.jwtco.test";

/// Whether the cookie is still a signed-in session (forwarded with identity).
fn signed_in(p: &Portero, cookie: &str) -> bool {
    let r = p.send(get(HOST, "/home").cookie("portero_session", cookie));
    r.forwarded() && r.received().one("x-portero-user").is_some()
}

fn logout(p: &Portero, cookie: &str) -> Resp {
    p.send(
        get(HOST, "/.portero/logout")
            .html()
            .cookie("portero_session", cookie),
    )
}

fn revoke_api(p: &Portero, user: &str) -> Resp {
    post_form(
        "127.0.0.1",
        "/tenants/jwtco/sessions/revoke",
        &[("user", user)],
    )
    .send(p.admin)
}

fn eventually(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_copied_cookie_is_refused_after_logout() {
    let up = Upstream::start();
    let p = Portero::start(TENANTS, &up);
    let cookie = sign_in(&p, HOST, "jwtco", "ana@jwtco.test");
    let other_device = sign_in(&p, HOST, "jwtco", "ana@jwtco.test");
    assert!(signed_in(&p, &cookie));
    let r = logout(&p, &cookie);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.set_cookie("portero_session").as_deref(), Some(""));
    // The copy an attacker kept is refused, on every path that needs a session.
    assert!(!signed_in(&p, &cookie), "a logged-out cookie still works");
    let r = p.send(get(HOST, "/home").html().cookie("portero_session", &cookie));
    assert_eq!(r.status, 302, "{}", r.body);
    assert!(r.location().contains("login"), "{}", r.location());
    assert!(
        p.audit().contains("session ended by logout"),
        "{}",
        p.audit()
    );
    // Only that session: the same person's other session goes on.
    assert!(signed_in(&p, &other_device));
    // Kept on disk for a restart, until the session would have expired.
    let saved = std::fs::read_to_string(p.path("ended-sessions.jsonl")).unwrap();
    assert!(saved.contains("\"k\":\"session\""), "{saved}");
}

#[test]
fn an_administrator_revokes_every_session_of_one_person() {
    let up = Upstream::start();
    let p = Portero::start(TENANTS, &up);
    let ana_1 = sign_in(&p, HOST, "jwtco", "ana@jwtco.test");
    let ana_2 = sign_in(&p, HOST, "jwtco", "ana@jwtco.test");
    let bob = sign_in(&p, HOST, "jwtco", "bob@jwtco.test");
    // The admin API needs the user.
    let r = post_form("127.0.0.1", "/tenants/jwtco/sessions/revoke", &[]).send(p.admin);
    assert_eq!(r.status, 400, "{}", r.body);
    let r = revoke_api(&p, "nobody@x.test");
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post_form(
        "127.0.0.1",
        "/tenants/nosuch/sessions/revoke",
        &[("user", "ana@jwtco.test")],
    )
    .send(p.admin);
    assert_eq!(r.status, 404);
    let r = revoke_api(&p, "Ana@JWTco.test");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!signed_in(&p, &ana_1) && !signed_in(&p, &ana_2));
    assert!(signed_in(&p, &bob), "someone else's session was ended");
    assert!(p.audit().contains("revoked via admin API"));
    // Signing in again afterwards works (the mark covers sessions issued
    // up to the second of the revocation).
    std::thread::sleep(Duration::from_millis(1100));
    let fresh = sign_in(&p, HOST, "jwtco", "ana@jwtco.test");
    assert!(signed_in(&p, &fresh));
}

#[test]
fn the_command_line_revokes_a_person_on_the_running_server() {
    let up = Upstream::start();
    let p = Portero::start(TENANTS, &up);
    let ana = sign_in(&p, HOST, "jwtco", "ana@jwtco.test");
    let bob = sign_in(&p, HOST, "jwtco", "bob@jwtco.test");
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_portero"))
            .args(["accounts", "--config"])
            .arg(p.path("portero.toml"))
            .args(args)
            .env("PORTERO_SESSION_KEY", SESSION_KEY)
            .env("EXT_SSO_SECRET", EXT_SECRET)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = cli(&["jwtco", "revoke"]);
    assert!(!ok && out.contains("--user"), "{out}");
    let (ok, out) = cli(&["jwtco", "revoke", "--user", "ana@jwtco.test"]);
    assert!(ok, "{out}");
    assert!(out.contains("the running Portero (pid"), "{out}");
    eventually(
        "the running server did not pick the revocation up",
        Duration::from_secs(5),
        || !signed_in(&p, &ana),
    );
    assert!(signed_in(&p, &bob));
}

/// Two nodes (own data directories, same keys) and their Redis.
fn cluster() -> (RedisServer, Upstream, Portero, Portero) {
    let redis = RedisServer::start();
    let up = Upstream::start();
    let template = format!("{SERVER_AND_SESSION}\n{TENANTS}").replace(
        "[server]\n",
        &format!(
            "[server]\nredis = \"{}\"\nredis_prefix = \"test:\"\nredis_timeout = \"1s\"\n",
            redis.url()
        ),
    );
    let a = Portero::start_with(&template, &up, &[]);
    let b = Portero::start_with(&template, &up, &[]);
    (redis, up, a, b)
}

#[test]
fn logouts_and_revocations_reach_every_node_through_redis() {
    let (mut redis, _up, a, b) = cluster();
    // A logout on node A: the cookie is refused by node B too.
    let cookie = sign_in(&a, HOST, "jwtco", "ana@jwtco.test");
    assert!(signed_in(&b, &cookie));
    assert_eq!(logout(&a, &cookie).status, 200);
    eventually(
        "node B still accepts a session ended on node A",
        Duration::from_secs(5),
        || !signed_in(&b, &cookie),
    );
    // A person revoked on node B: refused by node A.
    let bob = sign_in(&a, HOST, "jwtco", "bob@jwtco.test");
    assert_eq!(revoke_api(&b, "bob@jwtco.test").status, 200);
    eventually(
        "node A still accepts a person revoked on node B",
        Duration::from_secs(5),
        || !signed_in(&a, &bob),
    );

    // Redis down: a logout still ends the session on the node that got it,
    // and says the others are not told yet; other sessions keep working on
    // every node (no Redis on the request path).
    let ana = sign_in(&a, HOST, "jwtco", "ana@jwtco.test");
    let ana_other = sign_in(&a, HOST, "jwtco", "ana@jwtco.test");
    redis.down();
    let r = logout(&a, &ana);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("on this server"), "{}", r.body);
    assert!(!signed_in(&a, &ana));
    assert!(signed_in(&b, &ana_other) && signed_in(&a, &ana_other));
    let r = revoke_api(&a, "nobody@jwtco.test");
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("on this node"), "{}", r.body);
    // Redis back: node A pushes what it kept, node B adopts it.
    redis.up();
    eventually(
        "node B never heard of the logout made while Redis was down",
        Duration::from_secs(15),
        || !signed_in(&b, &ana),
    );
    assert!(signed_in(&b, &ana_other));
}
