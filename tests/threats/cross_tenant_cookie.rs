//! Threat: a session cookie is replayed on another tenant, tampered with,
//! or kept after an operator forced re-authentication. docs/sessions.md, docs/routing.md rule 3.
use crate::common::*;

#[test]
fn a_cookie_of_one_tenant_is_no_session_on_another() {
    let (_up, p) = start();
    // ana@latincloud.test is also a member on the reseller tenant, as an unrelated user.
    let cookie = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "ana@latincloud.test",
    );
    let r = p.send(
        get("panel.nomask.test", "/")
            .html()
            .cookie("portero_session", &cookie),
    );
    assert_eq!(r.status, 302, "no session: sent to sign in");
    assert!(
        r.location().starts_with("https://login.nomask.test/"),
        "{}",
        r.location()
    );
    let r = p.send(get("panel.reseller.test", "/").cookie("portero_session", &cookie));
    assert!(!r.forwarded());
    assert!(p.audit().contains("refused_cookie"));
}

#[test]
fn tampered_and_malformed_cookies_are_no_session() {
    let (_up, p) = start();
    let cookie = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "ana@latincloud.test",
    );
    let mut bytes = cookie.clone().into_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    for bad in [
        tampered.as_str(),
        "",
        "x",
        "%%%",
        &cookie[..cookie.len() - 4],
        &"A".repeat(5000),
    ] {
        let r = p.send(
            get("panel.latincloud.test", "/api/x")
                .header("Accept", "application/json")
                .cookie("portero_session", bad),
        );
        // A bypass path forwards either way, but never with identity.
        assert!(r.received().identity_like(&[]).is_empty());
        let r = p.send(
            get("panel.nomask.test", "/")
                .header("Accept", "application/json")
                .cookie("portero_session", bad),
        );
        assert_eq!(
            r.status, 401,
            "API client without a valid session: {}",
            r.body
        );
    }
    // The genuine cookie still works.
    let r = p.send(get("panel.latincloud.test", "/").cookie("portero_session", &cookie));
    assert_eq!(
        r.received().one("x-portero-user"),
        Some("ana@latincloud.test")
    );
}

#[test]
fn force_reauth_voids_older_sessions_of_that_tenant_only() {
    let (_up, p) = start();
    let latin = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "ana@latincloud.test",
    );
    let nomask = sign_in(&p, "panel.nomask.test", "nomask", "ana@nomask.test");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let r = p.admin_post("/tenants/latincloud/reauth");
    assert_eq!(r.status, 200, "{}", r.body);
    let r = p.send(get("panel.latincloud.test", "/").cookie("portero_session", &latin));
    // No session any more: outside the netmasks that is the classic login, without identity.
    assert!(
        r.received().identity_like(&[]).is_empty(),
        "revoked session must not carry identity"
    );
    assert!(p.audit().contains("revoked"));
    let r = p.send(get("panel.nomask.test", "/").cookie("portero_session", &nomask));
    assert_eq!(r.received().one("x-portero-user"), Some("ana@nomask.test"));
    // A fresh sign-in works at once.
    let fresh = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "ana@latincloud.test",
    );
    let r = p.send(get("panel.latincloud.test", "/").cookie("portero_session", &fresh));
    assert!(r.forwarded());
    assert_eq!(p.admin_post("/tenants/nobody/reauth").status, 404);
}
