//! Stale permissions: the signed identity headers are reused for a while
//! (one signature per half-TTL), but an administrator's change to a
//! membership — a downgrade above all, or the panel login to act as — must
//! reach the very next request of a session that is already open, not the
//! next half-TTL. Through the real binary, the embedded store changed over
//! the admin API, with a long assertion `ttl` (600 s: five minutes of reuse).
use crate::common::*;
use base64::Engine;
use std::time::{Duration, Instant};

const TENANTS: &str = r#"
[[tenant]]
name = "libros"
hosts = ["panel.libros.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
account_picker = true

[tenant.external_sso]
url = "https://login.libros.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"
"#;

const HOST: &str = "panel.libros.test";

fn change(p: &Portero, form: &[(&str, &str)]) {
    let r = post_form("127.0.0.1", "/tenants/libros/members", form).send(p.admin);
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The permissions inside the signed assertion.
fn signed_permissions(got: &Received) -> Vec<String> {
    let jwt = got.one("x-portero-assertion").expect("an assertion");
    let payload = jwt.split('.').nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    json["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_downgrade_or_a_new_impersonation_reaches_the_very_next_request() {
    let up = Upstream::start();
    let template = SERVER_AND_SESSION.replace("ttl = \"60s\"", "ttl = \"600s\"") + TENANTS;
    let p = Portero::start_with(&template, &up, &[]);
    change(
        &p,
        &[
            ("action", "add"),
            ("account", "libros.test"),
            ("user", "rosa@libros.test"),
            ("permissions", "admin"),
        ],
    );
    // Sign in and enter the account (the store reload may take a moment).
    let deadline = Instant::now() + Duration::from_secs(10);
    let cookie = loop {
        let session = sign_in(&p, HOST, "libros", "rosa@libros.test");
        let r = p.send(
            post_form(
                HOST,
                "/.portero/accounts",
                &[("account", "libros.test"), ("return_to", "/")],
            )
            .cookie("portero_session", &session),
        );
        if r.status == 302 {
            break r.set_cookie("portero_session").unwrap();
        }
        assert!(Instant::now() < deadline, "never entered: {}", r.status);
        std::thread::sleep(Duration::from_millis(200));
    };
    let visit = || {
        p.send(get(HOST, "/").cookie("portero_session", &cookie))
            .received()
    };
    let first = visit();
    assert!(first
        .one("x-portero-permissions")
        .unwrap()
        .contains("admin"));
    // Reused while nothing changed (the hot path keeps its cache).
    let again = visit();
    assert_eq!(
        again.one("x-portero-assertion"),
        first.one("x-portero-assertion")
    );

    // Downgraded by an administrator: the next request says so, headers
    // and signed assertion alike.
    change(
        &p,
        &[
            ("action", "set"),
            ("account", "libros.test"),
            ("user", "rosa@libros.test"),
            ("permissions", "technical"),
        ],
    );
    let after = visit();
    assert_eq!(after.one("x-portero-permissions"), Some("technical"));
    assert_eq!(signed_permissions(&after), vec!["technical".to_string()]);

    // Mapped to a panel login: the next request acts as it.
    change(
        &p,
        &[
            ("action", "impersonate"),
            ("account", "libros.test"),
            ("user", "rosa@libros.test"),
            ("login", "legacy-rosa"),
        ],
    );
    assert_eq!(visit().one("x-portero-impersonate"), Some("legacy-rosa"));
    // And the mapping removed: no longer acting as it.
    change(
        &p,
        &[
            ("action", "impersonate"),
            ("account", "libros.test"),
            ("user", "rosa@libros.test"),
        ],
    );
    assert_eq!(visit().one("x-portero-impersonate"), None);
}
