//! Pebble, Let's Encrypt's ACME test server (Debian's `pebble`, which
//! also ships `pebble-challtestsrv`), started by a test on free ports of
//! 127.0.0.1 with its own configuration:
//!
//! * its HTTPS (the ACME directory and the management interface) under a
//!   certificate for 127.0.0.1 from a test CA made here (`ca_file`), which
//!   Portero is given as `[server.acme].ca`;
//! * real validation (`PEBBLE_VA_ALWAYS_VALID=0`, no random sleeps),
//!   against the ports the test names: Portero's plain listener for
//!   HTTP-01, its TLS listener for TLS-ALPN-01;
//! * names resolved by `pebble-challtestsrv` as a DNS server that answers
//!   127.0.0.1 for every name (no IPv6), unless a test says otherwise
//!   ([`Pebble::resolve`]).
//!
//! Both programs die with the test process (the parent death signal).

use super::*;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::Arc;

/// A Pebble and its DNS server.
pub struct Pebble {
    pebble: Child,
    dns: Child,
    pub dir: tempfile::TempDir,
    /// The ACME directory URL.
    pub directory: String,
    /// The CA (PEM) of Pebble's own HTTPS.
    pub ca_pem: String,
    management: u16,
    dns_management: u16,
}

/// Pebble's own HTTPS: a test CA and a certificate for 127.0.0.1 under it.
fn https_identity() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Portero test CA for Pebble");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

fn dies_with_us(cmd: &mut Command) -> &mut Command {
    // SAFETY: only an async-signal-safe call between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        })
    }
}

impl Pebble {
    /// Starts Pebble validating HTTP-01 on `http_port` and TLS-ALPN-01 on
    /// `tls_port` of 127.0.0.1; with `validity`, its certificates last
    /// that many seconds.
    pub fn start(http_port: u16, tls_port: u16, validity: Option<u64>) -> Pebble {
        assert!(
            Path::new("/usr/bin/pebble").exists(),
            "Pebble is not installed: apt-get install pebble (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let (ca_pem, cert, key) = https_identity();
        std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        let (acme, management, dns, dns_management) =
            (free_port(), free_port(), free_port(), free_port());
        let mut settings = serde_json::json!({
            "listenAddress": format!("127.0.0.1:{acme}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        });
        if let Some(v) = validity {
            settings["certificateValidityPeriod"] = v.into();
        }
        let config = dir.path().join("pebble.json");
        std::fs::write(
            &config,
            serde_json::json!({ "pebble": settings }).to_string(),
        )
        .unwrap();
        let dns_child = dies_with_us(
            Command::new("/usr/bin/pebble-challtestsrv")
                .args(["-dns01", &format!("127.0.0.1:{dns}")])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .args(["-management", &format!("127.0.0.1:{dns_management}")])
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""]),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("dns.log")).unwrap(),
        ))
        .spawn()
        .unwrap();
        let pebble = dies_with_us(
            Command::new("/usr/bin/pebble")
                .arg("-config")
                .arg(&config)
                .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_VA_ALWAYS_VALID", "0"),
        )
        .stdout(Stdio::from(
            std::fs::File::create(dir.path().join("pebble.log")).unwrap(),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("pebble.err")).unwrap(),
        ))
        .spawn()
        .unwrap();
        let p = Pebble {
            pebble,
            dns: dns_child,
            directory: format!("https://127.0.0.1:{acme}/dir"),
            ca_pem,
            management,
            dns_management,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !(TcpStream::connect(("127.0.0.1", acme)).is_ok()
            && TcpStream::connect(("127.0.0.1", dns_management)).is_ok())
        {
            assert!(
                Instant::now() < deadline,
                "Pebble did not start: {}",
                p.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        p
    }

    /// What Pebble logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.path().join("pebble.err")).unwrap_or_default()
    }

    /// The root its certificates chain to (PEM; made anew at each start),
    /// from its management interface.
    pub fn issuing_root(&self) -> String {
        let body = https_get(self.management, "/roots/0", &self.ca_pem);
        assert!(body.contains("BEGIN CERTIFICATE"), "{body}");
        body
    }

    /// Makes `host` resolve to `ip` (IPv4) for Pebble's validation.
    pub fn resolve(&self, host: &str, ip: &str) {
        let body = serde_json::json!({ "host": format!("{host}."), "addresses": [ip] }).to_string();
        let mut s = TcpStream::connect(("127.0.0.1", self.dns_management)).unwrap();
        write!(
            s,
            "POST /add-a HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.pebble.kill();
        let _ = self.pebble.wait();
        let _ = self.dns.kill();
        let _ = self.dns.wait();
    }
}

/// `GET path` over HTTPS on 127.0.0.1:`port`, trusting `ca_pem`; the body.
fn https_get(port: u16, path: &str, ca_pem: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(text)
}
