//! Threat: Portero's return URLs send a signed-in visitor to another site.
//! docs/open-redirect.md: return URLs are same-tenant only; everything else is `/`.
use crate::common::*;

const PAYLOADS: [&str; 16] = [
    "//evil.test",
    "//evil.test/x",
    "/\\evil.test",
    "/\\/evil.test",
    "\\\\evil.test",
    "https://evil.test",
    "HTTPS://EVIL.TEST/",
    "https:evil.test",
    "%2F%2Fevil.test",
    "/%2F/evil.test",
    "%252F%252Fevil.test",
    " //evil.test",
    "/\t/evil.test",
    "javascript:alert(1)",
    "http://panel.latincloud.test@evil.test/",
    "https://panel.latincloud.test.evil.test/",
];

#[test]
fn classic_login_return_to_never_leaves_the_tenant() {
    let (_up, p) = start();
    for payload in PAYLOADS {
        let r = p.send(post_form(
            "panel.latincloud.test",
            "/.portero/login",
            &[("email", "root@latincloud.test"), ("return_to", payload)],
        ));
        assert_eq!(r.status, 302, "{payload}: {}", r.body);
        assert_eq!(
            r.location(),
            "/",
            "payload {payload:?} leaked into Location"
        );
    }
}

#[test]
fn jwt_callback_return_to_never_leaves_the_tenant() {
    let (_up, p) = start();
    for payload in PAYLOADS {
        let token = hs256(EXT_SECRET, &claims("latincloud", "ana@latincloud.test"));
        // The payload both where the sign-in starts and in the hand-back.
        let r = external_sign_in(&p, "panel.latincloud.test", &token, payload);
        assert_eq!(r.status, 302, "{payload}: {}", r.body);
        assert_eq!(
            r.location(),
            "/",
            "payload {payload:?} leaked into Location"
        );
    }
}

#[test]
fn another_tenants_host_is_foreign_too() {
    let (_up, p) = start();
    let r = p.send(post_form(
        "panel.latincloud.test",
        "/.portero/login",
        &[
            ("email", "root@latincloud.test"),
            ("return_to", "http://panel.reseller.test/x"),
        ],
    ));
    assert_eq!(r.location(), "/");
}

#[test]
fn same_tenant_targets_are_kept() {
    let (_up, p) = start();
    for ok in [
        "/admin/users?page=2",
        "http://files.latincloud.test/x",
        "/a%20b",
    ] {
        let r = p.send(post_form(
            "panel.latincloud.test",
            "/.portero/login",
            &[("email", "root@latincloud.test"), ("return_to", ok)],
        ));
        assert_eq!(r.location(), ok);
    }
}

#[test]
fn the_login_page_does_not_echo_payloads() {
    let (_up, p) = start();
    let r = p.send(
        get(
            "panel.nomask.test",
            "/.portero/login?return_to=%2F%2Fevil.test",
        )
        .html(),
    );
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("evil.test"), "{}", r.body);
    let r = p.send(
        get(
            "panel.nomask.test",
            "/.portero/login?return_to=%22%3E%3Cscript%3E",
        )
        .html(),
    );
    assert!(!r.body.contains("<script>"));
}
