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
    // (and kept); the rest of the family is Portero's, as for anyone (its
    // X-Forwarded-Proto, not sent here, is believed too:
    // tests/sign_in/behind_a_front_proxy.rs).
    let got = p
        .send(
            forwarding_family(get("panel.latincloud.test", "/static/app.css"))
                .header("X-Forwarded-For", "198.51.100.7")
                .from("127.0.0.2"),
        )
        .received();
    only_portero_forwarding(&got, "198.51.100.7", "198.51.100.7, 127.0.0.2");
}

/// Tenants whose panels read another gateway's names
/// (`[tenant.headers] preset`), one renaming a header away from its preset.
const PRESET_TENANTS: &str = r#"
[[tenant]]
name = "authelia"
hosts = ["panel.authelia.test"]
upstream = "{UPSTREAM}"
account = "authelia.test"
bypass_paths = ["/static/"]

[[tenant.member]]
user = "ana@authelia.test"
account = "authelia.test"
permissions = ["technical"]

[tenant.external_sso]
url = "https://login.authelia.test/sso"
jwt_key = "env:EXT_SSO_SECRET"

[tenant.headers]
preset = "authelia"

[[tenant]]
name = "oauth2"
hosts = ["panel.oauth2.test"]
upstream = "{UPSTREAM}"
account = "oauth2.test"
bypass_paths = ["/static/"]

[[tenant.member]]
user = "ana@oauth2.test"
account = "oauth2.test"
permissions = ["technical"]

[tenant.external_sso]
url = "https://login.oauth2.test/sso"
jwt_key = "env:EXT_SSO_SECRET"

[tenant.headers]
preset = "oauth2-proxy"
email = "X-Panel-Email"

[[tenant]]
name = "plain"
hosts = ["panel.plain.test"]
upstream = "{UPSTREAM}"
account = "plain.test"
bypass_paths = ["/static/"]

[[tenant.member]]
user = "ana@plain.test"
account = "plain.test"
permissions = ["technical"]

[tenant.external_sso]
url = "https://login.plain.test/sso"
jwt_key = "env:EXT_SSO_SECRET"
"#;

/// Forged copies of every name the presets send, in several spellings.
const PRESET_FORGERIES: [(&str, &str); 14] = [
    ("Remote-User", "root@evil.test"),
    ("remote_user", "root@evil.test"),
    ("Remote.Email", "root@evil.test"),
    ("Remote-Name", "Root"),
    ("REMOTE-GROUPS", "admin"),
    ("X-Auth-Request-User", "root@evil.test"),
    ("X_Auth_Request_Email", "root@evil.test"),
    ("X-Auth-Request-Preferred-Username", "root"),
    ("X-Auth-Request.Groups", "admin"),
    ("X-Forwarded-User", "root@evil.test"),
    ("X-Forwarded-Email", "root@evil.test"),
    ("X-Forwarded-Preferred-Username", "root"),
    ("X-Forwarded-Groups", "admin"),
    ("X-Panel-Email", "root@evil.test"),
];

/// Every name a preset may send, as a gateway reads it.
const PRESET_NAMES: [&str; 13] = [
    "REMOTE_USER",
    "REMOTE_EMAIL",
    "REMOTE_NAME",
    "REMOTE_GROUPS",
    "X_AUTH_REQUEST_USER",
    "X_AUTH_REQUEST_EMAIL",
    "X_AUTH_REQUEST_PREFERRED_USERNAME",
    "X_AUTH_REQUEST_GROUPS",
    "X_FORWARDED_USER",
    "X_FORWARDED_EMAIL",
    "X_FORWARDED_PREFERRED_USERNAME",
    "X_FORWARDED_GROUPS",
    "X_PANEL_EMAIL",
];

/// The names a preset sends are stripped from what clients send as
/// Portero's own are, on every tenant whatever its preset: signed in, the
/// panel gets Portero's value under each name the tenant uses and nothing
/// under the others; on a bypass path, nothing.
#[test]
fn header_preset_names_are_stripped_from_clients() {
    let up = Upstream::start();
    let p = Portero::start(PRESET_TENANTS, &up);
    let forged = |mut r: Req| {
        for (k, v) in PRESET_FORGERIES {
            r = r.header(k, v);
        }
        r
    };
    for (tenant, expected) in [
        (
            "authelia",
            vec![
                ("REMOTE_USER", "ana@authelia.test"),
                ("REMOTE_EMAIL", "ana@authelia.test"),
                ("REMOTE_NAME", "Test User"),
                ("REMOTE_GROUPS", "technical"),
            ],
        ),
        (
            "oauth2",
            vec![
                ("X_FORWARDED_USER", "ana@oauth2.test"),
                ("X_AUTH_REQUEST_USER", "ana@oauth2.test"),
                ("X_PANEL_EMAIL", "ana@oauth2.test"),
                ("X_FORWARDED_PREFERRED_USERNAME", "Test User"),
                ("X_AUTH_REQUEST_PREFERRED_USERNAME", "Test User"),
                ("X_FORWARDED_GROUPS", "technical"),
                ("X_AUTH_REQUEST_GROUPS", "technical"),
            ],
        ),
        ("plain", vec![]),
    ] {
        let host = format!("panel.{tenant}.test");
        // `X-Panel-Email` is only the oauth2 tenant's.
        let names = if tenant == "oauth2" {
            &PRESET_NAMES[..]
        } else {
            &PRESET_NAMES[..12]
        };
        let cookie = sign_in(&p, &host, tenant, &format!("ana@{tenant}.test"));
        let got = p
            .send(forged(
                get(&host, "/home").cookie("portero_session", &cookie),
            ))
            .received();
        for &name in names {
            let want: Vec<&str> = expected
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| *v)
                .collect();
            let seen: Vec<&str> = as_gateway_sees(&got, name)
                .into_iter()
                .map(|(_, v)| v)
                .collect();
            assert_eq!(seen, want, "{tenant}, signed in: {name}");
        }
        let got = p.send(forged(get(&host, "/static/app.css"))).received();
        for &name in names {
            assert_eq!(
                as_gateway_sees(&got, name),
                vec![],
                "{tenant}, bypass path: {name}"
            );
        }
    }
}
