//! IdP metadata from an https URL: fetched at start over verified TLS,
//! re-fetched on its schedule and on reload (a key rollover takes effect
//! without a restart), and when a fetch fails — an error status, something
//! that is not metadata, an untrusted certificate — the last good copy
//! stays in force, across a restart too. What the IdP serves is switched
//! by the test; the IdP is a real TLS server on 127.0.0.1.
use crate::common::saml::*;
use crate::common::*;
use base64::Engine;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const HOST: &str = "panel.samlco.test";
const ORIGIN: &str = "http://panel.samlco.test";

/// An HTTPS server on 127.0.0.1 answering every request with what `serve`
/// holds (`None`: HTTP 500), counting requests.
struct MetadataServer {
    port: u16,
    serve: Arc<Mutex<Option<String>>>,
    hits: Arc<AtomicUsize>,
    ca_pem: String,
}

impl MetadataServer {
    fn start(body: &str) -> MetadataServer {
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let ca_pem = ck.cert.pem();
        let cert = rustls::pki_types::CertificateDer::from(ck.cert.der().to_vec());
        let key =
            rustls::pki_types::PrivateKeyDer::try_from(ck.signing_key.serialize_der()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert], key)
                .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let serve = Arc::new(Mutex::new(Some(body.to_string())));
        let hits = Arc::new(AtomicUsize::new(0));
        let (s, h) = (serve.clone(), hits.clone());
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                let (config, s, h) = (config.clone(), s.clone(), h.clone());
                std::thread::spawn(move || {
                    let Ok(conn) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    let mut tls = rustls::StreamOwned::new(conn, tcp);
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    h.fetch_add(1, Ordering::SeqCst);
                    let answer = match s.lock().unwrap().clone() {
                        Some(b) => format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/samlmetadata+xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{b}",
                            b.len()
                        ),
                        None => "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string(),
                    };
                    let _ = tls.write_all(answer.as_bytes());
                    let _ = tls.flush();
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });
        MetadataServer {
            port,
            serve,
            hits,
            ca_pem,
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/idp/metadata", self.port)
    }

    fn set(&self, body: Option<&str>) {
        *self.serve.lock().unwrap() = body.map(str::to_string);
    }

    /// Waits until `n` more requests than `since` have arrived.
    fn wait_hits(&self, since: usize, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.hits.load(Ordering::SeqCst) < since + n {
            assert!(
                Instant::now() < deadline,
                "the metadata was not fetched again"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The fetched copy is put in force right after the answer is read.
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn tenants(url: &str, refresh: &str) -> String {
    format!(
        r#"
[[tenant]]
name = "samlco"
hosts = ["panel.samlco.test"]
upstream = "{{UPSTREAM}}"
sso_mode = "auto_redirect"
super_admins = ["root@samlco.test"]
classic_users = ["legacy@samlco.test"]
account = "samlco.test"

[[tenant.member]]
user = "ana@samlco.test"
account = "samlco.test"
permissions = ["technical"]

[tenant.saml]
idp_metadata = "{url}"
metadata_refresh = "{refresh}"
allow_idp_initiated = true
"#
    )
}

/// The server template, trusting the IdP's certificate (or not), with the
/// data directory at `data_dir`.
fn server(trust_idp: bool, data_dir: &str) -> String {
    let mut s = SERVER_AND_SESSION.replace(
        "data_dir = \"{DIR}\"",
        &format!("data_dir = \"{data_dir}\""),
    );
    if trust_idp {
        s = s.replace(
            "[session]",
            "outbound_ca = \"{DIR}/idp-ca.pem\"\n\n[session]",
        );
    }
    s
}

fn start(idp: &MetadataServer, refresh: &str, trust: bool, data_dir: &str) -> (Upstream, Portero) {
    let up = Upstream::start();
    let p = Portero::start_with(
        &format!(
            "{}\n{}",
            server(trust, data_dir),
            tenants(&idp.url(), refresh)
        ),
        &up,
        &[("idp-ca.pem", idp.ca_pem.as_str())],
    );
    (up, p)
}

/// An IdP-initiated response for ana, signed by `key`.
fn response(key: &SigningKey, id: &str) -> String {
    let n = now();
    let spec = Spec {
        response_id: format!("_r{id}"),
        assertion_id: id.to_string(),
        in_response_to: None,
        destination: format!("{ORIGIN}/.portero/saml/acs"),
        recipient: format!("{ORIGIN}/.portero/saml/acs"),
        audience: format!("{ORIGIN}/.portero/saml/metadata"),
        name_id: "ana@samlco.test".into(),
        issued: n,
        not_before: n - 5,
        not_on_or_after: n + 300,
        ..Spec::default()
    };
    base64::engine::general_purpose::STANDARD.encode(spec.signed_by(key))
}

/// Posts a response signed by `key`; the status Portero answers.
fn sign_in(p: &Portero, key: &SigningKey, id: &str) -> u16 {
    let r = p.send(post_form(
        HOST,
        "/.portero/saml/acs",
        &[("SAMLResponse", &response(key, id))],
    ));
    if r.status == 302 {
        let session = r.set_cookie("portero_session").unwrap();
        let got = p
            .send(get(HOST, "/").cookie("portero_session", &session))
            .received();
        assert_eq!(got.one("x-portero-user"), Some("ana@samlco.test"));
    }
    r.status
}

fn readyz(p: &Portero) -> String {
    get("127.0.0.1", "/readyz").send(p.admin).body
}

fn wait_readyz(p: &Portero, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = readyz(p);
        if r.contains(wanted) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz never said {wanted:?}: {r}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn metadata_from_an_https_url_is_used_and_a_rollover_follows_on_schedule() {
    let (k1, k2) = (SigningKey::new(), SigningKey::new());
    let idp = MetadataServer::start(&idp_metadata(&k1, "https://idp.samlco.test/sso"));
    let data = tempfile::tempdir().unwrap();
    let (_up, p) = start(&idp, "1s", true, data.path().to_str().unwrap());
    let ready = wait_readyz(&p, "ok SAML metadata");
    assert!(ready.contains(&idp.url()), "{ready}");
    assert_eq!(sign_in(&p, &k1, "_a1"), 302, "{}", p.audit());
    // The SSO endpoint comes from the fetched metadata.
    let r = p.send(get(HOST, "/").html());
    assert!(
        r.location()
            .starts_with("https://idp.samlco.test/sso?SAMLRequest="),
        "{}",
        r.location()
    );

    // The IdP rolls its key over: the next scheduled fetch brings it in.
    let before = idp.hits.load(Ordering::SeqCst);
    idp.set(Some(&idp_metadata(&k2, "https://idp.samlco.test/sso")));
    idp.wait_hits(before, 2);
    assert_eq!(sign_in(&p, &k2, "_a2"), 302, "{}", p.audit());
    assert_eq!(sign_in(&p, &k1, "_a3"), 401, "the old key no longer signs");
    assert!(p.audit().contains("bad_signature"));
}

#[test]
fn a_failed_fetch_keeps_the_last_good_copy() {
    let key = SigningKey::new();
    let good = idp_metadata(&key, "https://idp.samlco.test/sso");
    let idp = MetadataServer::start(&good);
    let data = tempfile::tempdir().unwrap();
    let (_up, p) = start(&idp, "1s", true, data.path().to_str().unwrap());
    wait_readyz(&p, "ok SAML metadata");

    // An error status.
    idp.set(None);
    let stale = wait_readyz(&p, "stale SAML metadata");
    assert!(stale.contains("HTTP 500"), "{stale}");
    assert_eq!(sign_in(&p, &key, "_b1"), 302, "{}", p.audit());

    // Something that is not metadata, then metadata without a certificate.
    let before = idp.hits.load(Ordering::SeqCst);
    idp.set(Some("<html>maintenance</html>"));
    idp.wait_hits(before, 1);
    let no_cert = good
        .replace("<md:KeyDescriptor", "<md:Ignored")
        .replace("</md:KeyDescriptor>", "</md:Ignored>");
    idp.set(Some(&no_cert));
    let stale = wait_readyz(&p, "no signing certificate");
    assert!(stale.contains("stale SAML metadata"), "{stale}");
    assert_eq!(sign_in(&p, &key, "_b2"), 302, "{}", p.audit());

    // Recovery.
    idp.set(Some(&good));
    wait_readyz(&p, "ok SAML metadata");
    let metrics = get("127.0.0.1", "/metrics").send(p.admin).body;
    assert!(
        metrics.contains(
            r#"portero_idp_document_fetches_total{document="SAML metadata",result="failed"}"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"portero_idp_document_age_seconds{document="SAML metadata""#),
        "{metrics}"
    );
}

#[test]
fn a_restart_while_the_idp_is_down_uses_the_kept_copy() {
    let key = SigningKey::new();
    let idp = MetadataServer::start(&idp_metadata(&key, "https://idp.samlco.test/sso"));
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    {
        let (_up, p) = start(&idp, "1h", true, dir);
        wait_readyz(&p, "ok SAML metadata");
    }
    idp.set(None);
    let (_up, p) = start(&idp, "1h", true, dir);
    let r = wait_readyz(&p, "stale SAML metadata");
    assert!(r.contains("HTTP 500"), "{r}");
    assert_eq!(sign_in(&p, &key, "_c1"), 302, "{}", p.audit());
}

#[test]
fn reload_fetches_the_metadata_again() {
    let (k1, k2) = (SigningKey::new(), SigningKey::new());
    let idp = MetadataServer::start(&idp_metadata(&k1, "https://idp.samlco.test/sso"));
    let data = tempfile::tempdir().unwrap();
    let (_up, p) = start(&idp, "1h", true, data.path().to_str().unwrap());
    wait_readyz(&p, "ok SAML metadata");
    let before = idp.hits.load(Ordering::SeqCst);
    idp.set(Some(&idp_metadata(&k2, "https://idp.samlco.test/sso")));
    assert_eq!(
        sign_in(&p, &k2, "_d1"),
        401,
        "not fetched again before its time"
    );
    assert_eq!(p.admin_post("/reload").status, 200);
    idp.wait_hits(before, 1);
    assert_eq!(sign_in(&p, &k2, "_d2"), 302, "{}", p.audit());
}

#[test]
fn an_untrusted_certificate_is_never_used_and_sso_names_the_way_in() {
    let key = SigningKey::new();
    let idp = MetadataServer::start(&idp_metadata(&key, "https://idp.samlco.test/sso"));
    let data = tempfile::tempdir().unwrap();
    // Portero does not trust the IdP's self-made certificate.
    let (_up, p) = start(&idp, "1h", false, data.path().to_str().unwrap());
    let r = wait_readyz(&p, "missing SAML metadata");
    assert!(r.contains("TLS"), "{r}");
    let page = p.send(get(HOST, "/").html());
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.body.contains("cannot be reached"), "{}", page.body);
    assert_eq!(sign_in(&p, &key, "_e1"), 401);
    assert!(p.audit().contains("no_idp_metadata"), "{}", p.audit());
}

/// A tenant changed through the tenant API is compiled alone, and IdP
/// documents at URLs already known are not fetched again for it (with
/// thousands of tenants, every change would otherwise call every IdP).
/// `POST /reload` still fetches every one.
#[test]
fn a_tenant_change_fetches_only_its_own_documents() {
    let key = SigningKey::new();
    let idp = MetadataServer::start(&idp_metadata(&key, "https://idp.samlco.test/sso"));
    let data = tempfile::tempdir().unwrap();
    let up = Upstream::start();
    let other = |host: &str| {
        format!(
            "[[tenant]]\nname = \"other\"\nhosts = [\"{host}\"]\nupstream = \"{}\"\naccount = \"other\"\nsuper_admins = [\"root@other.test\"]\n",
            up.addr
        )
    };
    let template = server(true, data.path().to_str().unwrap())
        .replace("[session]", "tenants_dir = \"{DIR}/tenants\"\n\n[session]");
    let p = Portero::start_with(
        &format!("{template}\n{}", tenants(&idp.url(), "1h")),
        &up,
        &[
            ("idp-ca.pem", idp.ca_pem.as_str()),
            ("tenants/other.toml", &other("one.other.test")),
        ],
    );
    wait_readyz(&p, "ok SAML metadata");
    let unknown = p.send(get("two.other.test", "/")).status;
    let before = idp.hits.load(Ordering::SeqCst);
    let put = get("127.0.0.1", "/tenants/other")
        .method("PUT")
        .header("Content-Type", "application/toml")
        .body(other("two.other.test").as_bytes())
        .send(p.admin);
    assert_eq!(put.status, 200, "{}", put.body);
    assert_ne!(p.send(get("two.other.test", "/")).status, unknown);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        idp.hits.load(Ordering::SeqCst),
        before,
        "samlco's metadata was fetched for a change to another tenant"
    );
    assert!(
        // The main file's tenants are compiled on every reload.
        p.audit().contains("2 tenant(s) compiled (samlco, other)"),
        "{}",
        p.audit()
    );
    assert_eq!(p.admin_post("/reload").status, 200);
    idp.wait_hits(before, 1);
}
