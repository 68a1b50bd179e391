//! The profile page (`/.portero/profile`) through the real binary and a
//! real SQLite store: a person sets their display name and the panel's
//! `X-Portero-Name` carries it from the very next request (it wins over the
//! identity provider's); clearing it gives the provider's back; with
//! `lock_provisioned_fields` the provider's name is shown read-only and a
//! change is refused; a tenant whose people are not in the store gets the
//! page read-only; forms from another site change nothing.
use crate::common::*;

const TENANTS: &str = r#"
[[tenant]]
name = "libros"
hosts = ["panel.libros.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
account_picker = true
provision = true

[tenant.external_sso]
url = "https://login.libros.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"

[[tenant]]
name = "cerrado"
hosts = ["panel.cerrado.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
account = "cerrado.test"
provision = true
refresh_profile = true
lock_provisioned_fields = true

[tenant.external_sso]
url = "https://login.cerrado.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"

[[tenant]]
name = "fijo"
hosts = ["panel.fijo.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
account = "fijo.test"

[[tenant.member]]
account = "fijo.test"
user = "ana@fijo.test"
permissions = ["technical"]

[tenant.external_sso]
url = "https://login.fijo.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
jwt_alg = "HS256"
"#;

const HOST: &str = "panel.libros.test";
const ORIGIN: &str = "http://panel.libros.test";
const PROFILE: &str = "/.portero/profile";

fn start() -> (Upstream, Portero) {
    let up = Upstream::start();
    let p = Portero::start(TENANTS, &up);
    for (tenant, account, user) in [
        ("libros", "libros.test", "ana@libros.test"),
        ("cerrado", "cerrado.test", "ana@cerrado.test"),
    ] {
        let r = post_form(
            "127.0.0.1",
            &format!("/tenants/{tenant}/members"),
            &[
                ("action", "add"),
                ("account", account),
                ("user", user),
                ("permissions", "admin"),
            ],
        )
        .send(p.admin);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    (up, p)
}

/// The name the panel receives for `session` on `host` (whose account is
/// already chosen or fixed).
fn panel_name(p: &Portero, host: &str, session: &str) -> Option<String> {
    let r = p.send(get(host, "/").cookie("portero_session", session));
    r.received().one("x-portero-name").map(str::to_string)
}

/// Saves `name` on the profile page of `host`, sent from `origin`.
fn save(p: &Portero, host: &str, origin: &str, session: &str, name: &str) -> Resp {
    p.send(
        post_form(host, PROFILE, &[("name", name)])
            .html()
            .header("Origin", origin)
            .cookie("portero_session", session),
    )
}

/// Ana's session on libros with libros.test chosen.
fn entered(p: &Portero) -> String {
    let ana = sign_in(p, HOST, "libros", "ana@libros.test");
    let r = p.send(
        post_form(
            HOST,
            "/.portero/accounts",
            &[("account", "libros.test"), ("return_to", "/")],
        )
        .header("Origin", ORIGIN)
        .cookie("portero_session", &ana),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    r.set_cookie("portero_session").unwrap()
}

#[test]
fn a_name_set_on_the_profile_is_what_the_panel_gets_next() {
    let (_up, p) = start();
    let ana = entered(&p);
    // The provider's name ("Test User", provisioned) to begin with.
    assert_eq!(panel_name(&p, HOST, &ana).as_deref(), Some("Test User"));
    let page = p.send(get(HOST, PROFILE).html().cookie("portero_session", &ana));
    assert_eq!(page.status, 200, "{}", page.body);
    for want in [
        "<h1>Your profile</h1>",
        "<dd>Test User</dd>",
        "<dd>ana@libros.test</dd>",
        "<dd>External sign-in page</dd>",
        "name=\"name\"",
        "placeholder=\"Test User\"",
        "<a href=\"/.portero/accounts\">libros.test</a> (current)",
        "Administrator",
    ] {
        assert!(page.body.contains(want), "{want}: {}", page.body);
    }
    // The accounts page leads here.
    let accounts = p.send(
        get(HOST, "/.portero/accounts")
            .html()
            .cookie("portero_session", &ana),
    );
    assert!(
        accounts.body.contains("href=\"/.portero/profile\""),
        "{}",
        accounts.body
    );

    // Ana sets her name: the panel's very next request carries it.
    let r = save(&p, HOST, ORIGIN, &ana, "  Ana Lopez ");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains("Your name was saved.") && r.body.contains("<dd>Ana Lopez</dd>"),
        "{}",
        r.body
    );
    assert_eq!(panel_name(&p, HOST, &ana).as_deref(), Some("Ana Lopez"));
    // A new sign-in (the provider's name again in the session) keeps it.
    let again = entered(&p);
    assert_eq!(panel_name(&p, HOST, &again).as_deref(), Some("Ana Lopez"));

    // Refused without a change: another site's form, a name with a line
    // break, a name too long, a name sent twice.
    let r = save(&p, HOST, "http://evil.test", &ana, "Mallory");
    assert_eq!(r.status, 403, "{}", r.body);
    let r = save(
        &p,
        HOST,
        ORIGIN,
        &ana,
        "Ana\r\nX-Portero-Permissions: admin",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = save(&p, HOST, ORIGIN, &ana, &"a".repeat(101));
    assert_eq!(r.status, 400, "{}", r.body);
    let r = p.send(
        post_form(HOST, PROFILE, &[("name", "Ana"), ("name", "Mallory")])
            .html()
            .header("Origin", ORIGIN)
            .cookie("portero_session", &ana),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(panel_name(&p, HOST, &ana).as_deref(), Some("Ana Lopez"));

    // Cleared: the provider's name again.
    let r = save(&p, HOST, ORIGIN, &ana, "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(panel_name(&p, HOST, &ana).as_deref(), Some("Test User"));

    // In Spanish.
    let es = p.send(
        get(HOST, PROFILE)
            .html()
            .header("Accept-Language", "es")
            .cookie("portero_session", &ana),
    );
    assert!(
        es.body.contains("Su perfil") && es.body.contains("Página de acceso externa"),
        "{}",
        es.body
    );
    let audit = p.audit();
    assert!(
        audit.contains("\"event\":\"profile\"")
            && audit.contains("display name set to \\\"Ana Lopez\\\" (profile page)")
            && audit.contains("display name cleared"),
        "{audit}"
    );
}

#[test]
fn with_lock_provisioned_fields_the_providers_name_is_read_only() {
    let (_up, p) = start();
    let host = "panel.cerrado.test";
    let ana = sign_in(&p, host, "cerrado", "ana@cerrado.test");
    assert_eq!(panel_name(&p, host, &ana).as_deref(), Some("Test User"));
    let page = p.send(get(host, PROFILE).html().cookie("portero_session", &ana));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<dd>Test User</dd>")
            && page.body.contains("managed by your sign-in provider")
            && !page.body.contains("name=\"name\""),
        "{}",
        page.body
    );
    let r = save(&p, host, "http://panel.cerrado.test", &ana, "Someone Else");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("managed by your sign-in provider"),
        "{}",
        r.body
    );
    assert_eq!(panel_name(&p, host, &ana).as_deref(), Some("Test User"));
    assert!(
        p.audit().contains("display name not changed"),
        "{}",
        p.audit()
    );
}

#[test]
fn a_tenant_without_the_store_shows_the_profile_read_only() {
    let (_up, p) = start();
    let host = "panel.fijo.test";
    let ana = sign_in(&p, host, "fijo", "ana@fijo.test");
    let page = p.send(get(host, PROFILE).html().cookie("portero_session", &ana));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<dd>Test User</dd>")
            && page.body.contains("cannot be changed on this page")
            && page.body.contains("fijo.test")
            && !page.body.contains("name=\"name\""),
        "{}",
        page.body
    );
    let r = save(&p, host, "http://panel.fijo.test", &ana, "Ana");
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(panel_name(&p, host, &ana).as_deref(), Some("Test User"));
    // Without a session: to sign in (browsers) or 401.
    let r = p.send(get(host, PROFILE).html());
    assert_eq!(r.status, 302);
    let r = p.send(get(host, PROFILE));
    assert_eq!(r.status, 401);
}
