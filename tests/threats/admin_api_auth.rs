//! Threat: anyone who reaches the admin listener forces re-authentication
//! or reloads the configuration. With `admin_token` set, they need it.
use crate::common::*;

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

const STORE_TENANT: &str = r#"
[[tenant]]
name = "libros"
hosts = ["panel.libros.test"]
upstream = "{UPSTREAM}"
account_picker = true

[tenant.external_sso]
url = "https://login.libros.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"
"#;

/// Threat: an `actor` the listener cannot read (`mallory`, empty, given
/// twice) was taken for "no actor", i.e. the operator, who may add
/// administrators. Anything but exactly one e-mail of a member is a 400.
#[test]
fn an_unreadable_actor_is_not_the_operator() {
    let up = Upstream::start();
    let p = Portero::start(STORE_TENANT, &up);
    let api = |body: &str| {
        let raw = format!(
            "POST /tenants/libros/members HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        raw_from(None, p.admin, raw.as_bytes())
    };
    let seed = api("action=add&account=libros.test&user=ana%40libros.test&permissions=technical");
    assert_eq!(seed.status, 200, "the operator seeds: {}", seed.body);
    let add = "action=add&account=libros.test&user=mallory%40evil.test&permissions=admin";
    for (actor, why) in [
        ("actor=mallory", "not an e-mail"),
        ("actor=", "empty"),
        ("actor", "no value"),
        ("actor=%20", "blank"),
        ("actor=&actor=ana%40libros.test", "given twice, first empty"),
        ("actor=ana%40libros.test&actor=", "given twice, last empty"),
        (
            "actor=ana%40libros.test&act%6Fr=mallory",
            "given twice, spelt differently",
        ),
        ("actor=ana%FF%40libros.test", "not UTF-8"),
        ("actor=nobody%40libros.test", "not a member"),
    ] {
        for body in [format!("{add}&{actor}"), format!("{actor}&{add}")] {
            let r = api(&body);
            assert_eq!(r.status, 400, "{why}: {body}: {}", r.body);
            assert!(r.body.contains("\"ok\":false"), "{why}: {}", r.body);
        }
    }
    // Other fields given twice are refused as well.
    let r = api(&format!("{add}&user=ops%40libros.test"));
    assert_eq!(r.status, 400, "{}", r.body);
    let listing = get("127.0.0.1", "/tenants/libros/members?account=libros.test").send(p.admin);
    assert!(!listing.body.contains("mallory"), "{}", listing.body);
    assert!(!listing.body.contains("ops@"), "{}", listing.body);
    // A member acting is bound by the rules (only the operator adds).
    let r = api(&format!("{add}&actor=Ana%40Libros.test"));
    assert_eq!(r.status, 409, "{}", r.body);
    // The listing needs one account, and one that exists.
    for (query, status) in [
        ("", 400),
        ("?account=", 400),
        ("?account=libros.test&account=other.test", 400),
        ("?account=nowhere.test", 404),
        ("?account=LIBROS.test", 200),
    ] {
        let r = get("127.0.0.1", &format!("/tenants/libros/members{query}")).send(p.admin);
        assert_eq!(r.status, status, "{query}: {}", r.body);
    }
    let audit = p.audit();
    assert!(audit.contains("actor"), "refusals are audited: {audit}");
}
