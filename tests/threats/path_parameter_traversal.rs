//! Threat: `;` path parameters that hide a dot segment from Portero
//! (`/static/..;/private` is a bypass path to Portero and `/private` to
//! Tomcat, Jetty and Spring, which drop the parameters and walk up), or
//! that move a path in or out of the bypass and admin paths depending on
//! whether the panel's server drops them. The first are refused as dot
//! segments, the second as ambiguous — both 400, never forwarded.
use crate::common::*;

const HOST: &str = "panel.latincloud.test";

#[test]
fn parameters_cannot_hide_a_dot_segment() {
    let (_up, p) = start();
    for path in [
        "/static/..;/private",
        "/static/..;x=1/private",
        "/static/..;jsessionid=abc/admin/users",
        "/static/.;/private",
        "/static/%2e%2e;/private",
        "/static/%2E%2E;/private",
        "/static/%2e%2e%3b/private",
        "/static/%2E%2e%3Bx=1/private",
        "/static/.%2e;/private",
        "/static/..%3b/private",
        "/api/v1/..;/..;/private",
    ] {
        let r = p.send(get(HOST, path).html());
        assert_eq!(r.status, 400, "{path}: {} {}", r.status, r.body);
        assert!(!r.forwarded(), "{path} was forwarded");
    }
}

#[test]
fn parameters_that_change_the_rules_are_refused() {
    let (_up, p) = start();
    for path in [
        // Tomcat reads /static/private (a bypass path); nginx/PHP do not.
        "/static;x=1/private",
        "/static;/private",
        // An admin path to servlet containers only.
        "/admin;jsessionid=abc/users",
        "/admin;x",
        "/.portero;x/login",
    ] {
        let r = p.send(get(HOST, path).html());
        assert_eq!(r.status, 400, "{path}: {} {}", r.status, r.body);
        assert!(!r.forwarded(), "{path} was forwarded");
    }
}

#[test]
fn parameters_that_change_nothing_pass() {
    let (_up, p) = start();
    // Under the bypass path either way: forwarded without identity.
    let got = p
        .send(get(HOST, "/static/app.css;v=2").header("X-Portero-User", "root"))
        .received();
    assert_eq!(got.path, "/static/app.css;v=2");
    assert!(got.identity_like(&[]).is_empty());
    // Protected either way: the rules run as for `/home` (outside the
    // netmasks, the classic login; signed in, the session's identity).
    let got = p
        .send(
            get(HOST, "/home;jsessionid=abc")
                .html()
                .header("X-Portero-User", "root"),
        )
        .received();
    assert!(got.identity_like(&[]).is_empty());
    let cookie = sign_in(&p, HOST, "latincloud", "ana@latincloud.test");
    let got = p
        .send(get(HOST, "/home;jsessionid=abc").cookie("portero_session", &cookie))
        .received();
    assert_eq!(got.path, "/home;jsessionid=abc");
    assert_eq!(got.one("x-portero-user"), Some("ana@latincloud.test"));
}

#[test]
fn forward_auth_judges_the_same_way() {
    let (_up, p) = start();
    // 127.0.0.2 is a trusted proxy asking about the path it will serve.
    for uri in [
        "/static/..;/private",
        "/static/%2e%2e%3b/private",
        "/static;x/private",
    ] {
        let r = p.send(
            get(HOST, "/.portero/auth")
                .header("X-Forwarded-Uri", uri)
                .from("127.0.0.2"),
        );
        assert_eq!(r.status, 400, "{uri}: {} {}", r.status, r.body);
    }
    let r = p.send(
        get(HOST, "/.portero/auth")
            .header("X-Forwarded-Uri", "/static/app.css;v=2")
            .from("127.0.0.2"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}
