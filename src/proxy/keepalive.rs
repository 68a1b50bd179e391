//! Idle HTTP/1.1 keep-alive connections that cost little memory.
//!
//! pingora waits for a connection's next request inside the future that
//! also proxies it; that future is about 13 KiB and stays allocated for as
//! long as the connection idles. [`LeanKeepalive`] runs pingora's own
//! HTTP/1 loop (the one in `pingora_core::apps`) but waits for the first
//! byte of the next request *before* entering it, in a future of a few
//! hundred bytes. Everything else — TLS, HTTP/2 (ALPN and h2c), the
//! proxying itself — is pingora's unchanged.

use async_trait::async_trait;
use pingora::apps::{HttpServerApp, ServerApp};
use pingora::protocols::http::ServerSession;
use pingora::protocols::{Stream, ALPN};
use pingora::server::ShutdownWatch;
use std::sync::Arc;
use std::time::Duration;

/// How long an idle keep-alive connection is kept: pingora's default.
const KEEPALIVE_SECS: u64 = 60;

/// The HTTP/2 connection preface, which h2c clients send first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Wraps an HTTP application (pingora's `HttpProxy`).
pub struct LeanKeepalive<A> {
    inner: Arc<A>,
}

impl<A> LeanKeepalive<A> {
    /// Wraps `inner`.
    pub fn new(inner: A) -> Self {
        LeanKeepalive {
            inner: Arc::new(inner),
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
            let reused = self.inner.process_new_http(session, shutdown).await?;
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
