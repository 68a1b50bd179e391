//! Portero behind a front proxy (docs/front-proxies.md), each fact below
//! believed only from a peer in `[server].trusted_proxies` (127.0.0.2
//! here; 127.0.0.1 is not):
//!
//! * nginx `auth_request` carries only allow or deny: a browser's `401`
//!   names where that browser signs in (`Location`), for the kit's
//!   `error_page 401` to redirect to;
//! * Traefik `forwardAuth` addresses Portero itself in `Host`: the host
//!   asked about is its `X-Forwarded-Host`, on `/.portero/auth` only;
//! * a proxy that ends TLS says so in `X-Forwarded-Proto: https`: cookies,
//!   form origin checks and the panel's `X-Forwarded-Proto` follow it.
use crate::common::*;

const TRUSTED: &str = "127.0.0.2";

/// nginx's question about `uri` on `host`, from a trusted proxy.
fn nginx_asks(host: &str, uri: &str) -> Req {
    get(host, "/.portero/auth")
        .header("X-Original-URI", uri)
        .from(TRUSTED)
}

#[test]
fn nginx_is_told_where_a_refused_browser_signs_in() {
    let (_up, p) = start();
    // A login-page tenant: the sign-in page, with the way back.
    let r = p.send(nginx_asks("panel.picker.test", "/domains?x=1").html());
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.location(), "/.portero/login?return_to=%2Fdomains%3Fx%3D1");
    // An auto-redirect tenant: the identity provider's start.
    let r = p.send(nginx_asks("panel.nomask.test", "/domains").html());
    assert_eq!(r.status, 401);
    assert_eq!(r.location(), "/.portero/sso/external?return_to=%2Fdomains");
    // Not a browser: a 401 with nowhere to go.
    let r = p.send(nginx_asks("panel.nomask.test", "/domains"));
    assert_eq!(r.status, 401);
    assert_eq!(r.header("location"), None);
    // Signed in, no account chosen yet: the account picker for a browser,
    // the 403 as before for anyone else.
    let session = sign_in(&p, "panel.picker.test", "picker", "ana@picker.test");
    let r = p.send(
        nginx_asks("panel.picker.test", "/domains")
            .html()
            .cookie("portero_session", &session),
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.location(), "/.portero/accounts?return_to=%2Fdomains");
    let r = p.send(nginx_asks("panel.picker.test", "/domains").cookie("portero_session", &session));
    assert_eq!(r.status, 403);
}

#[test]
fn forward_auth_judges_the_forwarded_host_only_from_trusted_proxies() {
    let (_up, p) = start();
    let session = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "ana@latincloud.test",
    );
    // Traefik: `Host` is Portero's own address, the host asked about is
    // in X-Forwarded-Host.
    let traefik = |from: &str, path: &str| {
        get(&format!("127.0.0.1:{}", p.port), path)
            .header("X-Forwarded-Host", "panel.latincloud.test")
            .header("X-Forwarded-Uri", "/domains")
            .cookie("portero_session", &session)
            .from(from)
    };
    let r = p.send(traefik(TRUSTED, "/.portero/auth"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-portero-user"), Some("ana@latincloud.test"));
    // From anyone else the header is not believed: an unknown host.
    let r = p.send(traefik("127.0.0.1", "/.portero/auth"));
    assert_eq!(r.status, 421, "{}", r.body);
    assert_eq!(r.header("x-portero-user"), None);
    // Nor anywhere but on forward-auth.
    let r = p.send(traefik(TRUSTED, "/domains"));
    assert_eq!(r.status, 421, "{}", r.body);
    assert!(!r.forwarded());
    // Two of them: refused, not one of them picked.
    let r =
        p.send(traefik(TRUSTED, "/.portero/auth").header("X-Forwarded-Host", "panel.nomask.test"));
    assert_eq!(r.status, 400, "{}", r.body);
}

#[test]
fn a_trusted_proxy_that_ends_tls_says_so_in_x_forwarded_proto() {
    let (_up, p) = start();
    let host = "panel.latincloud.test";
    let super_admin = |from: &str| {
        post_form(
            host,
            "/.portero/login",
            &[("email", "root@latincloud.test"), ("return_to", "/admin")],
        )
        .header("Origin", &format!("https://{host}"))
        .header("X-Forwarded-Proto", "https")
        .from(from)
    };
    // The browser's https:// form is this site's: accepted, and the cookie
    // is the TLS one (`__Host-`, Secure).
    let r = p.send(super_admin(TRUSTED));
    assert_eq!(r.status, 302, "{}", r.body);
    let cookie = r
        .all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("__Host-portero_session_classic="))
        .unwrap_or_else(|| panic!("no TLS cookie: {:?}", r.headers));
    assert!(cookie.contains("Secure"), "{cookie}");
    // From a client that is no proxy, the header says nothing: the form
    // came from another origin than the http:// one it reached.
    let r = p.send(super_admin("127.0.0.1"));
    assert_eq!(r.status, 403, "{}", r.body);
    // The panel is told the scheme the client used.
    let got = p
        .send(
            get(host, "/static/app.css")
                .header("X-Forwarded-Proto", "https")
                .from(TRUSTED),
        )
        .received();
    assert_eq!(got.one("x-forwarded-proto"), Some("https"));
    assert_eq!(got.one("x-forwarded-port"), Some("443"));
}
