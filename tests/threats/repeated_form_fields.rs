//! Threat: HTTP parameter pollution. A field given twice (`return_to`,
//! `jwt`, `state`, `SAMLResponse`, `email`, `account`, `token`, …) lets two
//! readers — Portero and the panel, a check and a use — take different
//! values; a value that is not UTF-8 was guessed at (U+FFFD); a body in
//! another charset was read as UTF-8. Every form and query string of
//! Portero's own paths is refused with a 400 instead, before anything acts.
use crate::common::*;

const HOST: &str = "panel.latincloud.test";

/// A POST with this exact body and `Content-Type`.
fn post_raw(
    p: &Portero,
    host: &str,
    path: &str,
    content_type: &str,
    body: &str,
    extra: &str,
) -> Resp {
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/html\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
    raw_from(None, p.port, raw.as_bytes())
}

const FORM: &str = "application/x-www-form-urlencoded";

fn assert_refused(r: &Resp, what: &str) {
    assert_eq!(r.status, 400, "{what}: {} {}", r.status, r.body);
    assert!(
        r.set_cookie("portero_session").is_none(),
        "{what}: signed in"
    );
    assert!(
        r.set_cookie("portero_session_classic").is_none(),
        "{what}: classic login"
    );
    assert!(
        r.header("location").is_none(),
        "{what}: redirected to {}",
        r.location()
    );
}

#[test]
fn repeated_query_parameters_are_refused() {
    let (_up, p) = start();
    let ana = hs256(EXT_SECRET, &claims("latincloud", "ana@latincloud.test"));
    let boss = hs256(EXT_SECRET, &claims("latincloud", "boss@latincloud.test"));
    for target in [
        "/.portero/login?return_to=%2Fhome&return_to=%2F%2Fevil.test".to_string(),
        "/.portero/sso/external?return_to=%2Fhome&return_to=https%3A%2F%2Fevil.test%2F".to_string(),
        "/.portero/sso/external?login_hint=ana%40latincloud.test&login_hint=boss%40latincloud.test"
            .to_string(),
        format!("/.portero/jwt/callback?jwt={ana}&jwt={boss}&return_to=%2Fhome"),
        format!("/.portero/jwt/callback?jwt={ana}&return_to=%2Fhome&return_to=%2Fadmin"),
        format!("/.portero/jwt/callback?jwt={ana}&return_to=%2Fhome&retur%6E_to=%2Fadmin"),
        "/.portero/oidc/callback?code=a&state=one&state=two".to_string(),
        "/.portero/invitations?token=a&token=b".to_string(),
        "/.portero/accounts?return_to=%2F&return_to=%2Fadmin".to_string(),
        "/.portero/saml/slo?SAMLRequest=a&SAMLRequest=b".to_string(),
        "/.portero/jwt/callback?jwt=%FF".to_string(),
    ] {
        let r = p.send(get(HOST, &target).html());
        assert_refused(&r, &target);
        // A page in the tenant's look that says which field.
        assert!(r.body.contains("LatinCloud"), "{target}: {}", r.body);
        assert!(
            r.body.contains("more than once") || r.body.contains("UTF-8"),
            "{target}: {}",
            r.body
        );
    }
    // API clients get plain text; Spanish browsers a Spanish page.
    let r = p.send(get(HOST, "/.portero/login?return_to=%2F&return_to=%2F"));
    assert_eq!(r.status, 400);
    assert!(
        r.header("content-type").unwrap().starts_with("text/plain"),
        "{:?}",
        r.headers
    );
    assert!(r.body.contains("return_to"), "{}", r.body);
    let r = p.send(
        get(HOST, "/.portero/login?return_to=%2F&return_to=%2F")
            .html()
            .header("Accept-Language", "es"),
    );
    assert_eq!(r.status, 400);
    assert!(r.body.contains("más de una vez"), "{}", r.body);
    // One of each still works.
    let r = external_sign_in(&p, HOST, &ana, "/home");
    assert_eq!(r.status, 302, "{}", r.body);
}

#[test]
fn repeated_or_undecodable_form_fields_are_refused() {
    let (_up, p) = start();
    let session = sign_in(&p, "panel.picker.test", "picker", "ana@picker.test");
    let cookie = format!("Cookie: portero_session={session}\r\n");
    for (host, path, body, extra) in [
        // The super-admin's e-mail first, someone else's second.
        (
            HOST,
            "/.portero/login",
            "email=root%40latincloud.test&email=ana%40latincloud.test&return_to=%2Fadmin",
            "",
        ),
        (
            HOST,
            "/.portero/login",
            "email=root%40latincloud.test&return_to=%2Fadmin&return_to=%2F%2Fevil.test",
            "",
        ),
        (
            HOST,
            "/.portero/login",
            "email=root%40latincloud.test&e%6Dail=ana%40latincloud.test&return_to=%2Fadmin",
            "",
        ),
        (
            HOST,
            "/.portero/login",
            "email=root%FF%40latincloud.test&return_to=%2Fadmin",
            "",
        ),
        (
            HOST,
            "/.portero/saml/acs",
            "SAMLResponse=a&SAMLResponse=b&RelayState=x",
            "",
        ),
        (
            HOST,
            "/.portero/saml/acs",
            "SAMLResponse=a&RelayState=x&RelayState=y",
            "",
        ),
        (
            HOST,
            "/.portero/invitations",
            "token=a&token=b&decision=accept",
            "",
        ),
        (
            "panel.picker.test",
            "/.portero/accounts",
            "account=client-one.test&account=client-two.test&return_to=%2F",
            cookie.as_str(),
        ),
        (
            "panel.picker.test",
            "/.portero/accounts",
            "account=client-one.test&return_to=%2F&return_to=%2Fx",
            cookie.as_str(),
        ),
    ] {
        let r = post_raw(&p, host, path, FORM, body, extra);
        assert_refused(&r, &format!("{path} {body}"));
    }
    // Another charset, another type: not read as UTF-8 guesses.
    let body = "email=root%40latincloud.test&return_to=%2Fadmin";
    for ct in [
        "application/x-www-form-urlencoded; charset=ISO-8859-1",
        "application/x-www-form-urlencoded; charset=utf-16le",
        "text/plain",
        "multipart/form-data; boundary=zz",
    ] {
        let r = post_raw(&p, HOST, "/.portero/login", ct, body, "");
        assert_refused(&r, ct);
    }
    // The same form, once each and in UTF-8, works: the super-admin gets
    // the classic login.
    for ct in [FORM, "application/x-www-form-urlencoded; charset=UTF-8"] {
        let r = post_raw(&p, HOST, "/.portero/login", ct, body, "");
        assert_eq!(r.status, 302, "{ct}: {}", r.body);
        assert!(r.set_cookie("portero_session_classic").is_some(), "{ct}");
    }
    let r = post_raw(
        &p,
        "panel.picker.test",
        "/.portero/accounts",
        FORM,
        "account=client-one.test&return_to=%2F",
        &cookie,
    );
    assert_eq!(r.status, 302, "{}", r.body);
}
