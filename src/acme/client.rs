//! The HTTP client instant-acme talks to the CA through: Portero's own
//! hyper over rustls (ring), trusting the system's certificate authorities
//! plus `[server.acme].ca`, one connection per call, a deadline on each
//! call and a limit on each answer. `https://` only, or `http://` to a
//! loopback address (as [`crate::outbound`]).

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// The largest answer read from the CA (a certificate chain is a few KiB).
const MAX_BODY: usize = 1 << 20;

/// The longest one call to the CA may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A client for one CA.
#[derive(Clone)]
pub struct Client {
    tls: tokio_rustls::TlsConnector,
}

impl Client {
    /// Trusting the system's certificate authorities and `extra_ca` (PEM).
    pub fn new(extra_ca: Option<&str>) -> Result<Client, String> {
        let config = crate::outbound::client_tls(extra_ca)?;
        Ok(Client {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        })
    }
}

fn other(e: impl Into<String>) -> Error {
    Error::Other(e.into().into())
}

impl HttpClient for Client {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let tls = self.tls.clone();
        Box::pin(async move {
            match tokio::time::timeout(CALL_TIMEOUT, exchange(tls, req)).await {
                Ok(answer) => answer,
                Err(_) => Err(other(format!(
                    "the CA did not answer within {} s",
                    CALL_TIMEOUT.as_secs()
                ))),
            }
        })
    }
}

async fn exchange(
    tls: tokio_rustls::TlsConnector,
    req: http::Request<BodyWrapper<Bytes>>,
) -> Result<BytesResponse, Error> {
    let (mut parts, body) = req.into_parts();
    let url = crate::outbound::check_url(&parts.uri.to_string()).map_err(other)?;
    let host = url.host_str().unwrap_or_default().to_string();
    let bare = host.trim_matches(['[', ']']).to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let body = body
        .collect()
        .await
        .map_err(|e| other(format!("the request body: {e:?}")))?
        .to_bytes();
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    parts.uri = target
        .parse()
        .map_err(|e| other(format!("the request target: {e}")))?;
    parts.version = http::Version::HTTP_11;
    let authority =
        http::HeaderValue::from_str(&authority).map_err(|e| other(format!("the host: {e}")))?;
    parts.headers.insert(http::header::HOST, authority);
    let request = http::Request::from_parts(parts, Full::new(body));
    let tcp = tokio::net::TcpStream::connect((bare.as_str(), port))
        .await
        .map_err(|e| other(format!("cannot connect to {host}:{port}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    if url.scheme() == "https" {
        let name = rustls::pki_types::ServerName::try_from(bare)
            .map_err(|e| other(format!("bad TLS name {host}: {e}")))?;
        let stream = tls
            .connect(name, tcp)
            .await
            .map_err(|e| other(format!("TLS with {host}: {e}")))?;
        send(TokioIo::new(stream), request).await
    } else {
        send(TokioIo::new(tcp), request).await
    }
}

async fn send<IO>(io: IO, request: http::Request<Full<Bytes>>) -> Result<BytesResponse, Error>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| other(format!("HTTP: {e}")))?;
    let driver = tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| other(format!("HTTP: {e}")))?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| other(format!("reading the CA's answer: {e}")))?
        .to_bytes();
    driver.abort();
    Ok(BytesResponse::from(http::Response::from_parts(
        parts,
        Full::new(body),
    )))
}
