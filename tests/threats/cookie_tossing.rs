//! Cookie tossing: a sibling subdomain (or a plain-HTTP page, or a network
//! attacker on it) sets a Portero session cookie for the panel's host —
//! e.g. its own valid session, so the victim works inside the attacker's
//! account (login CSRF), or a second cookie next to the victim's so that
//! "take the first" picks the attacker's. On TLS the session cookie is named
//! with the `__Host-` prefix (the browser refuses such a cookie unless it is
//! Secure, Path=/ and host-only, so nobody else can set it) and only that
//! name is read; a request carrying a session (or classic-login) cookie
//! twice is treated as having none, with an audit line and a clear page.
use crate::common::*;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HOST: &str = "panel.nomask.test";

#[test]
fn two_session_cookies_are_refused_not_the_first_taken() {
    let (_up, p) = start();
    let victim = sign_in(&p, HOST, "nomask", "ana@nomask.test");
    let planted = sign_in(&p, HOST, "nomask", "ana@nomask.test");
    // Alone, each works.
    assert!(p
        .send(get(HOST, "/").cookie("portero_session", &victim))
        .received()
        .one("x-portero-user")
        .is_some());
    // Together (one header, or two headers, whatever the order): no session.
    let both = [
        vec![format!(
            "portero_session={planted}; portero_session={victim}"
        )],
        vec![
            format!("portero_session={victim}"),
            format!("other=1; portero_session ={planted}"),
        ],
        vec![format!("portero_session={victim}; portero_session=garbage")],
    ];
    for headers in both {
        let mut req = get(HOST, "/");
        for h in &headers {
            req = req.header("Cookie", h);
        }
        let r = p.send(req);
        assert!(!r.forwarded(), "{headers:?} was let through");
        assert_eq!(r.status, 401, "{headers:?}: {}", r.body);
        // A browser gets a page that says what to do, not a sign-in loop.
        let mut req = get(HOST, "/").html();
        for h in &headers {
            req = req.header("Cookie", h);
        }
        let r = p.send(req);
        assert_eq!(r.status, 400, "{headers:?}: {}", r.body);
        assert!(r.body.contains("two sign-in cookies"), "{}", r.body);
    }
    assert!(p.audit().contains("two session cookies"), "{}", p.audit());
}

#[test]
fn two_classic_login_cookies_are_refused() {
    let (_up, p) = start();
    // Inside the tenant's netmasks (through a trusted proxy), where only the
    // identifier-first choice of a classic user reaches the panel's login.
    let inside = |req: Req| {
        req.from("127.0.0.2")
            .header("X-Forwarded-For", "64.233.187.5")
    };
    let host = "panel.latincloud.test";
    let r = p.send(inside(post_form(
        host,
        "/.portero/login",
        &[("email", "legacy-ops@latincloud.test"), ("return_to", "/")],
    )));
    assert_eq!(r.status, 302, "{}", r.body);
    let classic = r.set_cookie("portero_session_classic").unwrap();
    let r = p.send(inside(
        get(host, "/").cookie("portero_session_classic", &classic),
    ));
    assert!(r.forwarded(), "the classic choice routes: {}", r.body);
    let r = p.send(inside(get(host, "/").html().header(
        "Cookie",
        &format!("portero_session_classic={classic}; portero_session_classic={classic}"),
    )));
    assert!(!r.forwarded());
    assert_eq!(r.status, 400, "{}", r.body);
}

fn cert_for(name: &str) -> (String, String) {
    let ck = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
    (ck.cert.pem(), ck.signing_key.serialize_pem())
}

/// One HTTP/1.1 request over TLS; the whole response.
fn tls_send(port: u16, cert: &str, raw: &str) -> Resp {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut cert.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let tcp = loop {
            match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                Ok(tcp) => break tcp,
                Err(e) if std::time::Instant::now() > deadline => panic!("TLS listener: {e}"),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        };
        let name = rustls::pki_types::ServerName::try_from(HOST.to_string()).unwrap();
        let mut s = connector.connect(name, tcp).await.expect("TLS handshake");
        s.write_all(raw.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        parse_response(&buf)
    })
}

fn tls_get(port: u16, cert: &str, target: &str, cookies: &[String]) -> Resp {
    let mut raw = format!("GET {target} HTTP/1.1\r\nHost: {HOST}\r\n");
    for c in cookies {
        raw.push_str(&format!("Cookie: {c}\r\n"));
    }
    raw.push_str("Connection: close\r\n\r\n");
    tls_send(port, cert, &raw)
}

#[test]
fn on_tls_the_session_cookie_is_host_prefixed_and_only_that_name_is_read() {
    let up = Upstream::start();
    let (cert, key) = cert_for(HOST);
    let tls_port = free_port();
    let tenants = TENANTS.replace(
        "[tenant.external_sso]\nurl = \"https://login.nomask.test/sso\"",
        // The hand-back is sent straight to Portero here (no external page
        // started it): this tenant accepts unsolicited hand-backs.
        "[tenant.tls]\ncert = \"{DIR}/nomask.crt\"\nkey = \"{DIR}/nomask.key\"\n\n[tenant.external_sso]\nurl = \"https://login.nomask.test/sso\"\nallow_idp_initiated = true",
    );
    let template = SERVER_AND_SESSION.replace(
        "listen = [\"127.0.0.1:{LISTEN}\"]",
        &format!("listen = [\"127.0.0.1:{{LISTEN}}\"]\nlisten_tls = [\"127.0.0.1:{tls_port}\"]"),
    ) + &tenants;
    let p = Portero::start_with(
        &template,
        &up,
        &[("nomask.crt", &cert), ("nomask.key", &key)],
    );
    // Signing in over TLS sets `__Host-portero_session`: Secure, Path=/, no Domain.
    let token = hs256(EXT_SECRET, &claims("nomask", "ana@nomask.test"));
    let r = tls_get(
        tls_port,
        &cert,
        &format!("/.portero/jwt/callback?jwt={token}&return_to=%2F"),
        &[],
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let set = r
        .all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("__Host-portero_session="))
        .expect("a __Host- session cookie")
        .to_string();
    assert!(set.contains("Secure") && set.contains("Path=/"), "{set}");
    assert!(!set.to_ascii_lowercase().contains("domain="), "{set}");
    let tls_session = r.set_cookie("__Host-portero_session").unwrap();
    let ok = tls_get(
        tls_port,
        &cert,
        "/",
        &[format!("__Host-portero_session={tls_session}")],
    );
    let got = ok.received();
    assert_eq!(got.one("x-portero-user"), Some("ana@nomask.test"));
    // Portero's cookies never reach the panel.
    assert!(
        !got.get("cookie")
            .iter()
            .any(|c| c.contains("portero_session")),
        "{:?}",
        got.get("cookie")
    );

    // A valid session under the plain name — what a sibling subdomain or
    // the plain-HTTP side can plant — is not read on TLS.
    let planted = sign_in(&p, HOST, "nomask", "ana@nomask.test");
    let r = tls_get(
        tls_port,
        &cert,
        "/",
        &[format!("portero_session={planted}")],
    );
    assert!(!r.forwarded(), "a plain-named session was believed on TLS");
    // Next to the real one it changes nothing (it is not the name read here).
    let r = tls_get(
        tls_port,
        &cert,
        "/",
        &[format!(
            "portero_session={planted}; __Host-portero_session={tls_session}"
        )],
    );
    assert_eq!(r.received().one("x-portero-user"), Some("ana@nomask.test"));
    // The `__Host-` cookie twice: refused.
    let r = tls_get(
        tls_port,
        &cert,
        "/",
        &[format!(
            "__Host-portero_session={tls_session}; __Host-portero_session={tls_session}"
        )],
    );
    assert!(
        !r.forwarded(),
        "two __Host- session cookies were let through"
    );
    // The `__Host-` name means nothing on the plain listener.
    let r = p.send(get(HOST, "/").cookie("__Host-portero_session", &tls_session));
    assert!(!r.forwarded());
}

#[test]
fn a_cookie_name_with_a_browser_prefix_is_a_config_error() {
    let up = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let template = SERVER_AND_SESSION.replace(
        "reauth = \"1d\"",
        "reauth = \"1d\"\ncookie_name = \"__Host-portero\"",
    ) + TENANTS;
    let config = template
        .replace("{LISTEN}", &free_port().to_string())
        .replace("{ADMIN}", &free_port().to_string())
        .replace("{UPSTREAM}", &up.addr.to_string())
        .replace("{DEAD}", "127.0.0.1:9")
        .replace("{DIR}", dir.path().to_str().unwrap());
    std::fs::write(
        dir.path().join("assertion.pem"),
        portero::identity::generate_ed25519_pem().unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("reseller.pub"), ed25519_pair().1).unwrap();
    // Compiled in memory, with the environment `portero` is started with.
    let path = dir.path().join("portero.toml");
    let env = std::collections::HashMap::from([
        ("PORTERO_SESSION_KEY".to_string(), SESSION_KEY.to_string()),
        ("EXT_SSO_SECRET".to_string(), EXT_SECRET.to_string()),
    ]);
    let findings = match portero::config::compile_str(&config, &path, &env) {
        Ok(_) => panic!("cookie_name = \"__Host-portero\" was accepted"),
        Err(findings) => findings,
    };
    let err: String = findings.iter().map(|d| format!("{d}\n")).collect();
    assert!(
        err.contains("portero.toml:") && err.contains("__Host-"),
        "{err}"
    );
}
