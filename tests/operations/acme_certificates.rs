//! Certificates from an ACME CA (`[server.acme]`, docs/certificates.md),
//! against a real Pebble started by each test on free ports, validating
//! against the real `portero` binary's listeners: issuance through
//! HTTP-01 and through TLS-ALPN-01, served by the running TLS listener
//! without a restart and again after one (from the store, no new order);
//! a short-lived certificate renewed while serving; a host that fails
//! validation holding up nobody; and two nodes on one PostgreSQL ordering
//! a host once and answering each other's challenges (TLS-ALPN-01, and
//! HTTP-01 for a host a reload added). Threats: a client
//! that triggers orders or gets a validation certificate by sending names
//! or challenge paths. No timing is a pass/fail condition: the waits are
//! for things to happen at all.
use crate::common::pebble::Pebble;
use crate::common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn tenant(hosts: &[&str]) -> String {
    let hosts: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
    format!(
        r#"
[[tenant]]
name = "customers"
hosts = [{}]
upstream = "{{UPSTREAM}}"
account = "customers.test"
bypass_paths = ["/"]
"#,
        hosts.join(", ")
    )
}

/// Portero's configuration: its TLS listener on `tls_port`, the CA at
/// `pebble`, `acme` more keys of `[server.acme]`, data under `data_dir`
/// (`{DIR}`: Portero's own folder).
fn config(pebble: &Pebble, tls_port: u16, acme: &str, data_dir: &str, tenants: &str) -> String {
    let server = SERVER_AND_SESSION
        .replace(
            "listen = [\"127.0.0.1:{LISTEN}\"]",
            &format!(
                "listen = [\"127.0.0.1:{{LISTEN}}\"]\nlisten_tls = [\"127.0.0.1:{tls_port}\"]"
            ),
        )
        .replace(
            "data_dir = \"{DIR}\"",
            &format!("data_dir = \"{data_dir}\""),
        );
    format!(
        "{server}\n[server.acme]\ndirectory = \"{}\"\nca = \"{{DIR}}/pebble-ca.pem\"\nemail = \"hostmaster@hosting.test\"\naccept_terms = true\n{acme}\n{tenants}",
        pebble.directory
    )
}

/// A TLS client trusting `root` (Pebble's issuing root), offering `alpn`.
fn client(root: &str, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut root.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(cfg)
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A verified TLS connection to `port` for `sni`, or why there is none.
fn connect(port: u16, sni: &str, cfg: Arc<rustls::ClientConfig>) -> Result<Tls, String> {
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap();
    let mut conn = rustls::ClientConnection::new(cfg, name).unwrap();
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
    }
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// The leaf certificate served for `sni`, verified against `root`.
fn served(port: u16, sni: &str, root: &str) -> Result<Vec<u8>, String> {
    let tls = connect(port, sni, client(root, &[b"http/1.1"]))?;
    let leaf = tls
        .conn
        .peer_certificates()
        .and_then(|c| c.first().cloned());
    leaf.map(|c| c.as_ref().to_vec())
        .ok_or_else(|| "no certificate".to_string())
}

/// Waits (up to `secs`) until `sni` is served with a certificate that
/// verifies against `root` and is not `old`; that certificate.
fn until_served(
    p: &Portero,
    port: u16,
    sni: &str,
    root: &str,
    old: Option<&[u8]>,
    secs: u64,
) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let last = match served(port, sni, root) {
            Ok(leaf) if Some(leaf.as_slice()) != old => return leaf,
            Ok(_) => "still the old certificate".to_string(),
            Err(e) => e,
        };
        assert!(
            Instant::now() < deadline,
            "{sni} not served within {secs} s ({last}); portero said:\n{}",
            p.stderr()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A request over TLS for `sni`; the response.
fn https_get(port: u16, sni: &str, root: &str, path: &str) -> Resp {
    let mut tls = connect(port, sni, client(root, &[b"http/1.1"])).unwrap();
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = tls.read_to_end(&mut buf);
    parse_response(&buf)
}

/// The value of a metric line starting with `prefix` on `p` (0 when absent).
fn metric(p: &Portero, prefix: &str) -> f64 {
    let body = get("127.0.0.1", "/metrics").send(p.admin).body;
    body.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Waits (up to `secs`) for `check`.
fn until(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

const ISSUED: &str = "portero_acme_orders_total{result=\"issued\"}";

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn acme_http_01_issues_serves_at_once_and_again_after_a_restart_without_ordering() {
    let up = Upstream::start();
    let (plain, tls) = (free_port(), free_port());
    let pebble = Pebble::start(plain, tls, None);
    let data = tempfile::tempdir().unwrap();
    let template = config(
        &pebble,
        tls,
        "challenges = [\"http-01\"]",
        data.path().to_str().unwrap(),
        &tenant(&["panel.one.test", "panel.two.test"]),
    );
    let files = [("pebble-ca.pem", pebble.ca_pem.as_str())];
    let p = Portero::start_on(plain, &template, &up, &files);
    let root = pebble.issuing_root();
    // The listener that was serving before the certificates existed
    // serves them: no restart, no reload.
    let one = until_served(&p, tls, "panel.one.test", &root, None, 60);
    until_served(&p, tls, "panel.two.test", &root, None, 60);
    let r = https_get(tls, "panel.one.test", &root, "/hello");
    assert_eq!(r.received().one("x-forwarded-proto"), Some("https"));
    until("both orders counted", 10, || metric(&p, ISSUED) == 2.0);
    let expiry = metric(
        &p,
        "portero_acme_certificate_expiry_timestamp_seconds{host=\"panel.one.test\"}",
    );
    assert!(expiry > now() as f64, "{expiry}");

    // The challenge path on an ACME host: nothing pending is a short 404,
    // never the panel, whatever the method; nothing is ordered.
    for method in ["GET", "POST"] {
        let r = get(
            "panel.one.test",
            "/.well-known/acme-challenge/made-up-token",
        )
        .method(method)
        .send(plain);
        assert_eq!(r.status, 404, "{method}: {}", r.body);
        assert!(!r.forwarded());
    }
    // An unknown name gets no certificate and no order.
    assert!(served(tls, "not-configured.test", &root).is_err());
    assert_eq!(metric(&p, ISSUED), 2.0);

    // Kept under data_dir: the store (private) and the copies (keys 0600).
    let certs = data.path().join("acme/certs");
    assert_eq!(mode(&certs.join("panel.one.test.key")), 0o600);
    assert!(std::fs::read_to_string(certs.join("panel.one.test.crt"))
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    assert_eq!(mode(&data.path().join("portero.db")), 0o600);
    assert_eq!(mode(&data.path().join("acme")), 0o700);

    // A restart serves the kept certificate at once and orders nothing.
    drop(p);
    let again = Portero::start_on(plain, &template, &up, &files);
    let leaf = until_served(&again, tls, "panel.one.test", &root, None, 10);
    assert_eq!(leaf, one, "the certificate kept in the store");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(metric(&again, ISSUED), 0.0, "{}", again.stderr());
}

#[test]
fn acme_tls_alpn_01_issues_through_the_tls_listener() {
    let up = Upstream::start();
    let (plain, tls) = (free_port(), free_port());
    let pebble = Pebble::start(plain, tls, None);
    let template = config(
        &pebble,
        tls,
        "challenges = [\"tls-alpn-01\"]",
        "{DIR}",
        &tenant(&["panel.alpn.test"]),
    );
    let p = Portero::start_on(
        plain,
        &template,
        &up,
        &[("pebble-ca.pem", pebble.ca_pem.as_str())],
    );
    let root = pebble.issuing_root();
    until_served(&p, tls, "panel.alpn.test", &root, None, 60);
    assert!(https_get(tls, "panel.alpn.test", &root, "/").forwarded());
    assert_eq!(metric(&p, ISSUED), 1.0);
    // With nothing pending, a handshake offering only acme-tls/1 gets no
    // certificate at all (not a validation certificate, not the real one).
    let validation = connect(tls, "panel.alpn.test", client(&root, &[b"acme-tls/1"]));
    assert!(validation.is_err());
    let stderr = p.stderr();
    assert!(!stderr.contains("ERROR"), "{stderr}");
}

#[test]
fn acme_renews_a_short_lived_certificate_while_serving() {
    let up = Upstream::start();
    let (plain, tls) = (free_port(), free_port());
    // Certificates of 60 s, due 30 s before they end.
    let pebble = Pebble::start(plain, tls, Some(60));
    let template = config(
        &pebble,
        tls,
        "challenges = [\"http-01\"]\nrenew_before = \"30s\"",
        "{DIR}",
        &tenant(&["panel.renew.test"]),
    );
    let p = Portero::start_on(
        plain,
        &template,
        &up,
        &[("pebble-ca.pem", pebble.ca_pem.as_str())],
    );
    let root = pebble.issuing_root();
    let first = until_served(&p, tls, "panel.renew.test", &root, None, 60);
    let second = until_served(&p, tls, "panel.renew.test", &root, Some(&first), 90);
    assert_ne!(first, second);
    assert!(metric(&p, ISSUED) >= 2.0);
    let renewed = p.stderr();
    assert!(
        !renewed.contains("ordering a certificate failed"),
        "{renewed}"
    );
}

#[test]
fn acme_a_host_that_fails_validation_holds_up_no_other() {
    let up = Upstream::start();
    let (plain, tls) = (free_port(), free_port());
    let pebble = Pebble::start(plain, tls, None);
    // The CA looks for bad.test where Portero is not listening.
    pebble.resolve("bad.acme.test", "127.0.0.2");
    let template = config(
        &pebble,
        tls,
        "challenges = [\"http-01\"]",
        "{DIR}",
        &tenant(&["bad.acme.test", "good.acme.test"]),
    );
    let p = Portero::start_on(
        plain,
        &template,
        &up,
        &[("pebble-ca.pem", pebble.ca_pem.as_str())],
    );
    let root = pebble.issuing_root();
    until_served(&p, tls, "good.acme.test", &root, None, 60);
    until("bad.acme.test's failure counted", 60, || {
        metric(&p, "portero_acme_failures_total{host=\"bad.acme.test\"}") >= 1.0
    });
    assert!(served(tls, "bad.acme.test", &root).is_err());
    let log = p.stderr();
    let line = log
        .lines()
        .find(|l| l.contains("ordering a certificate failed"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.contains("bad.acme.test") && line.contains("retry_in_s"),
        "{line}"
    );
    assert_eq!(
        metric(&p, "portero_acme_orders_total{result=\"failed\"}"),
        1.0
    );
    // The node stays ready, and says which host fails and why; the other
    // host is served.
    let ready = get("127.0.0.1", "/readyz").send(p.admin);
    assert_eq!(ready.status, 200);
    assert!(
        ready
            .body
            .contains("acme: 1 of 2 hosts have a certificate; the last order failed for 1")
            && ready.body.contains("bad.acme.test: validation")
            && ready.body.contains("connection refused"),
        "{}",
        ready.body
    );
    assert!(https_get(tls, "good.acme.test", &root, "/").forwarded());
}

#[test]
fn acme_two_nodes_on_postgres_order_a_host_once_and_answer_each_others_challenges() {
    let url = pg::fresh_database("acme");
    let up = Upstream::start();
    // The CA's validation always reaches node A.
    let (plain_a, tls_a, plain_b, tls_b) = (free_port(), free_port(), free_port(), free_port());
    let pebble = Pebble::start(plain_a, tls_a, None);
    let files = [("pebble-ca.pem", pebble.ca_pem.as_str())];
    let on_db = |s: String| s.replace("[server]\n", &format!("[server]\ndatabase = \"{url}\"\n"));
    let a = Portero::start_on(
        plain_a,
        &on_db(config(
            &pebble,
            tls_a,
            "challenges = [\"http-01\"]",
            "{DIR}",
            &tenant(&["shared.acme.test"]),
        )),
        &up,
        &files,
    );
    // B also serves a host only it orders, with TLS-ALPN-01: the CA's
    // validation reaches A, which answers from the challenge B shared.
    let b = Portero::start_on(
        plain_b,
        &on_db(config(
            &pebble,
            tls_b,
            "challenges = [\"tls-alpn-01\"]",
            "{DIR}",
            &tenant(&["shared.acme.test", "b-only.acme.test"]),
        )),
        &up,
        &files,
    );
    let root = pebble.issuing_root();
    let on_a = until_served(&a, tls_a, "shared.acme.test", &root, None, 60);
    let on_b = until_served(&b, tls_b, "shared.acme.test", &root, None, 60);
    assert_eq!(on_a, on_b, "one certificate, served by both nodes");
    until_served(&b, tls_b, "b-only.acme.test", &root, None, 60);
    // Orders: shared.acme.test once (on either node), b-only.acme.test once (B).
    std::thread::sleep(Duration::from_secs(3));
    let (issued_a, issued_b) = (metric(&a, ISSUED), metric(&b, ISSUED));
    assert_eq!(issued_a + issued_b, 2.0, "A {issued_a}, B {issued_b}");
    assert!(issued_b >= 1.0);

    // A reload of B adding a host, now with HTTP-01: ordered at once, the
    // CA's request answered by A from the challenge B shared.
    let path = b.path("portero.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(
            "challenges = [\"tls-alpn-01\"]",
            "challenges = [\"http-01\"]",
        )
        .replace(
            "\"b-only.acme.test\"]",
            "\"b-only.acme.test\", \"b-http.acme.test\"]",
        );
    std::fs::write(&path, text).unwrap();
    assert_eq!(b.admin_post("/reload").status, 200);
    until_served(&b, tls_b, "b-http.acme.test", &root, None, 60);
    assert_eq!(metric(&a, ISSUED) + metric(&b, ISSUED), 3.0);
    for p in [&a, &b] {
        let log = p.stderr();
        assert!(!log.contains("failed"), "{log}");
    }
}
