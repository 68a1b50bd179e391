//! Threat: a signed-in user enters an account they have no part in, or is
//! caught in a redirect loop. docs/routing.md, rule 3.
use crate::common::*;

#[test]
fn non_member_gets_a_403_page_not_a_loop() {
    let (_up, p) = start();
    let cookie = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "stranger@latincloud.test",
    );
    let r = p.send(
        get("panel.latincloud.test", "/panel")
            .html()
            .cookie("portero_session", &cookie),
    );
    assert_eq!(r.status, 403);
    assert!(r.body.contains("/.portero/accounts"), "{}", r.body);
    assert!(r.body.contains("latincloud.test"));
    assert!(r.header("location").is_none());
    // The accounts page answers and says there is nothing to enter.
    let r = p.send(
        get("panel.latincloud.test", "/.portero/accounts")
            .html()
            .cookie("portero_session", &cookie),
    );
    assert_eq!(r.status, 200);
    assert!(r.body.contains("no account"), "{}", r.body);
}

#[test]
fn members_see_their_accounts_and_can_sign_out() {
    let (_up, p) = start();
    let cookie = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "ana@latincloud.test",
    );
    let r = p.send(
        get("panel.latincloud.test", "/.portero/accounts")
            .html()
            .cookie("portero_session", &cookie),
    );
    assert!(r.body.contains("Invite, Technical"), "{}", r.body);
    let r = p.send(
        get("panel.latincloud.test", "/.portero/logout")
            .html()
            .cookie("portero_session", &cookie),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.set_cookie("portero_session").as_deref(), Some(""));
    assert!(p.audit().contains("sign_out"));
}

#[test]
fn no_session_on_accounts_page_is_sent_to_sign_in() {
    let (_up, p) = start();
    let r = p.send(get("panel.latincloud.test", "/.portero/accounts").html());
    assert_eq!(r.status, 302);
    assert!(r.location().starts_with("/.portero/login"));
    let r = p.send(
        get("panel.latincloud.test", "/.portero/accounts").header("Accept", "application/json"),
    );
    assert_eq!(r.status, 401);
}

#[test]
fn forward_auth_endpoint_answers_for_the_session() {
    let (_up, p) = start();
    let cookie = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "ana@latincloud.test",
    );
    let r =
        p.send(get("panel.latincloud.test", "/.portero/auth").cookie("portero_session", &cookie));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-portero-user"), Some("ana@latincloud.test"));
    let r = p.send(get("panel.nomask.test", "/.portero/auth").header("X-Original-URI", "/x"));
    assert_eq!(r.status, 401);
}

#[test]
fn cross_site_form_posts_are_refused() {
    let (_up, p) = start();
    let r = p.send(
        post_form(
            "panel.latincloud.test",
            "/.portero/login",
            &[("email", "root@latincloud.test"), ("return_to", "/admin")],
        )
        .header("Origin", "https://evil.test"),
    );
    assert_eq!(r.status, 403);
    assert!(r.set_cookie("portero_session_classic").is_none());
}

#[test]
fn picker_tenant_enters_only_accounts_the_user_is_in() {
    let (_up, p) = start();
    let host = "panel.picker.test";
    let cookie = sign_in(&p, host, "picker", "ana@picker.test");
    // No account chosen yet: sent to choose one.
    let r = p.send(
        get(host, "/domains")
            .html()
            .cookie("portero_session", &cookie),
    );
    assert_eq!(r.status, 302);
    assert!(
        r.location()
            .starts_with("/.portero/accounts?return_to=%2Fdomains"),
        "{}",
        r.location()
    );
    let page = p.send(
        get(host, "/.portero/accounts")
            .html()
            .cookie("portero_session", &cookie),
    );
    assert!(page.body.contains("client-one.test") && page.body.contains("client-two.test"));
    // An account the user is not in: refused, session unchanged.
    let r = p.send(
        post_form(
            host,
            "/.portero/accounts",
            &[("account", "someone-else.test"), ("return_to", "/domains")],
        )
        .cookie("portero_session", &cookie),
    );
    assert_eq!(r.status, 403);
    assert!(r.set_cookie("portero_session").is_none());
    // Another site's form: refused.
    let r = p.send(
        post_form(
            host,
            "/.portero/accounts",
            &[("account", "client-two.test"), ("return_to", "/")],
        )
        .cookie("portero_session", &cookie)
        .header("Origin", "https://evil.test"),
    );
    assert_eq!(r.status, 403);
    assert!(r.set_cookie("portero_session").is_none());
    // Their own account: entered, with that account's permissions.
    let r = p.send(
        post_form(
            host,
            "/.portero/accounts",
            &[("account", "client-two.test"), ("return_to", "/domains")],
        )
        .cookie("portero_session", &cookie)
        .header("Origin", "http://panel.picker.test"),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/domains");
    let chosen = r.set_cookie("portero_session").unwrap();
    let got = p
        .send(get(host, "/domains").cookie("portero_session", &chosen))
        .received();
    assert_eq!(got.one("x-portero-account"), Some("client-two.test"));
    assert_eq!(got.one("x-portero-permissions"), Some("commercial"));
}

#[test]
fn forward_auth_believes_the_forwarded_path_only_from_trusted_proxies() {
    let (_up, p) = start();
    // `/.portero/…` would be allowed; from an untrusted peer the header is ignored and `/` is judged.
    let r = p.send(
        get("panel.nomask.test", "/.portero/auth")
            .header("X-Forwarded-Uri", "/.portero/x")
            .header("Accept", "application/json"),
    );
    assert_eq!(r.status, 401);
    let r = p.send(
        get("panel.nomask.test", "/.portero/auth")
            .header("X-Forwarded-Uri", "/.portero/x")
            .header("Accept", "application/json")
            .from("127.0.0.2"),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn oversized_forms_are_refused() {
    let (_up, p) = start();
    let big = "a".repeat(100 * 1024);
    let r = p.send(post_form(
        "panel.latincloud.test",
        "/.portero/login",
        &[("email", &big)],
    ));
    assert_eq!(r.status, 413);
}
