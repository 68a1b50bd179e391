//! Threat: a client forges identity or forwarding headers, or smuggles
//! Portero's own cookie to the panel. CONTRACT §4.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;
use common::*;

const SPOOFS: [(&str, &str); 12] = [
    ("X-Portero-User", "root@latincloud.test"),
    ("x-portero-user", "again"),
    ("X_PORTERO_USER", "underscore"),
    ("x_portero-email", "mixed@evil.test"),
    ("X-PORTERO-PERMISSIONS", "admin"),
    ("X-Portero-Tenant", "reseller"),
    ("X-Portero-Account", "other.test"),
    ("X-Portero-Assertion", "forged.jwt.value"),
    ("X-Portero-Auth", "saml"),
    ("X-Portero-Impersonate", "root"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "evil.test"),
];

fn spoofed(mut r: Req) -> Req {
    for (k, v) in SPOOFS {
        r = r.header(k, v);
    }
    r.header("X-Real-IP", "64.233.187.9")
        .header("Forwarded", "for=64.233.187.9")
}

#[test]
fn signed_in_request_carries_only_portero_identity() {
    let (_up, p) = start();
    let cookie = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "ana@latincloud.test",
    );
    let r = p.send(spoofed(
        get("panel.latincloud.test", "/home").cookie("portero_session", &cookie),
    ));
    let got = r.received();
    assert_eq!(got.one("x-portero-user"), Some("ana@latincloud.test"));
    assert_eq!(got.one("x-portero-email"), Some("ana@latincloud.test"));
    assert_eq!(got.one("x-portero-tenant"), Some("latincloud"));
    assert_eq!(got.one("x-portero-account"), Some("latincloud.test"));
    assert_eq!(got.one("x-portero-permissions"), Some("invite,technical"));
    assert_eq!(got.one("x-portero-auth"), Some("jwt"));
    assert_eq!(got.one("x-portero-impersonate"), None);
    assert_ne!(got.one("x-portero-assertion"), Some("forged.jwt.value"));
    assert_eq!(got.one("x-forwarded-proto"), Some("http"));
    assert_eq!(got.one("x-forwarded-host"), Some("panel.latincloud.test"));
    assert_eq!(got.one("x-forwarded-for"), Some("127.0.0.1"));
    assert!(got.get("x-real-ip").is_empty() && got.get("forwarded").is_empty());
    // No underscore spelling survives either.
    assert!(
        got.headers.iter().all(|(k, _)| !k.contains('_')),
        "{:?}",
        got.headers
    );
}

#[test]
fn admin_member_gets_all_permissions_and_impersonation() {
    let (_up, p) = start();
    let cookie = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "boss@latincloud.test",
    );
    let got = p
        .send(get("panel.latincloud.test", "/").cookie("portero_session", &cookie))
        .received();
    assert_eq!(
        got.one("x-portero-permissions"),
        Some("admin,commercial,invite,sublogin,technical")
    );
    assert_eq!(got.one("x-portero-impersonate"), Some("bossuser"));
}

#[test]
fn unauthenticated_forwards_strip_identity_too() {
    let (_up, p) = start();
    // Bypass path.
    let got = p
        .send(spoofed(get("panel.latincloud.test", "/static/app.css")))
        .received();
    assert!(
        got.identity_like(&[]).is_empty(),
        "{:?}",
        got.identity_like(&[])
    );
    // Classic login (outside the netmasks: the TCP peer 127.0.0.1).
    let got = p
        .send(spoofed(get("panel.latincloud.test", "/panel").html()))
        .received();
    assert!(
        got.identity_like(&[]).is_empty(),
        "{:?}",
        got.identity_like(&[])
    );
    assert_eq!(got.one("x-forwarded-host"), Some("panel.latincloud.test"));
}

#[test]
fn renamed_header_is_stripped_in_every_spelling() {
    let (_up, p) = start();
    let token = eddsa(&p, &claims("reseller", "ana@latincloud.test"));
    let r = external_sign_in(&p, "panel.reseller.test", &token, "/");
    let cookie = r.set_cookie("portero_session").unwrap();
    let got = p
        .send(
            get("panel.reseller.test", "/")
                .cookie("portero_session", &cookie)
                .header("X-Remote-User", "root")
                .header("x_remote_user", "root")
                .header("X-Portero-User", "root"),
        )
        .received();
    assert_eq!(got.get("x-remote-user"), vec!["ana@latincloud.test"]);
    assert!(
        got.get("x-portero-user").is_empty(),
        "the default name is not sent when renamed"
    );
    assert_eq!(got.one("x-portero-permissions"), Some("technical"));
}

#[test]
fn portero_cookies_never_reach_the_panel() {
    let (_up, p) = start();
    let cookie = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "ana@latincloud.test",
    );
    let got = p
        .send(
            get("panel.latincloud.test", "/")
                .header(
                    "Cookie",
                    &format!("panel_sid=abc; portero_session={cookie}"),
                )
                .header("Cookie", "portero_session_classic=zzz; lang=es"),
        )
        .received();
    assert_eq!(got.get("cookie"), vec!["panel_sid=abc; lang=es"]);
    assert_eq!(got.one("x-portero-user"), Some("ana@latincloud.test"));
}
