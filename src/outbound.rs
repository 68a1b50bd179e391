//! Portero's own HTTP client, for talking to identity providers: SAML
//! metadata, OpenID discovery, key sets, token and userinfo endpoints.
//!
//! hyper over rustls, one connection per call (these calls are rare next to
//! proxied requests: a fetch per refresh, a token exchange per sign-in).
//! `https://` always, with the system's certificate authorities plus
//! `[server].outbound_ca`; plain `http://` only to a loopback address (an IdP
//! on the same machine, as in the tests). Every call has a deadline and a
//! size limit on the answer.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;

/// The largest answer read from an IdP.
const MAX_BODY: usize = 2 << 20;

/// An HTTP client for IdP calls.
#[derive(Clone)]
pub struct Outbound {
    tls: tokio_rustls::TlsConnector,
    timeout: Duration,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// An answer: status, content type and body.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body (at most 2 MiB).
    pub body: Bytes,
}

impl Reply {
    /// The body as UTF-8 text, when the status is 2xx.
    pub fn ok_text(&self) -> Result<&str, String> {
        if !(200..300).contains(&self.status) {
            return Err(format!("answered HTTP {}", self.status));
        }
        std::str::from_utf8(&self.body).map_err(|_| "the answer is not UTF-8 text".to_string())
    }
}

/// Whether Portero may fetch this URL: `https://`, or `http://` to loopback.
pub fn check_url(url: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&parsed) => {}
        "http" => {
            return Err("plain http:// is only allowed to a loopback address; use https://".into())
        }
        other => return Err(format!("`{other}:` URLs cannot be fetched; use https://")),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    Ok(parsed)
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A TLS client configuration (rustls with ring) trusting the system's
/// certificate authorities and, when given, the PEM certificates in
/// `extra_ca`.
/// The system's certificate authorities are read once, when first needed
/// (every reload builds its clients; reading and parsing the system's
/// store each time would cost more than compiling a tenant).
pub fn client_tls(extra_ca: Option<&str>) -> Result<rustls::ClientConfig, String> {
    static SYSTEM: std::sync::LazyLock<rustls::RootCertStore> = std::sync::LazyLock::new(|| {
        let mut roots = rustls::RootCertStore::empty();
        // The system store may hold certificates rustls cannot use; those
        // are skipped (as browsers do), the rest are trusted.
        if let Ok(system) = rustls_native_certs::load_native_certs() {
            roots.add_parsable_certificates(system);
        }
        roots
    });
    let mut roots = SYSTEM.clone();
    if let Some(pem) = extra_ca {
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("not PEM certificates: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("not a usable CA certificate: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err("holds no PEM certificate".into());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl Outbound {
    /// A client trusting the system's certificate authorities and, when
    /// given, the PEM certificates in `extra_ca`.
    pub fn new(extra_ca: Option<&str>, timeout: Duration) -> Result<Outbound, String> {
        let config = client_tls(extra_ca)?;
        Ok(Outbound {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            timeout,
        })
    }

    /// `GET url` with extra request headers.
    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Reply, String> {
        self.call("GET", url, headers, None).await
    }

    /// `POST url` with an `application/x-www-form-urlencoded` body.
    pub async fn post_form(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        form: String,
    ) -> Result<Reply, String> {
        self.call("POST", url, headers, Some(form)).await
    }

    async fn call(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        form: Option<String>,
    ) -> Result<Reply, String> {
        let parsed = check_url(url)?;
        tokio::time::timeout(self.timeout, self.exchange(method, &parsed, headers, form))
            .await
            .map_err(|_| format!("no answer within {} s", self.timeout.as_secs()))?
    }

    async fn exchange(
        &self,
        method: &str,
        url: &url::Url,
        headers: &[(&str, &str)],
        form: Option<String>,
    ) -> Result<Reply, String> {
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(443);
        let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let request = build_request(method, url, headers, form)?;
        if url.scheme() == "https" {
            let name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']))
                .map_err(|e| format!("bad TLS name {host}: {e}"))?
                .to_owned();
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {host}: {e}"))?;
            send(TokioIo::new(tls), request).await
        } else {
            send(TokioIo::new(tcp), request).await
        }
    }
}

fn build_request(
    method: &str,
    url: &url::Url,
    headers: &[(&str, &str)],
    form: Option<String>,
) -> Result<http::Request<Full<Bytes>>, String> {
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let mut builder = http::Request::builder()
        .method(method)
        .uri(target)
        .header(http::header::HOST, authority)
        .header(http::header::USER_AGENT, "portero")
        .header(http::header::ACCEPT, "*/*");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let body = match form {
        Some(f) => {
            builder = builder.header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
            Full::new(Bytes::from(f))
        }
        None => Full::new(Bytes::new()),
    };
    builder.body(body).map_err(|e| format!("bad request: {e}"))
}

async fn send<IO>(io: IO, request: http::Request<Full<Bytes>>) -> Result<Reply, String>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let driver = tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes();
    driver.abort();
    Ok(Reply { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_url("https://idp.example/md").is_ok());
        assert!(check_url("http://127.0.0.1:8080/md").is_ok());
        assert!(check_url("http://[::1]:8080/md").is_ok());
        assert!(check_url("http://localhost/md").is_ok());
        assert!(check_url("http://idp.example/md").is_err());
        assert!(check_url("http://10.0.0.1/md").is_err());
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_url("ftp://idp.example/md").is_err());
        assert!(check_url("not a url").is_err());
    }
}
