//! The panels' side: a pooled keep-alive HTTP/1.1 client per panel and
//! per worker thread (a connection stays on the thread that made it, as
//! the client connections do), with a connect timeout and, for HTTPS
//! panels, rustls with the system's certificate authorities.

use crate::config::Upstream;
use hyper::body::Incoming;
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How long connecting to a panel may take (TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle pooled connection to a panel is kept.
const POOL_IDLE: Duration = Duration::from_secs(60);

/// The client for one panel.
pub type PanelClient = Client<Connector, Incoming>;

/// Identifies a panel as configured (a reload that changes it gets a
/// fresh pool).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    addr: SocketAddr,
    tls: bool,
    sni: String,
}

thread_local! {
    static CLIENTS: RefCell<HashMap<Key, PanelClient>> = RefCell::new(HashMap::new());
}

/// The most distinct panels whose pools one thread keeps (older ones are
/// dropped when reloads keep changing them).
const MAX_POOLS: usize = 4096;

/// This thread's client for `up`.
pub fn client(up: &Upstream) -> PanelClient {
    CLIENTS.with(|clients| {
        let mut clients = clients.borrow_mut();
        if let Some(c) = clients.get(&Key::of(up)) {
            return c.clone();
        }
        if clients.len() >= MAX_POOLS {
            clients.clear();
        }
        let c = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_timer(TokioTimer::new())
            .http1_preserve_header_case(true)
            .set_host(false)
            .build(Connector {
                addr: up.addr,
                tls: up.tls.then(|| up.sni.clone()),
            });
        clients.insert(Key::of(up), c.clone());
        c
    })
}

impl Key {
    // Plain panels have an empty name (no allocation on the lookup).
    fn of(up: &Upstream) -> Key {
        Key {
            addr: up.addr,
            tls: up.tls,
            sni: if up.tls {
                up.sni.clone()
            } else {
                String::new()
            },
        }
    }
}

/// The URI a request to `up` is sent with (the pool's key; the client
/// writes the target in origin-form).
pub fn uri(up: &Upstream, path_and_query: &str) -> Option<Uri> {
    let scheme = if up.tls { "https" } else { "http" };
    let mut s = String::with_capacity(scheme.len() + 3 + 48 + path_and_query.len());
    s.push_str(scheme);
    s.push_str("://");
    use std::fmt::Write as _;
    let _ = write!(s, "{}", up.addr);
    s.push_str(path_and_query);
    Uri::try_from(s).ok()
}

/// Connects to one panel.
#[derive(Clone)]
pub struct Connector {
    addr: SocketAddr,
    /// The name to present and check, for HTTPS panels.
    tls: Option<String>,
}

type Connecting = Pin<Box<dyn Future<Output = Result<TokioIo<PanelStream>, io::Error>> + Send>>;

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<PanelStream>;
    type Error = io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Connecting {
        let addr = self.addr;
        let tls = self.tls.clone();
        Box::pin(async move {
            let connecting = async {
                let tcp = TcpStream::connect(addr).await?;
                let _ = tcp.set_nodelay(true);
                match tls {
                    None => Ok(PanelStream::Plain(tcp)),
                    Some(name) => {
                        let server = rustls::pki_types::ServerName::try_from(name)
                            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                        let tls = tokio_rustls::TlsConnector::from(tls_config())
                            .connect(server, tcp)
                            .await?;
                        Ok(PanelStream::Tls(Box::new(tls)))
                    }
                }
            };
            match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
                Ok(r) => r.map(TokioIo::new),
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connecting to the panel timed out",
                )),
            }
        })
    }
}

/// The TLS settings toward HTTPS panels: the system's authorities.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().unwrap_or_default() {
                let _ = roots.add(cert);
            }
            let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth())
            .unwrap_or_else(|_| {
                rustls::ClientConfig::builder()
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth()
            });
            cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(cfg)
        })
        .clone()
}

/// A connection to a panel.
pub enum PanelStream {
    /// Plain HTTP.
    Plain(TcpStream),
    /// HTTPS.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Connection for PanelStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for PanelStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PanelStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            PanelStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for PanelStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PanelStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            PanelStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PanelStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            PanelStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            PanelStream::Plain(s) => s.is_write_vectored(),
            PanelStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PanelStream::Plain(s) => Pin::new(s).poll_flush(cx),
            PanelStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PanelStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            PanelStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
