//! Idle HTTP/1.1 keep-alive connections that hold no HTTP state.
//!
//! hyper keeps a connection's read and write buffers (8 KiB and more) and
//! its dispatcher for as long as the connection lives, idle or not. Here a
//! hyper `Connection` lives for one request (or for a burst of pipelined
//! ones): once the answer is written out and nothing more is buffered,
//! [`LeanIo`] tells hyper the client has nothing more to say (a read of
//! zero bytes, without touching the socket). hyper ends the connection
//! cleanly and hands the socket back (`without_shutdown` +
//! `into_parts`); the connection then waits for its next request in a
//! future of a few hundred bytes, holding only the socket.
//!
//! The "nothing more is buffered" judgement is made from what passed
//! through [`LeanIo`], never from hyper's internals:
//!
//! * the request had no body (a body's bytes may still sit in hyper's
//!   buffer, or be on their way);
//! * no bytes were read from the socket since hyper handed that request
//!   to the service, and the last read ended with the blank line that ends
//!   a request header (so no part of a next, pipelined request is in
//!   hyper's buffer: a partial header cannot end with a blank line, and a
//!   complete one would have been served first);
//! * the answer's body ended and hyper flushed everything it had written.
//!
//! When any of these does not hold the connection simply stays with
//! hyper until a later request meets them (or it closes). This leans on
//! hyper 1.x's HTTP/1 dispatcher reading only when it wants a next
//! request head (`half_close` on) and flushing its buffer before calling
//! the socket's flush; `Cargo.toml` pins the hyper version this was
//! proven on, and `tests/lean_connections.rs` guards the mechanism
//! (pipelining, HEAD, bodies, upgrades, memory).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// What the service and the socket wrapper of one connection tell each other.
#[derive(Debug, Default)]
pub struct ConnState {
    /// Reads from the socket that returned bytes.
    reads: AtomicU64,
    /// `reads` when the current request was handed to the service.
    reads_at_request: AtomicU64,
    /// The last (up to) four bytes read, in order, low byte last.
    tail: AtomicU32,
    /// The current request came without a body.
    bodiless: AtomicBool,
    /// The current answer's body has ended (or was dropped).
    answered: AtomicBool,
    /// hyper flushed the socket after the answer ended.
    flushed: AtomicBool,
    /// Set when [`LeanIo`] ended a connection by itself.
    released: AtomicBool,
    /// The panel's side of a protocol upgrade (`101 Switching Protocols`),
    /// to be joined with the client's once hyper lets go of the socket.
    pub upgrade: Mutex<Option<hyper::upgrade::OnUpgrade>>,
}

/// `\r\n\r\n` as [`ConnState::tail`] holds it.
const BLANK_LINE: u32 = u32::from_be_bytes(*b"\r\n\r\n");

impl ConnState {
    /// A request was handed to the service.
    pub fn request_started(&self, bodiless: bool) {
        self.reads_at_request
            .store(self.reads.load(Ordering::Relaxed), Ordering::Relaxed);
        self.bodiless.store(bodiless, Ordering::Relaxed);
        self.answered.store(false, Ordering::Relaxed);
        self.flushed.store(false, Ordering::Relaxed);
    }

    /// The answer's body ended (or hyper dropped it).
    pub fn answered(&self) {
        self.answered.store(true, Ordering::Relaxed);
    }

    /// Whether hyper's buffers are known to be empty and the answer out.
    fn releasable(&self) -> bool {
        self.flushed.load(Ordering::Relaxed)
            && self.bodiless.load(Ordering::Relaxed)
            && self.reads.load(Ordering::Relaxed) == self.reads_at_request.load(Ordering::Relaxed)
            && self.tail.load(Ordering::Relaxed) == BLANK_LINE
    }

    /// Whether the last connection was ended by [`LeanIo`] (the client
    /// did not close it; it waits for its next request).
    pub fn take_released(&self) -> bool {
        self.released.swap(false, Ordering::Relaxed)
    }

    fn saw(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.reads.fetch_add(1, Ordering::Relaxed);
        let mut tail = self.tail.load(Ordering::Relaxed);
        for &b in &bytes[bytes.len().saturating_sub(4)..] {
            tail = (tail << 8) | u32::from(b);
        }
        self.tail.store(tail, Ordering::Relaxed);
    }
}

/// The socket as hyper sees it for one [`ConnState`].
pub struct LeanIo {
    stream: TcpStream,
    state: Arc<ConnState>,
}

impl LeanIo {
    /// Wraps a socket.
    pub fn new(stream: TcpStream, state: Arc<ConnState>) -> LeanIo {
        LeanIo { stream, state }
    }

    /// The socket back.
    pub fn into_inner(self) -> TcpStream {
        self.stream
    }
}

impl AsyncRead for LeanIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.state.releasable() {
            // Once: the next connection on this socket starts afresh.
            self.state.answered.store(false, Ordering::Relaxed);
            self.state.flushed.store(false, Ordering::Relaxed);
            self.state.released.store(true, Ordering::Relaxed);
            tracing::trace!("connection released between requests");
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.state.saw(&buf.filled()[before..]);
        }
        polled
    }
}

impl AsyncWrite for LeanIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.stream).poll_flush(cx);
        if flushed.is_ready()
            && self.state.answered.load(Ordering::Relaxed)
            && !self.state.flushed.swap(true, Ordering::Relaxed)
        {
            // hyper calls this only once its own buffer is written out:
            // the answer is on the wire. Have hyper look for a next
            // request now, so that the connection is released at once.
            cx.waker().wake_by_ref();
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
