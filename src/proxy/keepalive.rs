//! Idle HTTP/1.1 keep-alive connections that cost little memory.
//!
//! pingora waits for a connection's next request inside the future that
//! also proxies it; that future is about 13 KiB and stays allocated for as
//! long as the connection idles. [`LeanKeepalive`] runs pingora's own
//! HTTP/1 loop (the one in `pingora_core::apps`) but waits for the first
//! byte of the next request *before* entering it, in a future of a few
//! hundred bytes. Everything else — TLS, HTTP/2 (ALPN and h2c), the
//! proxying itself — is pingora's unchanged.
//!
//! It also bounds slow clients (slowloris): pingora times out each read
//! (60 s) but not the whole request header, so a client trickling a byte
//! at a time could hold a connection for ever. Here a request whose header
//! has not fully arrived `[server].header_timeout` after its first byte
//! (the connection's start, for the first request) is dropped.

use async_trait::async_trait;
use pingora::apps::{HttpServerApp, ServerApp};
use pingora::protocols::http::ServerSession;
use pingora::protocols::{Stream, ALPN};
use pingora::server::ShutdownWatch;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

tokio::task_local! {
    /// Set by the proxy once the current request's header has been read.
    static HEADER_READ: Arc<AtomicBool>;
}

/// Marks the current request's header as read (called first thing by the
/// proxy's request filter; a no-op outside [`LeanKeepalive`]).
pub fn header_read() {
    let _ = HEADER_READ.try_with(|flag| flag.store(true, Ordering::Relaxed));
}

/// Runs one request: if its header is not read within `limit`, the
/// request (and its connection) is dropped; once it is, it runs to its end.
async fn within_header_deadline<T>(
    serve: impl Future<Output = Option<T>>,
    limit: Duration,
) -> Option<T> {
    let read = Arc::new(AtomicBool::new(false));
    let serve = HEADER_READ.scope(read.clone(), serve);
    tokio::pin!(serve);
    tokio::select! {
        done = &mut serve => done,
        _ = tokio::time::sleep(limit) => {
            if read.load(Ordering::Relaxed) {
                serve.await
            } else {
                tracing::debug!("request header not complete after {limit:?}; connection dropped");
                None
            }
        }
    }
}

/// How long an idle keep-alive connection is kept: pingora's default.
const KEEPALIVE_SECS: u64 = 60;

/// The HTTP/2 connection preface, which h2c clients send first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Wraps an HTTP application (pingora's `HttpProxy`).
pub struct LeanKeepalive<A> {
    inner: Arc<A>,
    header_timeout: Duration,
}

impl<A> LeanKeepalive<A> {
    /// Wraps `inner`; a request header must arrive within `header_timeout`.
    pub fn new(inner: A, header_timeout: Duration) -> Self {
        LeanKeepalive {
            inner: Arc::new(inner),
            header_timeout,
        }
    }
}

/// Waits until the client sends the next request's first byte; `false` when
/// it closed, idled out, or the server is shutting down.
async fn next_request_arrives(stream: &mut Stream, shutdown: &ShutdownWatch) -> bool {
    if *shutdown.borrow() {
        return false;
    }
    let mut shutdown = shutdown.clone();
    let mut first = [0u8; 1];
    tokio::select! {
        peeked = stream.try_peek(&mut first) => peeked.is_ok(),
        _ = tokio::time::sleep(Duration::from_secs(KEEPALIVE_SECS)) => false,
        _ = shutdown.changed() => false,
    }
}

#[async_trait]
impl<A> ServerApp for LeanKeepalive<A>
where
    A: HttpServerApp + ServerApp + Send + Sync + 'static,
{
    async fn process_new(
        self: &Arc<Self>,
        mut stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let h2c = self.inner.server_options().is_some_and(|o| o.h2c);
        let tls = stream.get_ssl_digest().is_some();
        let mut h2 = matches!(stream.selected_alpn_proto(), Some(ALPN::H2));
        if !tls && h2c && !h2 {
            let mut preface = [0u8; H2_PREFACE.len()];
            // pingora peeks the same way; a stream that cannot peek is HTTP/1.
            h2 = matches!(stream.try_peek(&mut preface).await, Ok(true)) && preface == H2_PREFACE;
        }
        if tls || h2 {
            return self.inner.process_new(stream, shutdown).await;
        }
        // HTTP/1.1, as pingora_core::apps does it, with the idle wait moved out.
        let mut session = ServerSession::new_http1(stream);
        session.set_keepalive((!*shutdown.borrow()).then_some(KEEPALIVE_SECS));
        session.set_keepalive_reuses_remaining(
            self.inner
                .server_options()
                .and_then(|o| o.keepalive_request_limit),
        );
        loop {
            // In flight from the request's first byte (the connection's
            // start, for the first) to the end of its answer.
            let in_flight = super::stop::InFlight::start();
            let reused = within_header_deadline(
                self.inner.process_new_http(session, shutdown),
                self.header_timeout,
            )
            .await?;
            drop(in_flight);
            // Portero never turns on HTTP/1 pipelining, so no request bytes
            // are held in `settings`: waiting on the socket is exact.
            let (mut stream, settings) = reused.consume();
            if !next_request_arrives(&mut stream, shutdown).await {
                return None;
            }
            session = ServerSession::new_http1(stream);
            if let Some(settings) = settings {
                settings.apply_to_session(&mut session);
            }
        }
    }

    async fn cleanup(&self) {
        self.inner.http_cleanup().await;
    }
}
