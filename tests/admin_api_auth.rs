//! Threat: anyone who reaches the admin listener forces re-authentication
//! or reloads the configuration. With `admin_token` set, they need it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;
use common::*;

const TOKEN: &str = "an-admin-token-for-tests";

#[test]
fn admin_actions_need_the_token() {
    let up = Upstream::start();
    let template = SERVER_AND_SESSION.replace(
        "threads = 1",
        &format!("threads = 1\nadmin_token = \"{TOKEN}\""),
    ) + TENANTS;
    let p = Portero::start_with(&template, &up, &[]);
    let post = |path: &str, auth: Option<&str>| {
        let mut r = get("127.0.0.1", path).method("POST");
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        r.send(p.admin)
    };
    for path in ["/tenants/latincloud/reauth", "/reload"] {
        assert_eq!(post(path, None).status, 401, "{path}");
        assert_eq!(post(path, Some("Bearer wrong")).status, 401, "{path}");
        assert_eq!(
            post(path, Some(TOKEN)).status,
            401,
            "{path}: the Bearer scheme is required"
        );
        assert_eq!(
            post(path, Some(&format!("Bearer {TOKEN}"))).status,
            200,
            "{path}"
        );
    }
    // Membership changes and the SAML trace need it too.
    let change = post_form(
        "127.0.0.1",
        "/tenants/latincloud/members",
        &[
            ("action", "add"),
            ("account", "a.test"),
            ("user", "x@a.test"),
            ("permissions", "admin"),
        ],
    );
    assert_eq!(change.send(p.admin).status, 401);
    for path in [
        "/tenants/latincloud/members?account=a.test",
        "/tenants/latincloud/saml-trace",
    ] {
        assert_eq!(get("127.0.0.1", path).send(p.admin).status, 401, "{path}");
        let with = get("127.0.0.1", path).header("Authorization", &format!("Bearer {TOKEN}"));
        assert_ne!(with.send(p.admin).status, 401, "{path}");
    }
    assert!(!p.audit().is_empty());
    // Reading stays open: health checks and Prometheus carry no token.
    assert_eq!(get("127.0.0.1", "/healthz").send(p.admin).status, 200);
}
