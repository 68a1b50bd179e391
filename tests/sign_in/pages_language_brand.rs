//! Pages in the visitor's language (or the tenant's), white-label: the
//! tenant's product name, logo and colours, and no mention of Portero
//! unless the tenant asks for it.
use crate::common::*;

const TENANTS: &str = r##"
[[tenant]]
name = "miempresa"
display_name = "Miempresa ID"
hosts = ["panel.miempresa.test"]
upstream = "{UPSTREAM}"
account = "miempresa.test"

[tenant.brand]
logo = "{DIR}/logo.svg"
primary_color = "#0b7a4b"

[tenant.external_sso]
url = "https://login.miempresa.test/sso"
jwt_key = "env:EXT_SSO_SECRET"

[[tenant]]
name = "siempre"
display_name = "Siempre Hosting"
hosts = ["panel.siempre.test"]
upstream = "{UPSTREAM}"
account = "siempre.test"
language = "es"

[tenant.external_sso]
url = "https://login.siempre.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
"##;

const LOGO: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>"#;

/// The text of a page, without tags (what a visitor reads).
fn visible(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn the_browser_or_the_tenant_chooses_the_language_and_the_brand_is_the_tenants() {
    let up = Upstream::start();
    let p = Portero::start_with(
        &format!("{SERVER_AND_SESSION}\n{TENANTS}"),
        &up,
        &[("logo.svg", LOGO)],
    );
    let page = |host: &str, lang: &str| {
        p.send(
            get(host, "/.portero/login")
                .html()
                .header("Accept-Language", lang),
        )
    };
    let en = page("panel.miempresa.test", "en-GB,en;q=0.9");
    assert!(
        en.body.contains(r#"<html lang="en">"#) && en.body.contains(">Continue<"),
        "{}",
        en.body
    );
    let es = page("panel.miempresa.test", "es-AR,es;q=0.9,en;q=0.5");
    assert!(
        es.body.contains(r#"<html lang="es">"#) && es.body.contains(">Continuar<"),
        "{}",
        es.body
    );
    // The tenant fixes Spanish whatever the browser prefers.
    let fixed = page("panel.siempre.test", "en-US");
    assert!(fixed.body.contains(">Iniciar sesión<"), "{}", fixed.body);

    // White-label: the logo (named by the product), the colours, no Portero.
    assert!(
        en.body
            .contains(r#"src="/.portero/assets/logo" alt="Miempresa ID""#),
        "{}",
        en.body
    );
    assert!(!visible(&en.body).contains("Portero"), "{}", en.body);
    let logo = p.send(get("panel.miempresa.test", "/.portero/assets/logo"));
    assert_eq!(logo.header("content-type"), Some("image/svg+xml"));
    assert_eq!(logo.body, LOGO);
    let css = p.send(get("panel.miempresa.test", "/.portero/assets/tenant.css"));
    assert!(css.body.contains("#0b7a4b"), "{}", css.body);
    // Error pages too.
    let missing = p.send(get("panel.miempresa.test", "/.portero/nothing").html());
    assert_eq!(missing.status, 404);
    assert!(
        !visible(&missing.body).contains("Portero"),
        "{}",
        missing.body
    );
}
