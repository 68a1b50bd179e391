//! An invitation link (or the accounts page) opened before signing in goes
//! to the identifier-first page; the e-mail typed there must lead on to the
//! tenant's sign-in and back — it looped back to the same empty sign-in
//! page, and only the SSO button got through.
use crate::common::*;

const TENANT: &str = r#"
[[tenant]]
name = "libros"
hosts = ["panel.libros.test"]
upstream = "{UPSTREAM}"
sso_mode = "login_page"
account_picker = true

[tenant.external_sso]
url = "https://login.libros.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"
"#;

const HOST: &str = "panel.libros.test";

fn admin_form(p: &Portero, form: &[(&str, &str)]) -> serde_json::Value {
    let r = post_form("127.0.0.1", "/tenants/libros/members", form).send(p.admin);
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

/// Follows the sign-in page for `target` with `email` typed; returns the
/// session the hand-back made and where it led.
fn through_the_e_mail_page(p: &Portero, target: &str, email: &str) -> (String, String) {
    let r = p.send(get(HOST, target).html());
    assert_eq!(r.status, 302, "{}", r.body);
    let login = r.location().to_string();
    assert!(login.starts_with("/.portero/login?return_to="), "{login}");
    let page = p.send(get(HOST, &login).html());
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"email\""), "{}", page.body);
    let return_to = query_map(&login)["return_to"].clone();
    let r = p.send(
        post_form(
            HOST,
            "/.portero/login",
            &[("email", email), ("return_to", &return_to)],
        )
        .html(),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let to = r.location().to_string();
    assert!(
        to.starts_with("https://login.libros.test/sso?"),
        "the e-mail leads on to the sign-in, not back to {to}"
    );
    let q = query_map(&to);
    assert_eq!(q["login_hint"], email);
    assert_eq!(q["return_to"], format!("http://{HOST}{target}"));
    // The external page hands back; the way leads to the target.
    // (with the state it was given, in the browser that started it).
    let flow = r.set_cookie("portero_jwt").expect("flow cookie");
    let jwt = hs256(EXT_SECRET, &claims("libros", email));
    let back = p.send(
        get(HOST, &handback(&jwt, &q["return_to"], &q["state"]))
            .html()
            .cookie("portero_jwt", &flow),
    );
    assert_eq!(back.status, 302, "{}", back.body);
    (
        back.set_cookie("portero_session").unwrap(),
        back.location().to_string(),
    )
}

#[test]
fn an_invitation_opened_before_signing_in_leads_through_the_e_mail_page() {
    let up = Upstream::start();
    let p = Portero::start(TENANT, &up);
    admin_form(
        &p,
        &[
            ("action", "add"),
            ("account", "libros.test"),
            ("user", "rosa@libros.test"),
            ("permissions", "admin"),
        ],
    );
    let invited = admin_form(
        &p,
        &[
            ("action", "invite"),
            ("actor", "rosa@libros.test"),
            ("account", "libros.test"),
            ("email", "new@libros.test"),
            ("permissions", "technical"),
        ],
    );
    let link = invited["link"].as_str().unwrap().to_string();
    let (session, landed) = through_the_e_mail_page(&p, &link, "new@libros.test");
    assert!(landed.ends_with(&link), "{landed}");
    let page = p.send(get(HOST, &link).html().cookie("portero_session", &session));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Accept"), "{}", page.body);

    // The accounts page the same way.
    let (session, landed) = through_the_e_mail_page(&p, "/.portero/accounts", "rosa@libros.test");
    assert!(landed.ends_with("/.portero/accounts"), "{landed}");
    let page = p.send(
        get(HOST, "/.portero/accounts")
            .html()
            .cookie("portero_session", &session),
    );
    assert_eq!(page.status, 200);
    assert!(page.body.contains("libros.test"), "{}", page.body);
}
