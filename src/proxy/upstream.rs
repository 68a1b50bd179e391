//! The panels' side: keep-alive HTTP/1.1 connections to each panel, kept
//! per worker thread (a connection stays on the thread that made it, as
//! the client connections do), with a connect timeout and, for HTTPS
//! panels, rustls with the system's certificate authorities.
//!
//! The pool is hyper's own connection API with a stack of idle senders in
//! front: a sender goes back as soon as the panel's answer head is in, and
//! is taken again only once hyper says it is ready for the next request
//! (its previous answer read to the end); one a panel closed is dropped
//! when met. A request the panel never received (the connection closed as
//! it was taken) is sent once more on a fresh connection.

use crate::config::Upstream;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How long connecting to a panel may take (TCP and TLS).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle connection to a panel is reused.
const POOL_IDLE: Duration = Duration::from_secs(60);
/// The most idle connections kept per panel and thread.
const MAX_IDLE: usize = 256;
/// The most distinct panels whose pools one thread keeps (older ones are
/// dropped when reloads keep changing them).
const MAX_POOLS: usize = 4096;

/// Identifies a panel as configured (a reload that changes it gets a
/// fresh pool).
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    addr: SocketAddr,
    tls: bool,
    sni: String,
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

/// A connection's sender, and since when it has waited in the pool.
struct Idle {
    sender: SendRequest<Incoming>,
    since: Instant,
}

thread_local! {
    static POOLS: RefCell<FxHashMap<Key, Vec<Idle>>> = RefCell::new(FxHashMap::default());
}

/// Why the panel gave no answer.
#[derive(Debug)]
pub enum Failure {
    /// No connection could be made.
    Connect(io::Error),
    /// The exchange failed (the panel closed, sent garbage, …).
    Exchange(hyper::Error),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connect(e) => write!(f, "cannot connect: {e}"),
            Failure::Exchange(e) => match std::error::Error::source(e) {
                Some(cause) => write!(f, "{e}: {cause}"),
                None => write!(f, "{e}"),
            },
        }
    }
}

/// Sends `req` (target in origin-form) to the panel `up` and returns its
/// answer head; the body streams from the connection.
pub async fn send(up: &Upstream, req: Request<Incoming>) -> Result<Response<Incoming>, Failure> {
    let key = Key::of(up);
    let (mut sender, reused) = match take_idle(&key) {
        Some(s) => (s, true),
        None => (connect(up).await?, false),
    };
    match sender.try_send_request(req).await {
        Ok(resp) => {
            put_back(key, sender, &resp);
            Ok(resp)
        }
        Err(mut e) => match e.take_message() {
            // Never written: the reused connection was closing. Once more,
            // on a connection of its own.
            Some(req) if reused => {
                let mut sender = connect(up).await?;
                let resp = sender.send_request(req).await.map_err(Failure::Exchange)?;
                put_back(key, sender, &resp);
                Ok(resp)
            }
            _ => Err(Failure::Exchange(e.into_error())),
        },
    }
}

/// An idle connection ready for a request, newest first; closed and
/// expired ones are dropped on the way, busy ones stay.
fn take_idle(key: &Key) -> Option<SendRequest<Incoming>> {
    POOLS.with(|pools| {
        let mut pools = pools.borrow_mut();
        let idle = pools.get_mut(key)?;
        let now = Instant::now();
        idle.retain(|i| !i.sender.is_closed() && now.duration_since(i.since) < POOL_IDLE);
        let ready = idle.iter().rposition(|i| i.sender.is_ready())?;
        Some(idle.swap_remove(ready).sender)
    })
}

/// Keeps the connection for later requests (not one that switched protocols:
/// it is the tunnel's now).
fn put_back(key: Key, sender: SendRequest<Incoming>, answer: &Response<Incoming>) {
    if answer.status() == http::StatusCode::SWITCHING_PROTOCOLS {
        return;
    }
    POOLS.with(|pools| {
        let mut pools = pools.borrow_mut();
        if pools.len() >= MAX_POOLS && !pools.contains_key(&key) {
            pools.clear();
        }
        let idle = pools.entry(key).or_default();
        if idle.len() >= MAX_IDLE {
            idle.remove(0);
        }
        idle.push(Idle {
            sender,
            since: Instant::now(),
        });
    })
}

/// A fresh connection to the panel, its reading and writing running on a
/// task of this thread (upgrades allowed: WebSocket goes through it).
async fn connect(up: &Upstream) -> Result<SendRequest<Incoming>, Failure> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, open(up.addr, up.tls.then_some(&up.sni)))
        .await
        .map_err(|_| {
            Failure::Connect(io::Error::new(
                io::ErrorKind::TimedOut,
                "connecting to the panel timed out",
            ))
        })?
        .map_err(Failure::Connect)?;
    let (sender, conn) = http1::Builder::new()
        .preserve_header_case(true)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(Failure::Exchange)?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "panel connection ended");
        }
    });
    Ok(sender)
}

async fn open(addr: SocketAddr, tls: Option<&String>) -> io::Result<PanelStream> {
    let tcp = TcpStream::connect(addr).await?;
    let _ = tcp.set_nodelay(true);
    match tls {
        None => Ok(PanelStream::Plain(tcp)),
        Some(name) => {
            let server = rustls::pki_types::ServerName::try_from(name.clone())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let tls = tokio_rustls::TlsConnector::from(tls_config())
                .connect(server, tcp)
                .await?;
            Ok(PanelStream::Tls(Box::new(tls)))
        }
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
