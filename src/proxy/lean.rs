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
//! hyper until a later request meets them (or it closes).
//!
//! A busy client's next request is usually a moment away: before
//! releasing, [`LeanIo`] gives it [`GRACE`] to arrive on the same hyper
//! connection (no rebuild, no extra read). The wait costs no timer of its
//! own: the connection is listed for its worker thread's [`sweep_graced`],
//! which wakes the ones whose grace is over; a request arriving first
//! makes its entry stale. This leans on
//! hyper 1.x's HTTP/1 dispatcher reading only when it wants a next
//! request head (`half_close` on) and flushing its buffer before calling
//! the socket's flush; `Cargo.toml` pins the hyper version this was
//! proven on, and `tests/operations/lean_connections.rs` guards the mechanism
//! (pipelining, HEAD, bodies, upgrades, memory).

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

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
    /// Counts the graces ended early ([`GRACE`]).
    grace: AtomicU64,
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

/// How long an answered connection keeps its hyper state for the
/// client's next request before it is released.
pub const GRACE: Duration = Duration::from_millis(20);

/// A connection waiting out its grace.
struct Graced {
    since: Instant,
    state: Arc<ConnState>,
    /// [`ConnState::grace`] when it was listed: another value means a
    /// request came (or the connection ended) first.
    generation: u64,
    waker: Waker,
}

thread_local! {
    /// This worker thread's connections in their grace.
    static GRACED: RefCell<Vec<Graced>> = const { RefCell::new(Vec::new()) };
    /// Wakes this thread's sweeper when the list stops being empty.
    static GRACE_BEGUN: Arc<Notify> = Arc::new(Notify::new());
}

/// Wakes, on this worker thread, the connections whose grace is over (so
/// they are released); runs for as long as the worker's runtime. Sleeps
/// while no connection waits.
pub async fn sweep_graced() {
    let begun = GRACE_BEGUN.with(Arc::clone);
    loop {
        if GRACED.with(|g| g.borrow().is_empty()) {
            begun.notified().await;
        }
        tokio::time::sleep(GRACE / 2).await;
        let now = Instant::now();
        GRACED.with(|g| {
            g.borrow_mut().retain(|e| {
                if now.duration_since(e.since) < GRACE {
                    return true;
                }
                if e.state.grace.load(Ordering::Relaxed) == e.generation {
                    e.waker.wake_by_ref();
                }
                false
            })
        });
    }
}

/// The socket as hyper sees it for one [`ConnState`].
pub struct LeanIo {
    stream: TcpStream,
    state: Arc<ConnState>,
    /// Since when an answered connection waits for more ([`GRACE`]).
    grace_since: Option<Instant>,
}

impl LeanIo {
    /// Ends a grace (a request came, or the connection ended).
    fn end_grace(&mut self) {
        if self.grace_since.take().is_some() {
            self.state.grace.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl LeanIo {
    /// Wraps a socket.
    pub fn new(stream: TcpStream, state: Arc<ConnState>) -> LeanIo {
        LeanIo {
            stream,
            state,
            grace_since: None,
        }
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
        let this = &mut *self;
        if this.state.releasable() {
            // The next request may already be here, or be a moment away:
            // then it is read on this same connection.
            let before = buf.filled().len();
            match Pin::new(&mut this.stream).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {
                    this.end_grace();
                    this.state.saw(&buf.filled()[before..]);
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Err(e)) => {
                    this.end_grace();
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => {}
            }
            match this.grace_since {
                None => {
                    let now = Instant::now();
                    this.grace_since = Some(now);
                    let entry = Graced {
                        since: now,
                        state: this.state.clone(),
                        generation: this.state.grace.load(Ordering::Relaxed),
                        waker: cx.waker().clone(),
                    };
                    let first = GRACED.with(|g| {
                        let mut g = g.borrow_mut();
                        g.push(entry);
                        g.len() == 1
                    });
                    if first {
                        GRACE_BEGUN.with(|n| n.notify_one());
                    }
                    return Poll::Pending;
                }
                Some(since) if since.elapsed() < GRACE => return Poll::Pending,
                Some(_) => this.end_grace(),
            }
            // Once: the next connection on this socket starts afresh.
            self.state.answered.store(false, Ordering::Relaxed);
            self.state.flushed.store(false, Ordering::Relaxed);
            self.state.released.store(true, Ordering::Relaxed);
            tracing::trace!("connection released between requests");
            return Poll::Ready(Ok(()));
        }
        let this = &mut *self;
        let before = buf.filled().len();
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
