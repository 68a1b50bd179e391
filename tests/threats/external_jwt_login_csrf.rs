//! Threat: login CSRF through the external-SSO hand-back. The attacker
//! signs in at the tenant's external page as themselves, keeps the valid
//! hand-back (`/.portero/jwt/callback?jwt=…`), and makes the victim's
//! browser open it: the victim would then work in the attacker's session.
//!
//! The hand-back must come to the browser that started the sign-in (a
//! server-side started sign-in, its id in the `portero_jwt` cookie and in
//! the `state` the page hands back), of this tenant, once. Unsolicited
//! hand-backs only where the tenant opts in (`allow_idp_initiated`).
use crate::common::*;

const HOST: &str = "panel.latincloud.test";

fn refused_without_session(r: &Resp) {
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.set_cookie("portero_session").is_none(),
        "no session may be set"
    );
    assert!(r.header("location").is_none());
}

/// The attacker's own, valid hand-back: they started a sign-in in their
/// browser and the external page handed them back (the URL, not followed).
fn attackers_hand_back(p: &Portero) -> String {
    let (_their_cookie, their_state) = start_external(p, HOST, "/home");
    let token = hs256(EXT_SECRET, &claims("latincloud", "eve@latincloud.test"));
    handback(&token, "/home", &their_state)
}

#[test]
fn the_external_page_gets_a_state_and_the_browser_a_bound_cookie() {
    let (_up, p) = start();
    let r = p.send(get(HOST, "/.portero/sso/external?return_to=%2Fhome").html());
    assert_eq!(r.status, 302);
    let q = query_map(r.location());
    assert_eq!(q["return_to"], "http://panel.latincloud.test/home");
    assert!(q["state"].len() >= 43, "{}", q["state"]);
    let set = r
        .all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("portero_jwt="))
        .unwrap();
    assert!(
        set.contains("HttpOnly")
            && set.contains("SameSite=Lax")
            && set.contains("Path=/.portero/jwt")
            && set.contains("Max-Age=600"),
        "{set}"
    );
    assert_eq!(r.set_cookie("portero_jwt").unwrap(), q["state"]);
}

#[test]
fn an_attackers_hand_back_in_a_browser_that_started_nothing_is_refused() {
    let (_up, p) = start();
    let url = attackers_hand_back(&p);
    // The victim's browser: no flow cookie.
    refused_without_session(&p.send(get(HOST, &url).html()));
    // Without the `state` too (as from a page that does not return it).
    let token = hs256(EXT_SECRET, &claims("latincloud", "eve@latincloud.test"));
    let bare = format!("/.portero/jwt/callback?jwt={token}&return_to=%2Fhome");
    let r = p.send(get(HOST, &bare).html());
    refused_without_session(&r);
    assert!(r.body.contains("not started in this browser"), "{}", r.body);
    let audit = p.audit();
    assert!(
        audit.contains("state_not_this_browser") || audit.contains("not started"),
        "{audit}"
    );
    let m = get("127.0.0.1", "/metrics").send(p.admin).body;
    assert!(
        m.contains(r#"kind="external_jwt",reason="state_not_this_browser""#)
            && m.contains(r#"kind="external_jwt",reason="not_started_in_this_browser""#),
        "{m}"
    );
}

#[test]
fn an_attackers_hand_back_does_not_ride_on_the_victims_started_sign_in() {
    let (_up, p) = start();
    // The victim is in the middle of signing in (has a started sign-in).
    let (victim_cookie, victim_state) = start_external(&p, HOST, "/mail");
    let url = attackers_hand_back(&p);
    let r = p.send(get(HOST, &url).html().cookie("portero_jwt", &victim_cookie));
    refused_without_session(&r);
    // The victim's own sign-in is untouched and finishes where it was going.
    let token = hs256(EXT_SECRET, &claims("latincloud", "ana@latincloud.test"));
    let r = p.send(
        get(HOST, &handback(&token, "/mail", &victim_state))
            .html()
            .cookie("portero_jwt", &victim_cookie),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/mail");
    let session = r.set_cookie("portero_session").unwrap();
    let got = p
        .send(get(HOST, "/mail").cookie("portero_session", &session))
        .received();
    assert_eq!(got.one("x-portero-user"), Some("ana@latincloud.test"));
    // The flow cookie is cleared.
    assert_eq!(r.set_cookie("portero_jwt").as_deref(), Some(""));
}

#[test]
fn a_started_sign_in_finishes_once_and_only_for_its_tenant() {
    let (_up, p) = start();
    let (cookie, state) = start_external(&p, HOST, "/home");
    // nomask shares latincloud's secret; its token with latincloud's
    // started sign-in (the cookie replayed to nomask's host) is refused.
    let nomask = hs256(EXT_SECRET, &claims("nomask", "ana@nomask.test"));
    let r = p.send(
        get("panel.nomask.test", &handback(&nomask, "/", &state))
            .html()
            .cookie("portero_jwt", &cookie),
    );
    refused_without_session(&r);
    assert!(p.audit().contains("another site"), "{}", p.audit());
    // Taken out on that first use: even the right token cannot use it now.
    let token = hs256(EXT_SECRET, &claims("latincloud", "ana@latincloud.test"));
    let r = p.send(
        get(HOST, &handback(&token, "/home", &state))
            .html()
            .cookie("portero_jwt", &cookie),
    );
    refused_without_session(&r);
    assert!(
        r.body.contains("unknown, expired or was already used"),
        "{}",
        r.body
    );
}

#[test]
fn the_way_back_is_the_one_the_sign_in_started_with() {
    let (_up, p) = start();
    let (cookie, state) = start_external(&p, HOST, "/domains?x=1");
    let token = hs256(EXT_SECRET, &claims("latincloud", "ana@latincloud.test"));
    // A page (or an attacker) changing return_to on the way back does not
    // choose where the browser lands.
    let r = p.send(
        get(HOST, &handback(&token, "/admin/delete-everything", &state))
            .html()
            .cookie("portero_jwt", &cookie),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/domains?x=1");
}

const OPTED_IN: &str = r#"
[[tenant]]
name = "latincloud"
hosts = ["panel.latincloud.test"]
upstream = "{UPSTREAM}"
account = "latincloud.test"

[[tenant.member]]
user = "ana@latincloud.test"
account = "latincloud.test"
permissions = ["technical"]

[tenant.external_sso]
url = "https://login.latincloud.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
allow_idp_initiated = true
"#;

#[test]
fn unsolicited_hand_backs_only_where_the_tenant_allows_them() {
    let up = Upstream::start();
    let p = Portero::start(OPTED_IN, &up);
    let token = hs256(EXT_SECRET, &claims("latincloud", "ana@latincloud.test"));
    let r = p.send(
        get(
            HOST,
            &format!("/.portero/jwt/callback?jwt={token}&return_to=%2F%2Fevil.test%2Fx"),
        )
        .html(),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/", "return_to still kept to the tenant");
    assert!(r.set_cookie("portero_session").is_some());
    // A `state` that names no started sign-in is refused even here.
    let token = hs256(EXT_SECRET, &claims("latincloud", "ana@latincloud.test"));
    let r = p.send(get(HOST, &handback(&token, "/", "made-up-state")).html());
    refused_without_session(&r);
}
