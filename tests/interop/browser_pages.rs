//! Portero's pages and sign-in flows in a real browser: headless Chromium
//! (Debian's `chromium`) driven by playwright-core (`tests/browser/drive.mjs`),
//! against the real binary, a real panel on 127.0.0.1 and real IdPs started
//! by the tests (SimpleSAMLphp, oidc-provider). Every `*.test` host resolves
//! to 127.0.0.1 inside the browser. Each step can save a screenshot:
//! `target/browser-shots/<test>/`, or `docs/screenshots/` with
//! `PORTERO_SCREENSHOTS=docs`. Every page of Portero's shot (`page-*`)
//! must fit its window (no sideways scrolling, nothing past the right
//! edge), and the account pages are checked on a phone (390 px) too.
use crate::common::simplesamlphp::SimpleSamlPhp;
use crate::common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A phone's window (`{"size": PHONE}`), and back to the desktop's.
pub(crate) const PHONE: [u32; 2] = [390, 844];
pub(crate) const DESKTOP: [u32; 2] = [900, 700];

/// Where a test's screenshots go.
fn shots(test: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = if std::env::var("PORTERO_SCREENSHOTS").as_deref() == Ok("docs") {
        root.join("docs/screenshots")
    } else {
        root.join("target/browser-shots").join(test)
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs one plan in Chromium; panics with what the browser saw on failure.
fn drive(test: &str, steps: Value) -> Value {
    drive_in(test, "en-US,en", steps)
}

/// Runs one plan with this `Accept-Language`.
pub(crate) fn drive_in(test: &str, language: &str, steps: Value) -> Value {
    drive_sized(test, language, (900, 700), steps)
}

/// Runs one plan with this `Accept-Language` in a window of this size.
fn drive_sized(test: &str, language: &str, (width, height): (u32, u32), steps: Value) -> Value {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: scripts/test.sh installs it (apt-get install chromium)"
    );
    // Every page of Portero's own that is shot must fit its window.
    let steps: Vec<Value> = steps
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|step| {
            let fits = step["shot"]
                .as_str()
                .filter(|name| name.starts_with("page-"))
                .map(|name| json!({ "fits": name }));
            fits.into_iter().chain([step.clone()])
        })
        .collect();
    let node = crate::common::oidc::node_dir();
    let plan = json!({"shots": shots(test), "steps": steps, "language": language, "width": width, "height": height});
    let out = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/drive.mjs"))
        .arg(plan.to_string())
        .env("NODE_PEERS_DIR", node)
        .output()
        .expect("node is needed");
    let text = String::from_utf8_lossy(&out.stdout);
    let result: Value = serde_json::from_str(text.trim()).unwrap_or_else(|_| {
        panic!(
            "drive.mjs: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(result["ok"], true, "{test}: {result:#}");
    result
}

fn last_text(result: &Value) -> String {
    result["texts"]
        .as_array()
        .and_then(|t| t.last())
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn texts(result: &Value) -> Vec<String> {
    result["texts"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn saml_sign_in_and_single_logout_through_simplesamlphp() {
    let port = free_port();
    let origin = format!("http://panel.samlco.test:{port}");
    let ssp = SimpleSamlPhp::start(&origin);
    let up = Upstream::start();
    let tenants = format!(
        r#"
[[tenant]]
name = "samlco"
display_name = "SamlCo Hosting"
hosts = ["panel.samlco.test"]
upstream = "{{UPSTREAM}}"
sso_mode = "auto_redirect"
account = "samlco.test"

[[tenant.member]]
user = "ana@samlco.test"
account = "samlco.test"
permissions = ["technical", "invite"]
{}"#,
        SimpleSamlPhp::SAML_SECTION
    );
    let files = ssp.files();
    let files: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let _p = Portero::start_on(
        port,
        &format!("{SERVER_AND_SESSION}\n{tenants}"),
        &up,
        &files,
    );
    let result = drive(
        "saml",
        json!([
            {"go": format!("{origin}/domains?page=2")},
            {"waitUrl": format!("127.0.0.1:{}", ssp.port)},
            {"shot": "saml-1-idp-login"},
            {"fill": "input[name=username]", "value": "ana"},
            {"fill": "input[name=password]", "value": "anapass"},
            {"click": "#submit_button"},
            {"waitUrl": format!("{origin}/domains?page=2")},
            {"text": true},
            {"shot": "saml-2-panel"},
            {"go": format!("{origin}/.portero/logout")},
            {"waitUrl": "/.portero/saml/slo"},
            {"text": true},
            {"shot": "saml-3-signed-out"},
        ]),
    );
    let t = texts(&result);
    assert!(t[0].contains("x-portero-user: ana@samlco.test"), "{}", t[0]);
    assert!(t[0].contains("x-portero-auth: saml"), "{}", t[0]);
    assert!(t[0].contains("x-portero-name: Ana Perez"), "{}", t[0]);
    assert!(t[1].contains("signed out"), "{}", t[1]);
}

#[test]
fn oidc_sign_in_through_oidc_provider() {
    let port = free_port();
    let origin = format!("http://panel.oidcco.test:{port}");
    let (_op, op_port) = crate::common::oidc::start_provider(&origin, &[]);
    let up = Upstream::start();
    let tenants = format!(
        r#"
[[tenant]]
name = "oidcco"
display_name = "OidcCo Hosting"
hosts = ["panel.oidcco.test"]
upstream = "{{UPSTREAM}}"
sso_mode = "auto_redirect"
account = "oidcco.test"

[[tenant.member]]
user = "ana@oidcco.test"
account = "oidcco.test"
permissions = ["technical"]

[tenant.oidc]
issuer = "http://127.0.0.1:{op_port}"
client_id = "portero"
client_secret = "portero-secret"
"#
    );
    let _p = Portero::start_on(port, &format!("{SERVER_AND_SESSION}\n{tenants}"), &up, &[]);
    let result = drive(
        "oidc",
        json!([
            {"go": format!("{origin}/")},
            {"waitUrl": format!("127.0.0.1:{op_port}/interaction/")},
            {"shot": "oidc-1-provider-login"},
            {"fill": "input[name=login]", "value": "ana@oidcco.test"},
            {"fill": "input[name=password]", "value": "x"},
            {"click": "button[type=submit]"},
            {"waitUrl": "/interaction/"},
            {"shot": "oidc-2-provider-consent"},
            {"click": "button[type=submit]"},
            {"waitUrl": format!("{origin}/")},
            {"text": true},
            {"shot": "oidc-3-panel"},
        ]),
    );
    let t = last_text(&result);
    assert!(t.contains("x-portero-user: ana@oidcco.test"), "{t}");
    assert!(t.contains("x-portero-auth: oidc"), "{t}");
}

const PAGES: &str = r##"
[[tenant]]
name = "miempresa"
display_name = "Miempresa ID"
hosts = ["panel.miempresa.test", "*.miempresa.test"]
upstream = "{UPSTREAM}"
sso_mode = "login_page"
super_admins = ["root@miempresa.test"]
superadmin_bypass = true
admin_paths = ["/admin"]
account_picker = true

[[tenant.client_account]]
name = "cliente1.test"
reseller = "miempresa.test"

[[tenant.member]]
user = "rosa@miempresa.test"
account = "miempresa.test"
permissions = ["admin"]

[[tenant.member]]
user = "dario@miempresa.test"
account = "cliente1.test"
permissions = ["technical"]

[[tenant.member]]
user = "kim@miempresa.test"
account = "miempresa.test"
permissions = ["technical"]
impersonate = "ghost"

[tenant.external_sso]
url = "https://login.miempresa.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
# The browser is handed back without passing through a real external page.
allow_idp_initiated = true

[[tenant]]
name = "idpdown"
display_name = "Nube Hosting"
hosts = ["panel.idpdown.test"]
upstream = "{UPSTREAM}"
sso_mode = "auto_redirect"
superadmin_bypass = true
admin_paths = ["/admin"]
super_admins = ["root@idpdown.test"]
account = "idpdown.test"

[tenant.brand]
primary_color = "#0b7a4b"
background_color = "#eef6f1"
powered_by = true

[tenant.saml]
idp_metadata = "http://{DEAD}/metadata"

[[tenant]]
name = "tienda"
display_name = "Tienda Cloud"
hosts = ["panel.tienda.test"]
upstream = "{UPSTREAM}"
sso_mode = "sso_buttons_only"
account = "tienda.test"

[tenant.external_sso]
url = "https://login.tienda.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
# The browser is handed back without passing through a real external page.
allow_idp_initiated = true

[[tenant]]
name = "caido"
display_name = "Caido Hosting"
hosts = ["panel.caido.test"]
upstream = "{DEAD}"
account = "caido.test"

[[tenant.member]]
user = "ana@caido.test"
account = "caido.test"
permissions = ["technical"]

[tenant.external_sso]
url = "https://login.caido.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
# The browser is handed back without passing through a real external page.
allow_idp_initiated = true
"##;

/// A hand-back URL that signs `email` in to `tenant` on `origin`.
fn hand_back(origin: &str, tenant: &str, email: &str, return_to: &str) -> String {
    let token = hs256(EXT_SECRET, &claims(tenant, email));
    format!(
        "{origin}/.portero/jwt/callback?jwt={token}&return_to={}",
        form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
    )
}

#[test]
fn sign_in_page_super_admin_classic_login_account_picker_and_error_pages() {
    let port = free_port();
    let origin = format!("http://panel.miempresa.test:{port}");
    let up = Upstream::start();
    let p = Portero::start_on(port, &format!("{SERVER_AND_SESSION}\n{PAGES}"), &up, &[]);
    for (lang, accept) in [("en", "en-US,en;q=0.9"), ("es", "es-AR,es;q=0.9,en;q=0.5")] {
        tour(&origin, port, lang, accept);
        invitation_and_buttons_only(&p, port, lang, accept);
    }
    // On a phone.
    let result = drive_sized(
        "pages",
        "es-AR,es",
        (390, 780),
        json!([
            {"go": format!("{origin}/.portero/login")},
            {"shot": "page-sign-in-phone-es"},
            {"text": true},
        ]),
    );
    assert!(last_text(&result).contains("Correo electrónico"));
}

/// A tenant on the embedded store with SSO buttons only: its sign-in page,
/// and an invitation someone opens.
fn invitation_and_buttons_only(p: &Portero, port: u16, lang: &str, accept: &str) {
    let origin = format!("http://panel.tienda.test:{port}");
    let email = format!("nuevo-{lang}@tienda.test");
    let seed = post_form(
        "127.0.0.1",
        "/tenants/tienda/members",
        &[
            ("action", "add"),
            ("account", "tienda.test"),
            ("user", "jefa@tienda.test"),
            ("permissions", "admin"),
        ],
    )
    .send(p.admin);
    assert_eq!(seed.status, 200, "{}", seed.body);
    let invited = post_form(
        "127.0.0.1",
        "/tenants/tienda/members",
        &[
            ("action", "invite"),
            ("actor", "jefa@tienda.test"),
            ("account", "tienda.test"),
            ("email", &email),
            ("permissions", "invite,technical"),
        ],
    )
    .send(p.admin);
    let link: Value = serde_json::from_str(&invited.body).unwrap();
    let link = link["link"].as_str().unwrap().to_string();
    let shot = |name: &str| json!({"shot": format!("page-{name}-{lang}")});
    let result = drive_in(
        "pages",
        accept,
        json!([
            {"go": format!("{origin}/.portero/login")},
            shot("sign-in-buttons-only"),
            {"go": hand_back(&origin, "tienda", &email, "/")},
            // The invitation waits on the accounts page too.
            {"go": format!("{origin}/.portero/accounts")},
            {"text": true},
            shot("accounts-invitations"),
            {"size": PHONE},
            {"fits": "the accounts page with an invitation, on a phone"},
            {"size": DESKTOP},
            {"go": format!("{origin}{link}")},
            {"text": true},
            shot("invitation"),
            {"size": PHONE},
            {"fits": "the invitation on a phone"},
            {"size": DESKTOP},
            {"click": "form:has(input[value=accept]) button"},
            {"text": true},
            shot("invitation-accepted"),
            // The profile: the name the person may set, the way they signed in.
            {"go": format!("{origin}/.portero/profile")},
            {"text": true},
            shot("profile"),
            {"size": PHONE},
            shot("profile-phone"),
            {"size": DESKTOP},
            // Inviting with Invite and Technical only: the permissions the
            // inviter does not hold are offered disabled, with why.
            {"go": format!("{origin}/.portero/accounts/members?account=tienda.test")},
            {"open": "form:has(input[name=action][value=invite]) details"},
            {"text": true},
            shot("invite-own-permissions"),
            {"size": PHONE},
            {"fits": "the invite form on a phone"},
        ]),
    );
    let t = texts(&result);
    let (waiting, in_words, signed_in_with, held, not_held) = if lang == "es" {
        (
            "Invitaciones para usted",
            "Invitar, Técnico",
            "Página de acceso externa",
            "Sin elegir, la persona invitada recibe lo que usted tiene: Invitar, Técnico.",
            "Usted no tiene este permiso",
        )
    } else {
        (
            "Invitations for you",
            "Invite, Technical",
            "External sign-in page",
            "Without a choice, the invited person gets what you hold: Invite, Technical.",
            "You do not hold this permission",
        )
    };
    assert!(
        t[0].contains(waiting) && t[0].contains("tienda.test"),
        "{}",
        t[0]
    );
    // The permissions in words, not their names.
    assert!(t[1].contains(&email) && t[1].contains(in_words), "{}", t[1]);
    assert!(t[2].contains("tienda.test"), "{}", t[2]);
    assert!(
        t[3].contains(&email) && t[3].contains(signed_in_with),
        "{}",
        t[3]
    );
    assert!(
        t[4].contains(held) && t[4].matches(not_held).count() == 3,
        "{}",
        t[4]
    );
}

/// Every page a visitor may meet, in one language; screenshots `page-*-<lang>`.
fn tour(origin: &str, port: u16, lang: &str, accept: &str) {
    let shot = |name: &str| json!({"shot": format!("page-{name}-{lang}")});
    // The sign-in page, and the super-admin's way to the classic login.
    let result = drive_in(
        "pages",
        accept,
        json!([
            {"go": format!("{origin}/admin/users")},
            {"waitUrl": "/.portero/login"},
            {"text": true},
            shot("sign-in"),
            {"fill": "input[name=email]", "value": "root@miempresa.test"},
            {"click": "button[type=submit]"},
            {"waitUrl": format!("{origin}/admin/users")},
            {"text": true},
        ]),
    );
    let t = texts(&result);
    let sign_in_word = if lang == "es" {
        "Iniciar sesión"
    } else {
        "Sign in"
    };
    assert!(t[0].contains(sign_in_word), "{lang}: {}", t[0]);
    assert!(
        t[1].contains("PATH /admin/users"),
        "the panel's classic login is reached: {}",
        t[1]
    );
    assert!(
        !t[1].contains("x-portero-user"),
        "no identity for the classic login: {}",
        t[1]
    );

    // The account picker: Rosa (reseller admin) enters a client account by sublogin.
    let result = drive_in(
        "pages",
        accept,
        json!([
            {"go": hand_back(origin, "miempresa", "rosa@miempresa.test", "/")},
            {"waitUrl": "/.portero/accounts"},
            shot("accounts"),
            {"click": "form:has(input[value='cliente1.test']) button"},
            {"waitUrl": format!("{origin}/")},
            {"text": true},
            {"go": format!("{origin}/.portero/logout")},
            {"text": true},
            shot("signed-out"),
        ]),
    );
    let t = texts(&result);
    assert!(
        t[0].contains("x-portero-account: cliente1.test"),
        "{}",
        t[0]
    );
    assert!(
        t[0].contains("x-portero-permissions: commercial,invite,technical"),
        "{}",
        t[0]
    );

    // No membership (403, leading to the accounts page), the panel down,
    // the IdP down (naming the super-admin way in; a white-label tenant
    // with its own colours that asked for "Secured by Portero").
    let other = format!("http://panel.caido.test:{port}");
    let down = format!("http://panel.idpdown.test:{port}");
    let result = drive_in(
        "pages",
        accept,
        json!([
            {"go": hand_back(&other, "caido", "eve@caido.test", "/")},
            {"text": true},
            shot("forbidden"),
            {"go": hand_back(&other, "caido", "ana@caido.test", "/")},
            {"text": true},
            shot("upstream-down"),
            {"go": format!("{down}/")},
            {"text": true},
            shot("idp-down"),
            {"go": format!("{origin}/.portero/jwt/callback?jwt=not.a.token&return_to=%2F")},
            {"text": true},
            shot("sign-in-refused"),
            // Kim's only account, nothing pending: straight in, no picker.
            {"go": hand_back(origin, "miempresa", "kim@miempresa.test", "/")},
            {"text": true},
            shot("unknown-panel-user"),
        ]),
    );
    let t = texts(&result);
    assert!(t[4].contains("ghost"), "{}", t[4]);
    for page in &t[..2] {
        assert!(
            !page.contains("Portero"),
            "white-label pages do not name Portero: {page}"
        );
    }
    assert!(
        t[2].contains("/admin") && t[2].contains("Portero"),
        "{}",
        t[2]
    );
}
