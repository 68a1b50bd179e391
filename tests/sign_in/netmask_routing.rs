//! Threat: a client picks its own routing (SSO or classic login) by forging
//! its address, or a super-admin is locked out by SSO. docs/routing.md, rules 4–7
//! and the client-address rule. The trusted proxy here is 127.0.0.2.
use crate::common::*;

const HOST: &str = "panel.latincloud.test";
const PROXY: &str = "127.0.0.2";

fn through_proxy(path: &str, xff: &str) -> Req {
    get(HOST, path)
        .html()
        .header("X-Forwarded-For", xff)
        .from(PROXY)
}

#[test]
fn inside_netmask_via_trusted_proxy_is_sent_to_sso() {
    let (_up, p) = start();
    for inside in [
        "64.233.187.5",
        "8.8.8.8, 64.233.187.5",
        "2001:db8::5",
        "::ffff:64.233.187.5",
    ] {
        let r = p.send(through_proxy("/panel", inside));
        assert_eq!(r.status, 302, "{inside}");
        assert!(
            r.location()
                .starts_with("/.portero/login?return_to=%2Fpanel"),
            "{inside}: {}",
            r.location()
        );
    }
}

#[test]
fn outside_netmask_via_trusted_proxy_gets_the_classic_login() {
    let (_up, p) = start();
    // The right-most untrusted entry decides; a forged left entry does not.
    for outside in ["8.8.8.8", "64.233.187.5, 8.8.8.8", "2001:db9::1"] {
        let r = p.send(through_proxy("/panel", outside));
        let got = r.received();
        assert!(got.identity_like(&[]).is_empty());
        let chain = got.one("x-forwarded-for").unwrap();
        assert!(chain.ends_with(", 127.0.0.2"), "{chain}");
    }
}

#[test]
fn untrusted_peer_cannot_claim_an_address() {
    let (_up, p) = start();
    // From 127.0.0.1 (not trusted) the header is ignored: outside the netmasks.
    let r = p.send(
        get(HOST, "/panel")
            .html()
            .header("X-Forwarded-For", "64.233.187.5"),
    );
    let got = r.received();
    assert!(got.identity_like(&[]).is_empty());
    assert_eq!(
        got.one("x-forwarded-for"),
        Some("127.0.0.1"),
        "replaced, not appended"
    );
}

#[test]
fn super_admin_gets_the_classic_login_on_admin_paths_inside_netmask() {
    let (_up, p) = start();
    let r = p.send(through_proxy("/admin/settings", "64.233.187.5"));
    assert!(
        r.location()
            .starts_with("/.portero/login?return_to=%2Fadmin"),
        "{}",
        r.location()
    );
    let r = p.send(
        post_form(
            HOST,
            "/.portero/login",
            &[
                ("email", "Root@LatinCloud.test"),
                ("return_to", "/admin/settings"),
            ],
        )
        .header("X-Forwarded-For", "64.233.187.5")
        .from(PROXY),
    );
    assert_eq!(r.status, 302);
    assert_eq!(r.location(), "/admin/settings");
    let classic = r.set_cookie("portero_session_classic").unwrap();
    assert!(p.audit().contains("superadmin_bypass"));
    let got = p
        .send(
            through_proxy("/admin/settings", "64.233.187.5")
                .cookie("portero_session_classic", &classic),
        )
        .received();
    assert!(
        got.identity_like(&[]).is_empty(),
        "classic login never vouches"
    );
    // Someone else on the admin path inside the netmask is sent to SSO.
    let r = p.send(
        post_form(
            HOST,
            "/.portero/login",
            &[("email", "ana@latincloud.test"), ("return_to", "/admin")],
        )
        .header("X-Forwarded-For", "64.233.187.5")
        .from(PROXY),
    );
    assert!(
        r.location()
            .starts_with("https://login.latincloud.test/sso?"),
        "{}",
        r.location()
    );
    assert_eq!(query_map(r.location())["login_hint"], "ana@latincloud.test");
}

#[test]
fn classic_cookie_of_another_tenant_does_not_route() {
    let (_up, p) = start();
    let r = p.send(post_form(
        HOST,
        "/.portero/login",
        &[("email", "root@latincloud.test"), ("return_to", "/admin")],
    ));
    let classic = r.set_cookie("portero_session_classic").unwrap();
    // On nomask (auto_redirect, no netmasks) that cookie means nothing.
    let r = p.send(
        get("panel.nomask.test", "/admin")
            .html()
            .cookie("portero_session_classic", &classic),
    );
    assert!(
        r.location().starts_with("/.portero/login"),
        "{}",
        r.location()
    );
}

#[test]
fn tenant_without_netmasks_sends_everyone_to_sso_except_identified_super_admins() {
    let (_up, p) = start();
    let r = p.send(get("panel.nomask.test", "/").html());
    assert!(
        r.location().starts_with("https://login.nomask.test/sso?"),
        "auto_redirect: {}",
        r.location()
    );
    let r = p.send(get("panel.nomask.test", "/").header("Accept", "application/json"));
    assert_eq!(r.status, 401, "API clients get 401, not a redirect");
    let r = p.send(post_form(
        "panel.nomask.test",
        "/.portero/login",
        &[("email", "root@nomask.test"), ("return_to", "/admin")],
    ));
    assert_eq!(r.location(), "/admin");
    let r = p.send(post_form(
        "panel.nomask.test",
        "/.portero/login",
        &[("email", "ana@nomask.test"), ("return_to", "/admin")],
    ));
    assert!(
        r.location().starts_with("https://login.nomask.test/sso?"),
        "{}",
        r.location()
    );
}

#[test]
fn forced_external_sso_overrides_netmasks_but_not_the_super_admin_bypass() {
    let (_up, p) = start();
    // Outside reseller's netmask (10/8): would be classic, but external SSO is forced.
    let r = p.send(get("panel.reseller.test", "/").html());
    assert!(
        r.location().starts_with("https://login.reseller.test/sso?"),
        "{}",
        r.location()
    );
    let r = p.send(
        get("panel.reseller.test", "/")
            .html()
            .header("X-Forwarded-For", "10.1.2.3")
            .from(PROXY),
    );
    assert!(
        r.location().starts_with("https://login.reseller.test/sso?"),
        "{}",
        r.location()
    );
    // Admin path: the identifier-first page, and the super-admin gets the classic login.
    let r = p.send(get("panel.reseller.test", "/admin").html());
    assert!(
        r.location().starts_with("/.portero/login"),
        "{}",
        r.location()
    );
    let page = p.send(get("panel.reseller.test", "/.portero/login?return_to=%2Fadmin").html());
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"email\""));
    let r = p.send(post_form(
        "panel.reseller.test",
        "/.portero/login",
        &[("email", "root@reseller.test"), ("return_to", "/admin")],
    ));
    assert_eq!(r.location(), "/admin");
    let r = p.send(post_form(
        "panel.reseller.test",
        "/.portero/login",
        &[("email", "ana@latincloud.test"), ("return_to", "/admin")],
    ));
    assert!(
        r.location().starts_with("https://login.reseller.test/sso?"),
        "{}",
        r.location()
    );
}

#[test]
fn encoded_paths_cannot_dodge_the_rules() {
    let (_up, p) = start();
    // `/%61dmin` is the admin path; `/static/../admin` never leaves Portero.
    let r = p.send(through_proxy("/%61dmin", "64.233.187.5"));
    assert!(
        r.location()
            .starts_with("/.portero/login?return_to=%2F%2561dmin"),
        "{}",
        r.location()
    );
    for bad in [
        "/static/../admin",
        "/static/%2e%2e/admin",
        "/static/..%2fadmin",
        "/static\\..\\admin",
    ] {
        let r = p.send(through_proxy(bad, "64.233.187.5"));
        assert_eq!(r.status, 400, "{bad}");
    }
}
