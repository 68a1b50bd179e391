//! Threat: a client forges identity or forwarding headers, or smuggles
//! Portero's own cookie to the panel. docs/headers.md.
use crate::common::*;

const SPOOFS: [(&str, &str); 12] = [
    ("X-Portero-User", "root@latincloud.test"),
    ("x-portero-user", "again"),
    ("X_PORTERO_USER", "underscore"),
    ("x_portero-email", "mixed@evil.test"),
    ("X-PORTERO-PERMISSIONS", "admin"),
    ("X-Portero-Tenant", "reseller"),
    ("X-Portero-Account", "other.test"),
    ("X-Portero-Assertion", "forged.jwt.value"),
    ("X-Portero-Auth", "saml"),
    ("X-Portero-Impersonate", "root"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "evil.test"),
];

fn spoofed(mut r: Req) -> Req {
    for (k, v) in SPOOFS {
        r = r.header(k, v);
    }
    r.header("X-Real-IP", "64.233.187.9")
        .header("Forwarded", "for=64.233.187.9")
}

#[test]
fn signed_in_request_carries_only_portero_identity() {
    let (_up, p) = start();
    let cookie = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "ana@latincloud.test",
    );
    let r = p.send(spoofed(
        get("panel.latincloud.test", "/home").cookie("portero_session", &cookie),
    ));
    let got = r.received();
    assert_eq!(got.one("x-portero-user"), Some("ana@latincloud.test"));
    assert_eq!(got.one("x-portero-email"), Some("ana@latincloud.test"));
    assert_eq!(got.one("x-portero-tenant"), Some("latincloud"));
    assert_eq!(got.one("x-portero-account"), Some("latincloud.test"));
    assert_eq!(got.one("x-portero-permissions"), Some("invite,technical"));
    assert_eq!(got.one("x-portero-auth"), Some("jwt"));
    assert_eq!(got.one("x-portero-impersonate"), None);
    assert_ne!(got.one("x-portero-assertion"), Some("forged.jwt.value"));
    assert_eq!(got.one("x-forwarded-proto"), Some("http"));
    assert_eq!(got.one("x-forwarded-host"), Some("panel.latincloud.test"));
    assert_eq!(got.one("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(got.one("x-real-ip"), Some("127.0.0.1"));
    assert!(got.get("forwarded").is_empty());
    // No underscore spelling survives either.
    assert!(
        got.headers.iter().all(|(k, _)| !k.contains('_')),
        "{:?}",
        got.headers
    );
}

#[test]
fn admin_member_gets_all_permissions_and_impersonation() {
    let (_up, p) = start();
    let cookie = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "boss@latincloud.test",
    );
    let got = p
        .send(get("panel.latincloud.test", "/").cookie("portero_session", &cookie))
        .received();
    assert_eq!(
        got.one("x-portero-permissions"),
        Some("admin,commercial,invite,sublogin,technical")
    );
    assert_eq!(got.one("x-portero-impersonate"), Some("bossuser"));
}

#[test]
fn unauthenticated_forwards_strip_identity_too() {
    let (_up, p) = start();
    // Bypass path.
    let got = p
        .send(spoofed(get("panel.latincloud.test", "/static/app.css")))
        .received();
    assert!(
        got.identity_like(&[]).is_empty(),
        "{:?}",
        got.identity_like(&[])
    );
    // Classic login (outside the netmasks: the TCP peer 127.0.0.1).
    let got = p
        .send(spoofed(get("panel.latincloud.test", "/panel").html()))
        .received();
    assert!(
        got.identity_like(&[]).is_empty(),
        "{:?}",
        got.identity_like(&[])
    );
    assert_eq!(got.one("x-forwarded-host"), Some("panel.latincloud.test"));
}

#[test]
fn renamed_header_is_stripped_in_every_spelling() {
    let (_up, p) = start();
    let token = eddsa(&p, &claims("reseller", "ana@latincloud.test"));
    let r = external_sign_in(&p, "panel.reseller.test", &token, "/");
    let cookie = r.set_cookie("portero_session").unwrap();
    let got = p
        .send(
            get("panel.reseller.test", "/")
                .cookie("portero_session", &cookie)
                .header("X-Remote-User", "root")
                .header("x_remote_user", "root")
                .header("X-Portero-User", "root"),
        )
        .received();
    assert_eq!(got.get("x-remote-user"), vec!["ana@latincloud.test"]);
    assert!(
        got.get("x-portero-user").is_empty(),
        "the default name is not sent when renamed"
    );
    assert_eq!(got.one("x-portero-permissions"), Some("technical"));
}

#[test]
fn portero_cookies_never_reach_the_panel() {
    let (_up, p) = start();
    let cookie = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "ana@latincloud.test",
    );
    let got = p
        .send(
            get("panel.latincloud.test", "/")
                .header(
                    "Cookie",
                    &format!("panel_sid=abc; portero_session={cookie}"),
                )
                .header("Cookie", "portero_session_classic=zzz; lang=es"),
        )
        .received();
    assert_eq!(got.get("cookie"), vec!["panel_sid=abc; lang=es"]);
    assert_eq!(got.one("x-portero-user"), Some("ana@latincloud.test"));
}

/// A header name as CGI/FastCGI gateways read it (`X.Portero+User` →
/// `HTTP_X_PORTERO_USER`), less the `HTTP_`.
fn as_gateway_reads(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b.to_ascii_uppercase())
            } else {
                '_'
            }
        })
        .collect()
}

/// Every header the panel got whose gateway name is `wanted`.
fn as_gateway_sees<'a>(got: &'a Received, wanted: &str) -> Vec<(&'a str, &'a str)> {
    got.headers
        .iter()
        .filter(|(k, _)| as_gateway_reads(k) == wanted)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

const PUNCTUATED: [(&str, &str); 10] = [
    ("X-Portero.User", "root@latincloud.test"),
    ("X.Portero.User", "root@latincloud.test"),
    ("X-Portero+User", "root@latincloud.test"),
    ("X~Portero~Permissions", "admin"),
    ("X-Portero!Tenant", "reseller"),
    ("X.Portero.Account", "other.test"),
    ("X|Portero|Impersonate", "root"),
    ("X'Portero'Auth", "saml"),
    ("X.Remote.User", "root@reseller.test"),
    ("X-Remote+User", "root@reseller.test"),
];

fn punctuated(mut r: Req) -> Req {
    for (k, v) in PUNCTUATED {
        r = r.header(k, v);
    }
    r
}

#[test]
fn identity_headers_in_any_punctuation_never_reach_the_panel() {
    let (_up, p) = start();
    let cookie = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "ana@latincloud.test",
    );
    // Signed in: only Portero's own copy of each name, as a gateway sees it.
    let got = p
        .send(punctuated(
            get("panel.latincloud.test", "/home").cookie("portero_session", &cookie),
        ))
        .received();
    assert_eq!(
        as_gateway_sees(&got, "X_PORTERO_USER"),
        vec![("x-portero-user", "ana@latincloud.test")]
    );
    assert_eq!(
        as_gateway_sees(&got, "X_PORTERO_PERMISSIONS"),
        vec![("x-portero-permissions", "invite,technical")]
    );
    assert_eq!(as_gateway_sees(&got, "X_PORTERO_IMPERSONATE"), vec![]);
    // Bypass path and classic login: none at all.
    for path in ["/static/app.css", "/panel"] {
        let got = p
            .send(punctuated(get("panel.latincloud.test", path).html()))
            .received();
        for name in [
            "X_PORTERO_USER",
            "X_PORTERO_PERMISSIONS",
            "X_PORTERO_TENANT",
            "X_PORTERO_AUTH",
        ] {
            assert_eq!(as_gateway_sees(&got, name), vec![], "{path} {name}");
        }
    }
    // A renamed header (`X-Remote-User`) and the default name, signed in.
    let token = eddsa(&p, &claims("reseller", "ana@latincloud.test"));
    let r = external_sign_in(&p, "panel.reseller.test", &token, "/");
    let cookie = r.set_cookie("portero_session").unwrap();
    let got = p
        .send(punctuated(
            get("panel.reseller.test", "/").cookie("portero_session", &cookie),
        ))
        .received();
    assert_eq!(
        as_gateway_sees(&got, "X_REMOTE_USER"),
        vec![("x-remote-user", "ana@latincloud.test")]
    );
    assert_eq!(as_gateway_sees(&got, "X_PORTERO_USER"), vec![]);
}

/// Forwarding headers panels and frameworks believe, none of which Portero
/// judged: the client address, the host, the scheme, the port, the path.
const FORWARDING_FAMILY: [(&str, &str); 20] = [
    ("X-Forwarded-Port", "443"),
    ("X-Forwarded-Prefix", "/admin"),
    ("X-Forwarded-Scheme", "https"),
    ("X-Forwarded-Ssl", "on"),
    ("X-Forwarded-Server", "panel.reseller.test"),
    ("X-Forwarded-Uri", "/admin/users"),
    ("X-Forwarded-Path", "/admin"),
    ("X.Forwarded.Host", "panel.reseller.test"),
    ("X-Original-URL", "/admin/users"),
    ("X-Original-URI", "/admin/users"),
    ("X-Original-Host", "panel.reseller.test"),
    ("X-Rewrite-URL", "/admin/users"),
    ("X-Real-IP", "64.233.187.9"),
    ("X.Real.IP", "64.233.187.9"),
    ("True-Client-IP", "64.233.187.9"),
    ("X-Client-IP", "64.233.187.9"),
    ("CF-Connecting-IP", "64.233.187.9"),
    ("X-Host", "panel.reseller.test"),
    (
        "Forwarded",
        "for=64.233.187.9;host=panel.reseller.test;proto=https",
    ),
    ("Proxy", "http://evil.test:3128"),
];

fn forwarding_family(mut r: Req) -> Req {
    for (k, v) in FORWARDING_FAMILY {
        r = r.header(k, v);
    }
    r
}

/// What the panel may receive of the family: exactly what Portero set.
fn only_portero_forwarding(got: &Received, client: &str, chain: &str) {
    for (k, v) in &got.headers {
        let g = as_gateway_reads(k);
        let ours = match g.as_str() {
            "X_FORWARDED_FOR" => Some(chain),
            "X_FORWARDED_PROTO" => Some("http"),
            "X_FORWARDED_HOST" => Some("panel.latincloud.test"),
            "X_FORWARDED_PORT" => Some("80"),
            "X_REAL_IP" => Some(client),
            _ => None,
        };
        match ours {
            Some(expected) => assert_eq!((k.as_str(), v.as_str()), (k.as_str(), expected)),
            None => assert!(
                !FORWARDING_FAMILY
                    .iter()
                    .any(|(n, _)| as_gateway_reads(n) == g),
                "{k}: {v} reached the panel"
            ),
        }
    }
    for name in [
        "X_FORWARDED_FOR",
        "X_FORWARDED_PROTO",
        "X_FORWARDED_HOST",
        "X_FORWARDED_PORT",
        "X_REAL_IP",
    ] {
        assert_eq!(
            as_gateway_sees(got, name).len(),
            1,
            "{name}: {:?}",
            got.headers
        );
    }
}

#[test]
fn forwarding_headers_are_portero_s_own_on_every_path() {
    let (_up, p) = start();
    let cookie = sign_in(
        &p,
        "panel.latincloud.test",
        "latincloud",
        "ana@latincloud.test",
    );
    for (path, signed_in) in [
        ("/home", true),
        ("/static/app.css", false),
        ("/panel", false),
    ] {
        let mut r = forwarding_family(get("panel.latincloud.test", path).html());
        if signed_in {
            r = r.cookie("portero_session", &cookie);
        }
        let got = p.send(r).received();
        only_portero_forwarding(&got, "127.0.0.1", "127.0.0.1");
    }
}

#[test]
fn a_trusted_proxy_passes_on_the_client_address_and_nothing_else() {
    let (_up, p) = start();
    // 127.0.0.2 is a trusted proxy: its X-Forwarded-For chain is believed
    // (and kept); the rest of the family is Portero's, as for anyone.
    let got = p
        .send(
            forwarding_family(get("panel.latincloud.test", "/static/app.css"))
                .header("X-Forwarded-For", "198.51.100.7")
                .from("127.0.0.2"),
        )
        .received();
    only_portero_forwarding(&got, "198.51.100.7", "198.51.100.7, 127.0.0.2");
}
