//! TLS listeners: the certificate is chosen by SNI per tenant, HTTP/2 is
//! offered by ALPN, and sessions get the `Secure` attribute. README,
//! `[server]`.
use crate::common::*;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn cert_for(name: &str) -> (String, String) {
    let ck = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
    (ck.cert.pem(), ck.signing_key.serialize_pem())
}

async fn handshake(
    port: u16,
    sni: &str,
    trust: &str,
    alpn: &[&[u8]],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut trust.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    // The TLS listener may come up a moment after the plain one that
    // `Portero::start` waits for.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let tcp = loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(tcp) => break tcp,
            Err(e) if std::time::Instant::now() > deadline => panic!("TLS listener on {port}: {e}"),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    };
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap();
    connector.connect(name, tcp).await.expect("TLS handshake")
}

#[test]
fn each_tenant_gets_its_certificate_and_h2_is_offered() {
    let up = Upstream::start();
    let (latin_cert, latin_key) = cert_for("panel.latincloud.test");
    let (nomask_cert, nomask_key) = cert_for("panel.nomask.test");
    let tls_port = free_port();
    let tenants = TENANTS
        .replace(
            "[tenant.external_sso]\nurl = \"https://login.latincloud.test/sso\"",
            "[tenant.tls]\ncert = \"{DIR}/latin.crt\"\nkey = \"{DIR}/latin.key\"\n\n[tenant.external_sso]\nurl = \"https://login.latincloud.test/sso\"",
        )
        .replace(
            "[tenant.external_sso]\nurl = \"https://login.nomask.test/sso\"",
            "[tenant.tls]\ncert = \"{DIR}/nomask.crt\"\nkey = \"{DIR}/nomask.key\"\n\n[tenant.external_sso]\nurl = \"https://login.nomask.test/sso\"",
        );
    let template = SERVER_AND_SESSION.replace(
        "listen = [\"127.0.0.1:{LISTEN}\"]",
        &format!("listen = [\"127.0.0.1:{{LISTEN}}\"]\nlisten_tls = [\"127.0.0.1:{tls_port}\"]"),
    ) + &tenants;
    let _portero = Portero::start_with(
        &template,
        &up,
        &[
            ("latin.crt", &latin_cert),
            ("latin.key", &latin_key),
            ("nomask.crt", &nomask_cert),
            ("nomask.key", &nomask_key),
        ],
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // The right certificate for each name (verification would fail otherwise).
        let s = handshake(tls_port, "panel.nomask.test", &nomask_cert, &[b"h2", b"http/1.1"]).await;
        assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "HTTP/2 offered by ALPN");
        // HTTP/1.1 over TLS: a sign-in sets a Secure cookie.
        let mut s = handshake(tls_port, "panel.latincloud.test", &latin_cert, &[b"http/1.1"]).await;
        s.write_all(b"GET /.portero/sso/external?return_to=%2F HTTP/1.1\r\nHost: panel.latincloud.test\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        let started = parse_response(&buf);
        let set = started.all("set-cookie").join("\n");
        assert!(set.contains("portero_jwt=") && set.contains("Secure"), "{set}");
        let flow = started.set_cookie("portero_jwt").unwrap();
        let mut s = handshake(tls_port, "panel.latincloud.test", &latin_cert, &[b"http/1.1"]).await;
        let token = hs256(EXT_SECRET, &claims("latincloud", "ana@latincloud.test"));
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: panel.latincloud.test\r\nCookie: portero_jwt={flow}\r\nConnection: close\r\n\r\n",
            handback(&token, "/", &flow)
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        let r = parse_response(&buf);
        assert_eq!(r.status, 302, "{}", r.body);
        let set = r.all("set-cookie").join("\n");
        assert!(set.contains("__Host-portero_session=") && set.contains("Secure"), "{set}");
        // Forwarded requests say the client came over https.
        let cookie = r.set_cookie("__Host-portero_session").unwrap();
        let mut s = handshake(tls_port, "panel.latincloud.test", &latin_cert, &[b"http/1.1"]).await;
        let req = format!("GET / HTTP/1.1\r\nHost: panel.latincloud.test\r\nCookie: __Host-portero_session={cookie}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        let got = parse_response(&buf).received();
        assert_eq!(got.one("x-forwarded-proto"), Some("https"));
        assert_eq!(got.one("x-portero-user"), Some("ana@latincloud.test"));
    });
}
