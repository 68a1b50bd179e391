//! Cross-origin form posts: Portero's own forms (sign-in, account picker,
//! invitations) act only on a POST whose `Origin` (or, without one, its
//! `Referer`) is this very origin — scheme, host and port. Threat: another
//! service on the same host name but another port (or the plain-HTTP side
//! of a TLS site) posting a form at Portero in the visitor's browser; the
//! host alone used to be compared.
use crate::common::*;

const HOST: &str = "panel.latincloud.test";

fn submit(p: &Portero, host: &str, header: Option<(&str, &str)>) -> Resp {
    let mut req = post_form(
        host,
        "/.portero/login",
        &[("email", "ana@latincloud.test"), ("return_to", "/")],
    );
    if let Some((k, v)) = header {
        req = req.header(k, v);
    }
    p.send(req)
}

#[test]
fn the_sign_in_form_refuses_another_port_or_scheme() {
    let (_up, p) = start();
    let refused = [
        ("Origin", "http://panel.latincloud.test:8081"),
        ("Origin", "https://panel.latincloud.test"),
        ("Origin", "http://evil.test"),
        ("Origin", "null"),
        ("Origin", "http://panel.latincloud.test.evil.test"),
        ("Referer", "http://panel.latincloud.test:8081/form"),
        ("Referer", "https://panel.latincloud.test/.portero/login"),
    ];
    for (k, v) in refused {
        let r = submit(&p, HOST, Some((k, v)));
        assert_eq!(r.status, 403, "{k}: {v} was accepted: {}", r.body);
        assert!(r.body.contains("another web site"), "{}", r.body);
    }
    let accepted = [
        ("Origin", "http://panel.latincloud.test"),
        ("Origin", "HTTP://Panel.LatinCloud.test:80"),
        (
            "Referer",
            "http://panel.latincloud.test/.portero/login?return_to=%2F",
        ),
    ];
    for (k, v) in accepted {
        let r = submit(&p, HOST, Some((k, v)));
        assert_eq!(r.status, 302, "{k}: {v} was refused: {}", r.body);
    }
    // The request's own port counts, default ports normalised.
    let r = submit(
        &p,
        "panel.latincloud.test:80",
        Some(("Origin", "http://panel.latincloud.test")),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let r = submit(
        &p,
        "panel.latincloud.test:8443",
        Some(("Origin", "http://panel.latincloud.test:8443")),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let r = submit(
        &p,
        "panel.latincloud.test:8443",
        Some(("Origin", "http://panel.latincloud.test")),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // Neither header: not a browser's cross-site form.
    assert_eq!(submit(&p, HOST, None).status, 302);
}

#[test]
fn the_account_picker_refuses_another_port() {
    let (_up, p) = start();
    let host = "panel.picker.test";
    let cookie = sign_in(&p, host, "picker", "ana@picker.test");
    let choose = |origin: &str| {
        p.send(
            post_form(
                host,
                "/.portero/accounts",
                &[("account", "client-two.test"), ("return_to", "/")],
            )
            .cookie("portero_session", &cookie)
            .header("Origin", origin),
        )
    };
    assert_eq!(choose("http://panel.picker.test:9999").status, 403);
    assert_eq!(choose("https://panel.picker.test").status, 403);
    assert_eq!(choose("http://panel.picker.test").status, 302);
}
