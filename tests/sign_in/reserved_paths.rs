//! `docs/reserved-paths.md` against the binary: everything under
//! `/.portero` is Portero's on every host (a signed-in request there never
//! reaches the panel), unknown ones are 404, known ones refuse another
//! method with 405 and the `Allow` of the methods they take, the key set
//! and the stylesheet are public, and a provider the tenant lacks is 404.
use crate::common::*;

#[test]
fn reserved_paths_answer_as_documented() {
    let (_up, p) = start();
    let host = "panel.latincloud.test";
    let session = sign_in(&p, host, "latincloud", "ana@latincloud.test");

    let jwks = p.send(get(host, "/.portero/jwks.json"));
    assert_eq!(jwks.status, 200, "{}", jwks.body);
    assert_eq!(jwks.header("content-type"), Some("application/json"));
    assert_eq!(jwks.header("cache-control"), Some("public, max-age=300"));
    assert!(jwks.body.starts_with("{\"keys\":["), "{}", jwks.body);
    // The same key set on every tenant's hosts.
    let other = p.send(get("panel.nomask.test", "/.portero/jwks.json"));
    assert_eq!(other.body, jwks.body);

    let css = p.send(get(host, "/.portero/assets/portero.css"));
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));

    // Under /.portero nothing is the panel's, signed in or not.
    for path in [
        "/.portero",
        "/.portero/",
        "/.portero/panel-page",
        "/.portero/x/y",
    ] {
        let r = p.send(get(host, path).cookie("portero_session", &session).html());
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(!r.forwarded(), "{path} reached the panel");
    }

    for (method, path, allow) in [
        ("POST", "/.portero/jwks.json", "GET, HEAD"),
        ("DELETE", "/.portero/login", "GET, HEAD, POST"),
        ("GET", "/.portero/saml/acs", "POST"),
        ("POST", "/.portero/jwt/callback", "GET, HEAD"),
        ("POST", "/.portero/oidc/callback", "GET, HEAD"),
        ("PUT", "/.portero/logout", "GET, HEAD, POST"),
        ("POST", "/.portero/sso/external", "GET, HEAD"),
        ("POST", "/.portero/accounts/leave", "GET, HEAD"),
        ("PUT", "/.portero/profile", "GET, HEAD, POST"),
        ("POST", "/.portero/assets/logo", "GET, HEAD"),
    ] {
        let r = p.send(get(host, path).method(method));
        assert_eq!(r.status, 405, "{method} {path}: {}", r.body);
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
    }

    // latincloud has only the external page: the SAML and OpenID Connect
    // ends are "not configured".
    for path in [
        "/.portero/sso/saml",
        "/.portero/saml/metadata",
        "/.portero/oidc/callback",
    ] {
        let r = p.send(get(host, path).html());
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    // No logo configured.
    assert_eq!(p.send(get(host, "/.portero/assets/logo")).status, 404);

    // Forward-auth, asked by a client that is neither a browser nor a
    // trusted proxy: judged for `/`. Outside latincloud's netmasks that is
    // the classic login: 200 without identity.
    let r = p.send(get(host, "/.portero/auth"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("x-portero-user").is_none());
    // Without netmasks, someone who must sign in: 401 with the hint.
    let r = p.send(get("panel.nomask.test", "/.portero/auth"));
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Portero realm=\"nomask\", login=\"/.portero/login\"")
    );
    // With the session: 200 and the identity headers in the answer.
    let r = p.send(get(host, "/.portero/auth").cookie("portero_session", &session));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-portero-user"), Some("ana@latincloud.test"));
    assert!(r.header("x-portero-assertion").is_some());
}
