//! Interop with a real, certified OpenID Provider: the npm package
//! `oidc-provider` (installed by this test into `target/interop/` on first
//! run, from `tests/interop/package-lock.json`), run by
//! `tests/interop/oidc_provider.mjs` on 127.0.0.1. The test plays the
//! browser: panel → Portero's redirect (PKCE, state, nonce) → the
//! provider's login and consent forms → callback → Portero exchanges the
//! code, verifies the ID token against the provider's keys → session → the
//! panel sees the identity. Also: a replayed callback, a code used twice,
//! `client_secret_post`, an unverified e-mail, and RP-initiated logout.
use crate::common::saml::KillOnDrop;
use crate::common::*;
use std::collections::HashMap;

const HOST: &str = "panel.oidcco.test";
const ORIGIN: &str = "http://panel.oidcco.test";

/// oidc-provider for Portero at ORIGIN.
fn start_provider(env: &[(&str, &str)]) -> (KillOnDrop, u16) {
    crate::common::oidc::start_provider(ORIGIN, env)
}

fn tenants(port: u16, extra: &str) -> String {
    format!(
        r#"
[[tenant]]
name = "oidcco"
hosts = ["panel.oidcco.test"]
upstream = "{{UPSTREAM}}"
sso_mode = "auto_redirect"
super_admins = ["root@oidcco.test"]
account = "oidcco.test"

[[tenant.member]]
user = "ana@oidcco.test"
account = "oidcco.test"
permissions = ["technical"]

[tenant.oidc]
issuer = "http://127.0.0.1:{port}"
client_id = "portero"
client_secret = "portero-secret"
single_logout = true
{extra}
"#
    )
}

fn start_portero(port: u16, extra: &str) -> (Upstream, Portero) {
    let up = Upstream::start();
    let p = Portero::start(&tenants(port, extra), &up);
    let ready = get("127.0.0.1", "/readyz").send(p.admin).body;
    assert!(ready.contains("ok OpenID discovery"), "{ready}");
    (up, p)
}

/// A browser at the provider: a cookie jar (paths ignored, as the provider
/// scopes nothing that clashes) and plain HTML forms.
struct Browser {
    port: u16,
    jar: HashMap<String, String>,
}

impl Browser {
    fn new(port: u16) -> Browser {
        Browser {
            port,
            jar: HashMap::new(),
        }
    }

    fn target(&self, url: &str) -> String {
        let base = format!("http://127.0.0.1:{}", self.port);
        url.strip_prefix(&base).unwrap_or(url).to_string()
    }

    fn send(&mut self, req: Req) -> Resp {
        let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let req = if cookies.is_empty() {
            req
        } else {
            req.header("Cookie", &cookies.join("; "))
        };
        let r = req.html().send(self.port);
        for c in r.all("set-cookie") {
            let first = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = first.split_once('=') {
                if v.is_empty() {
                    self.jar.remove(k.trim());
                } else {
                    self.jar.insert(k.trim().to_string(), v.to_string());
                }
            }
        }
        r
    }

    fn get(&mut self, url: &str) -> Resp {
        let host = format!("127.0.0.1:{}", self.port);
        let target = self.target(url);
        self.send(get(&host, &target))
    }

    fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Resp {
        let host = format!("127.0.0.1:{}", self.port);
        let target = self.target(url);
        self.send(post_form(&host, &target, form))
    }

    /// Follows the provider's redirects until one leaves it (to Portero) or
    /// a page is shown.
    fn follow(&mut self, mut r: Resp) -> Resp {
        while matches!(r.status, 302 | 303) && !r.location().starts_with(ORIGIN) {
            let next = r.location().to_string();
            r = self.get(&next);
        }
        r
    }

    /// Signs in as `login` on the dev-interaction page and consents;
    /// returns the redirect back to Portero.
    fn sign_in(&mut self, authorize: &str, login: &str) -> String {
        let first = self.get(authorize);
        let page = self.follow(first);
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(r#"name="login""#), "{}", page.body);
        let action = form_action(&page.body);
        let r = self.post(
            &action,
            &[("prompt", "login"), ("login", login), ("password", "x")],
        );
        let page = self.follow(r);
        let r = if page.status == 200 && page.body.contains(r#"value="consent""#) {
            let action = form_action(&page.body);
            let r = self.post(&action, &[("prompt", "consent")]);
            self.follow(r)
        } else {
            page
        };
        assert_eq!(r.status, 303, "{}", r.body);
        r.location().to_string()
    }
}

/// The `action` of the first form on a page.
fn form_action(html: &str) -> String {
    let form = &html[html.find("<form").unwrap()..];
    let start = form.find("action=\"").unwrap() + "action=\"".len();
    form[start..start + form[start..].find('"').unwrap()].replace("&amp;", "&")
}

/// Panel request → Portero's redirect: (authorization URL, flow cookie).
fn begin(p: &Portero) -> (String, String) {
    let r = p.send(get(HOST, "/domains?page=2").html());
    assert_eq!(r.status, 302, "{}", r.body);
    let cookie = r.set_cookie("portero_oidc").expect("flow cookie");
    (r.location().to_string(), cookie)
}

fn callback(p: &Portero, back: &str, cookie: &str) -> Resp {
    let target = back.strip_prefix(ORIGIN).unwrap();
    p.send(get(HOST, target).html().cookie("portero_oidc", cookie))
}

#[test]
fn sign_in_through_oidc_provider_with_email_from_userinfo() {
    let (_op, port) = start_provider(&[]);
    let (_up, p) = start_portero(port, "");
    let (authorize, cookie) = begin(&p);
    let q = query_map(&authorize);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["scope"], "openid email profile");
    let mut browser = Browser::new(port);
    let back = browser.sign_in(&authorize, "ana@oidcco.test");
    assert!(
        back.starts_with(&format!("{ORIGIN}/.portero/oidc/callback?code=")),
        "{back}"
    );

    let r = callback(&p, &back, &cookie);
    assert_eq!(r.status, 302, "{}\n{}", r.body, p.audit());
    assert_eq!(r.location(), "/domains?page=2");
    let session = r.set_cookie("portero_session").expect("session");
    let got = p
        .send(get(HOST, "/domains").cookie("portero_session", &session))
        .received();
    assert_eq!(got.one("x-portero-user"), Some("ana@oidcco.test"));
    assert_eq!(got.one("x-portero-auth"), Some("oidc"));
    assert_eq!(got.one("x-portero-name"), Some("Test User"));
    assert_eq!(got.one("x-portero-account"), Some("oidcco.test"));

    // The same callback again: its state was used up.
    let again = callback(&p, &back, &cookie);
    assert_eq!(again.status, 401, "{}", again.body);
    assert!(p.audit().contains("unknown_or_used_state"));

    // The code again, under a fresh state: the provider refuses it.
    let (authorize2, cookie2) = begin(&p);
    let state2 = query_map(&authorize2)["state"].clone();
    let code = query_map(&back)["code"].clone();
    let replay = format!("{ORIGIN}/.portero/oidc/callback?code={code}&state={state2}");
    let r = callback(&p, &replay, &cookie2);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(p.audit().contains("token_exchange_failed"), "{}", p.audit());

    // RP-initiated logout: Portero → the provider's end_session → back.
    let r = p.send(get(HOST, "/.portero/logout").cookie("portero_session", &session));
    assert_eq!(r.status, 302, "{}", r.body);
    let end = r.location().to_string();
    assert!(
        end.starts_with(&format!("http://127.0.0.1:{port}/session/end?")),
        "{end}"
    );
    let confirm = browser.get(&end);
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let xsrf = crate::common::saml::input_value(&confirm.body, "xsrf");
    let action = form_action(&confirm.body);
    let r = browser.post(&action, &[("xsrf", &xsrf), ("logout", "yes")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.location()
            .starts_with(&format!("{ORIGIN}/.portero/logout")),
        "{}",
        r.location()
    );
    let done = p.send(get(HOST, r.location().strip_prefix(ORIGIN).unwrap()).html());
    assert_eq!(done.status, 200, "{}", done.body);
    // The provider's session is gone: the next sign-in asks for a login.
    let (authorize3, _) = begin(&p);
    let first = browser.get(&authorize3);
    let page = browser.follow(first);
    assert!(page.body.contains(r#"name="login""#), "{}", page.body);
}

#[test]
fn client_secret_post_with_email_in_the_id_token() {
    let (_op, port) = start_provider(&[
        ("AUTH_METHOD", "client_secret_post"),
        ("EMAIL_IN_ID_TOKEN", "1"),
    ]);
    let (_up, p) = start_portero(
        port,
        "client_auth = \"client_secret_post\"\nrequire_verified_email = true",
    );
    let (authorize, cookie) = begin(&p);
    let back = Browser::new(port).sign_in(&authorize, "ana@oidcco.test");
    let r = callback(&p, &back, &cookie);
    assert_eq!(r.status, 302, "{}\n{}", r.body, p.audit());
    let session = r.set_cookie("portero_session").unwrap();
    let got = p
        .send(get(HOST, "/").cookie("portero_session", &session))
        .received();
    assert_eq!(got.one("x-portero-user"), Some("ana@oidcco.test"));
}

#[test]
fn the_wrong_client_authentication_is_refused_by_the_provider() {
    // The provider wants client_secret_post; Portero is left at basic.
    let (_op, port) = start_provider(&[("AUTH_METHOD", "client_secret_post")]);
    let (_up, p) = start_portero(port, "");
    let (authorize, cookie) = begin(&p);
    let back = Browser::new(port).sign_in(&authorize, "ana@oidcco.test");
    let r = callback(&p, &back, &cookie);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(p.audit().contains("token_exchange_failed"));
}

#[test]
fn an_unverified_email_is_refused_when_the_tenant_asks() {
    let (_op, port) = start_provider(&[("EMAIL_VERIFIED", "false")]);
    let (_up, p) = start_portero(port, "require_verified_email = true");
    let (authorize, cookie) = begin(&p);
    let back = Browser::new(port).sign_in(&authorize, "ana@oidcco.test");
    let r = callback(&p, &back, &cookie);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(p.audit().contains("email_not_verified"), "{}", p.audit());
    assert!(r.set_cookie("portero_session").is_none());
}
