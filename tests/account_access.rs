//! Threat: a signed-in user enters an account they have no part in, or is
//! caught in a redirect loop. CONTRACT §5 rule 3 and §7.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;
use common::*;

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
    assert!(r.body.contains("invite,technical"), "{}", r.body);
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
