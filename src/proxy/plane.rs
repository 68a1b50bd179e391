//! The hyper data plane: one current-thread tokio runtime per worker
//! thread (`[server].threads`, default one per core), each accepting on
//! its own `SO_REUSEPORT` listening sockets, as nginx runs its workers: a
//! connection lives on the thread that accepted it, and so do the pooled
//! connections to the panels its requests go to.
//!
//! * plain listeners: HTTP/1.1 with idle connections released
//!   ([`super::lean`]), h2c by prior knowledge;
//! * TLS listeners: the certificate by SNI ([`super::tls::SniResolver`]),
//!   h2 or HTTP/1.1 by ALPN;
//! * a control thread: the admin listener, the refresher, SIGHUP, the
//!   ACME certificates' renewal ([`crate::acme`]);
//! * a signal thread ([`super::stop`]); the hand-over ([`super::handover`]).

use super::admin::{Admin, MAX_ADMIN_BODY};
use super::body::OutBody;
use super::control::{hand_over, refresh_forever, reload_on_hangup};
use super::handover::{self, Inherited, Kind};
use super::lean::{ConnState, LeanIo};
use super::serve::{self, ConnInfo};
use super::stop::{self, Stopping};
use super::tls::SniResolver;
use crate::forward::Peer;
use crate::state::State;
use bytes::Bytes;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long an idle keep-alive connection is kept.
const KEEPALIVE: Duration = Duration::from_secs(60);
/// The listen backlog (the kernel caps it at `net.core.somaxconn`).
const BACKLOG: i32 = 4096;
/// The largest request header hyper buffers (Portero answers 431 past
/// [`super::MAX_HEADER_BYTES`] itself; this bounds what is read at all).
const MAX_BUF: usize = super::MAX_HEADER_BYTES + 16 * 1024;
/// How long the successor waits for its predecessor's sockets.
const HAND_OVER_WAIT: Duration = Duration::from_secs(30);

/// What every connection of every worker shares.
struct Plane {
    state: Arc<State>,
    tls: tokio_rustls::TlsAcceptor,
    header_timeout: Duration,
    h1: http1::Builder,
    h2: http2::Builder<TokioExecutor>,
    /// Turns `true` when the listeners must stop accepting.
    stopping: watch::Receiver<bool>,
}

/// Serves until a signal stops it (see [`super::stop`]); with `upgrade`,
/// takes the listening sockets over from the running Portero first.
pub fn run(state: Arc<State>, upgrade: bool) -> Result<(), String> {
    // First of all, so that no stop signal finds the default action (which
    // ends the process at once) once a connection can be accepted.
    let signals = stop::Signals::register()?;
    let cfg = state.config();
    let threads = cfg.server.threads.max(1);
    let inherited = if upgrade {
        let waiting = handover::Waiting::listen(&cfg.server.upgrade_sock)?;
        hand_over::ask_predecessor(&cfg.server.pid_file)?;
        waiting.receive(HAND_OVER_WAIT)?
    } else {
        Vec::new()
    };
    let wanted: Vec<(Kind, SocketAddr)> = cfg
        .server
        .listen
        .iter()
        .map(|a| (Kind::Plain, *a))
        .chain(cfg.server.listen_tls.iter().map(|a| (Kind::Tls, *a)))
        .collect();
    let mut inherited = inherited;
    let admin_listener = match inherited
        .iter()
        .position(|i| i.kind == Kind::Admin && i.addr == cfg.server.admin_listen)
    {
        Some(i) => std::net::TcpListener::from(inherited.swap_remove(i).fd),
        None => std::net::TcpListener::bind(cfg.server.admin_listen)
            .map_err(|e| format!("cannot listen on {} (admin): {e}", cfg.server.admin_listen))?,
    };
    let per_thread = bind_all(&wanted, threads, inherited)?;
    // Kept for the hand-over: every listening socket, in the order bound.
    let mut all: Vec<(Kind, SocketAddr, OwnedFd)> = Vec::new();
    for socks in &per_thread {
        for (kind, addr, l) in socks {
            let fd = l
                .try_clone()
                .map(OwnedFd::from)
                .map_err(|e| format!("cannot keep {addr} for a hand-over: {e}"))?;
            all.push((*kind, *addr, fd));
        }
    }
    let admin_fd = admin_listener
        .try_clone()
        .map(OwnedFd::from)
        .map_err(|e| format!("cannot keep the admin listener for a hand-over: {e}"))?;
    all.push((Kind::Admin, cfg.server.admin_listen, admin_fd));
    hand_over::write_pid(&cfg.server.pid_file);

    let (stop_tx, stop_rx) = watch::channel(false);
    let upgrade_sock = cfg.server.upgrade_sock.clone();
    let fds = Arc::new(all);
    signals.watch(
        state.clone(),
        Duration::from_secs(cfg.server.grace_period),
        Stopping {
            stop_accepting: Box::new(move || {
                let _ = stop_tx.send(true);
            }),
            hand_over: Box::new(move || {
                let list: Vec<(Kind, SocketAddr, std::os::fd::RawFd)> = fds
                    .iter()
                    .map(|(k, a, fd)| (*k, *a, fd.as_raw_fd()))
                    .collect();
                handover::send(&upgrade_sock, &list)
            }),
        },
    )?;

    // Certificates kept from an ACME CA, before the first handshake.
    crate::acme::load_before_serving(&state);
    let plane = Arc::new(Plane {
        state: state.clone(),
        tls: tls_acceptor(state.clone()),
        header_timeout: Duration::from_secs(cfg.server.header_timeout),
        h1: h1_builder(Duration::from_secs(cfg.server.header_timeout)),
        h2: h2_builder(),
        stopping: stop_rx,
    });
    for (i, listeners) in per_thread.into_iter().enumerate() {
        let plane = plane.clone();
        std::thread::Builder::new()
            .name(format!("portero worker {i}"))
            .spawn(move || worker(plane, listeners))
            .map_err(|e| format!("cannot start a worker thread: {e}"))?;
    }
    tracing::info!(
        listen = ?cfg.server.listen,
        listen_tls = ?cfg.server.listen_tls,
        admin = %cfg.server.admin_listen,
        tenants = cfg.tenants.len(),
        threads,
        "portero is serving"
    );
    // Not kept: a configuration held here would stay in memory, whole,
    // through every reload.
    drop(cfg);
    // This thread: the admin listener, the refresher and SIGHUP.
    let control = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the control runtime: {e}"))?;
    control.block_on(async move {
        let admin = Arc::new(Admin::new(state.clone()));
        tokio::spawn(refresh_forever(state.clone()));
        let following = state.clone();
        tokio::spawn(async move { following.follow_store().await });
        tokio::spawn(reload_on_hangup(state.clone()));
        tokio::spawn(crate::acme::run(state.clone()));
        match listener(admin_listener) {
            Ok(l) => serve_admin(l, admin).await,
            Err(e) => tracing::error!("admin listener: {e}"),
        }
        std::future::pending::<()>().await
    });
    Ok(())
}

/// One worker thread: its runtime, its accept loops.
fn worker(plane: Arc<Plane>, listeners: Vec<Bound>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start a worker runtime: {e}");
            return;
        }
    };
    runtime.block_on(async move {
        tokio::spawn(super::lean::sweep_graced());
        for (kind, addr, l) in listeners {
            match listener(l) {
                Ok(l) => {
                    tokio::spawn(accept_loop(plane.clone(), kind, l));
                }
                Err(e) => tracing::error!("cannot serve {addr}: {e}"),
            }
        }
        // Connections keep being served after the listeners close; the
        // process ends through the signal thread.
        std::future::pending::<()>().await
    });
}

fn listener(l: std::net::TcpListener) -> std::io::Result<TcpListener> {
    l.set_nonblocking(true)?;
    TcpListener::from_std(l)
}

/// Accepts until the plane stops accepting. Accept errors (out of file
/// descriptors, a connection reset before it was taken) pause the loop
/// briefly; they never make it spin.
async fn accept_loop(plane: Arc<Plane>, kind: Kind, listener: TcpListener) {
    let mut stopping = plane.stopping.clone();
    loop {
        if *stopping.borrow() {
            return;
        }
        let accepted = tokio::select! {
            biased;
            changed = stopping.changed() => {
                if changed.is_err() {
                    // Nobody can ask to stop any more: keep accepting.
                    std::future::pending::<()>().await;
                }
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let plane = plane.clone();
                // Two tasks, not one with a `match`: an idle plain
                // connection's task is as small as its own future.
                match kind {
                    Kind::Plain => drop(tokio::spawn(serve_plain(plane, stream, peer))),
                    Kind::Tls => drop(tokio::spawn(serve_tls(plane, stream, peer))),
                    Kind::Admin => {}
                }
            }
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The HTTP/2 connection preface's first bytes (h2c by prior knowledge).
const H2_PREFACE: &[u8] = b"PRI ";

/// A plain connection: h2c, or HTTP/1.1 released between requests.
///
/// Its task is most of what an idle keep-alive connection costs (besides
/// the socket's registration and the two `Arc`s made here), so nothing
/// that an idle wait does not need is kept in it: the connection's state
/// is made before the first await (so `peer` is not kept in the future as
/// well), the HTTP runs and the rare tunnel are boxed, and what a run
/// leaves behind goes out of scope before the idle wait (see
/// [`after_h1`]).
fn serve_plain(
    plane: Arc<Plane>,
    stream: TcpStream,
    peer: SocketAddr,
) -> impl std::future::Future<Output = ()> + Send {
    let conn = Arc::new(ConnState::default());
    let info = Arc::new(ConnInfo {
        peer: Peer::new(peer.ip()),
        tls: false,
        lean: Some(conn.clone()),
    });
    serve_plain_conn(plane, stream, info, conn)
}

async fn serve_plain_conn(
    plane: Arc<Plane>,
    mut stream: TcpStream,
    info: Arc<ConnInfo>,
    conn: Arc<ConnState>,
) {
    let _ = stream.set_nodelay(true);
    // The first request's header is due `header_timeout` after the
    // connection opens.
    let mut first = [0u8; 4];
    let peeked = tokio::time::timeout(plane.header_timeout, peek(&stream, &mut first)).await;
    let n = match peeked {
        Ok(Ok(n)) if n > 0 => n,
        _ => return,
    };
    if first[..n] == H2_PREFACE[..n] {
        let info = Arc::new(ConnInfo {
            peer: info.peer.clone(),
            tls: false,
            lean: None,
        });
        let _ = h2_connection(&plane, stream, info).await;
        return;
    }
    // One timer for every idle wait of this connection: pushed back for
    // each (cheap while it has not fired), not made anew.
    let idle_deadline = tokio::time::sleep(KEEPALIVE);
    tokio::pin!(idle_deadline);
    loop {
        // One statement: the run's result is gone before the idle wait.
        let run = h1_connection(&plane, LeanIo::new(stream, conn.clone()), &info);
        stream = match run.await.map(|parts| after_h1(parts, &conn)) {
            Ok(AfterH1::Idle(stream)) => stream,
            Ok(AfterH1::Tunnel(stream, read_ahead, panel)) => {
                // Boxed: rare, and its state would otherwise widen every
                // connection's task, idle ones included.
                Box::pin(serve::tunnel_released(stream, read_ahead, panel)).await;
                return;
            }
            Ok(AfterH1::Close) | Err(_) => return,
        };
        // Idle: wait for the next request with nothing but the socket.
        let mut byte = [0u8; 1];
        idle_deadline
            .as_mut()
            .reset(tokio::time::Instant::now() + KEEPALIVE);
        tokio::select! {
            biased;
            peeked = peek(&stream, &mut byte) => match peeked {
                Ok(n) if n > 0 => {}
                _ => return,
            },
            () = &mut idle_deadline => return,
        }
    }
}

/// What comes after one HTTP/1 run on a plain socket.
enum AfterH1 {
    /// Released between requests: wait for the next one.
    Idle(TcpStream),
    /// A protocol upgrade: the client's socket, what hyper read ahead of
    /// it, and the panel's side.
    Tunnel(TcpStream, Bytes, hyper::upgrade::OnUpgrade),
    /// The client closed, or asked to (`Connection: close`).
    Close,
}

/// Takes the socket back from a finished HTTP/1 run. A plain function, so
/// that the run's parts (hyper's read buffer among them) are not kept in
/// the connection's task.
fn after_h1(parts: H1Parts, conn: &ConnState) -> AfterH1 {
    let read_ahead = parts.read_buf;
    let stream = parts.io.into_inner().into_inner();
    let upgraded = conn.upgrade.lock().ok().and_then(|mut u| u.take());
    if let Some(panel) = upgraded {
        return AfterH1::Tunnel(stream, read_ahead, panel);
    }
    if !conn.take_released() || !read_ahead.iter().all(|b| matches!(b, b'\r' | b'\n')) {
        return AfterH1::Close;
    }
    // `read_ahead` points into hyper's read buffer: dropped here, that
    // goes too.
    AfterH1::Idle(stream)
}

/// Waits until the socket has bytes to read, or is closed, and copies the
/// first of them into `buf` without consuming them. A peek, not
/// `readable()`: the socket may still be marked readable from the last
/// request's read.
///
/// Not tokio's `TcpStream::peek`: its future carries an intrusive waiter
/// (a few dozen bytes) and sits in every idle connection's task, whereas
/// `poll_peek` keeps the waker in the socket's registration (only this
/// task ever waits on it).
fn peek<'a>(
    stream: &'a TcpStream,
    buf: &'a mut [u8],
) -> impl std::future::Future<Output = std::io::Result<usize>> + 'a {
    std::future::poll_fn(move |cx| stream.poll_peek(cx, &mut tokio::io::ReadBuf::new(buf)))
}

type H1Parts = hyper::server::conn::http1::Parts<TokioIo<LeanIo>, ServiceFor>;
type Boxed<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// One HTTP/1 connection's run, on the heap: its HTTP state is freed when
/// it ends, and the connection's task, idle, holds only the socket. (Made
/// in a plain function so that no copy of it sits in the task's future.)
fn h1_connection(
    plane: &Arc<Plane>,
    io: LeanIo,
    info: &Arc<ConnInfo>,
) -> Boxed<hyper::Result<H1Parts>> {
    Box::pin(
        plane
            .h1
            .serve_connection(TokioIo::new(io), service(plane, info.clone()))
            .without_shutdown(),
    )
}

/// An HTTP/2 connection's run, on the heap.
fn h2_connection<I>(plane: &Arc<Plane>, io: I, info: Arc<ConnInfo>) -> Boxed<hyper::Result<()>>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    Box::pin(
        plane
            .h2
            .serve_connection(TokioIo::new(io), service(plane, info)),
    )
}

/// A TLS connection: h2 or HTTP/1.1 by ALPN (kept by hyper while idle).
async fn serve_tls(plane: Arc<Plane>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let accepted = tokio::time::timeout(plane.header_timeout, plane.tls.accept(stream)).await;
    let Ok(Ok(tls)) = accepted else {
        return;
    };
    let alpn = tls.get_ref().1.alpn_protocol();
    if alpn == Some(crate::acme::ACME_TLS_ALPN) {
        // The CA's TLS-ALPN-01 validation: the handshake was all (RFC 8737).
        return;
    }
    let h2 = alpn == Some(b"h2");
    let info = Arc::new(ConnInfo {
        peer: Peer::new(peer.ip()),
        tls: true,
        lean: None,
    });
    if h2 {
        let _ = h2_connection(&plane, tls, info).await;
    } else {
        let served = plane
            .h1
            .serve_connection(TokioIo::new(tls), service(&plane, info))
            .with_upgrades();
        let _ = Box::pin(served).await;
    }
}

/// The hyper service of one connection.
#[derive(Clone)]
pub struct ServiceFor {
    state: Arc<State>,
    info: Arc<ConnInfo>,
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for ServiceFor {
    type Response = http::Response<OutBody>;
    type Error = std::convert::Infallible;
    type Future = Boxed<Result<http::Response<OutBody>, std::convert::Infallible>>;

    fn call(&self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        Box::pin(serve::handle(self.state.clone(), self.info.clone(), req))
    }
}

fn service(plane: &Arc<Plane>, info: Arc<ConnInfo>) -> ServiceFor {
    ServiceFor {
        state: plane.state.clone(),
        info,
    }
}

fn h1_builder(header_timeout: Duration) -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .preserve_header_case(true)
        .half_close(true)
        .max_buf_size(MAX_BUF);
    b
}

fn h2_builder() -> http2::Builder<TokioExecutor> {
    let mut b = http2::Builder::new(TokioExecutor::new());
    b.timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(MAX_BUF).unwrap_or(u32::MAX));
    b
}

fn tls_acceptor(state: Arc<State>) -> tokio_rustls::TlsAcceptor {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let resolver = Arc::new(SniResolver::new(state));
    let mut cfg = match rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(b) => b.with_no_client_auth().with_cert_resolver(resolver),
        Err(_) => rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(resolver),
    };
    // `acme-tls/1` last: chosen only when a client offers nothing else
    // (the CA's TLS-ALPN-01 validation, see `SniResolver`).
    cfg.alpn_protocols = vec![
        b"h2".to_vec(),
        b"http/1.1".to_vec(),
        crate::acme::ACME_TLS_ALPN.to_vec(),
    ];
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

/// A listening socket ready for a worker.
type Bound = (Kind, SocketAddr, std::net::TcpListener);

/// Binds (or takes over) `threads` listening sockets per address, with
/// `SO_REUSEPORT`: the kernel spreads new connections over them. An
/// address another process already listens on is an error, as without
/// `SO_REUSEPORT` (checked first, since the option would let both serve).
fn bind_all(
    wanted: &[(Kind, SocketAddr)],
    threads: usize,
    inherited: Vec<Inherited>,
) -> Result<Vec<Vec<Bound>>, String> {
    let mut per_thread: Vec<Vec<_>> = (0..threads).map(|_| Vec::new()).collect();
    let mut inherited = inherited;
    for &(kind, addr) in wanted {
        let mut socks: Vec<std::net::TcpListener> = Vec::new();
        let mut i = 0;
        while i < inherited.len() {
            if inherited[i].kind == kind && inherited[i].addr == addr {
                socks.push(std::net::TcpListener::from(inherited.swap_remove(i).fd));
            } else {
                i += 1;
            }
        }
        let mut bound_addr = addr;
        if socks.is_empty() {
            // Nobody else may be listening here.
            drop(
                std::net::TcpListener::bind(addr)
                    .map_err(|e| format!("cannot listen on {addr}: {e}"))?,
            );
        } else if let Ok(a) = socks[0].local_addr() {
            bound_addr = a;
        }
        while socks.len() < threads {
            let s = reuseport_listener(bound_addr)
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            if let Ok(a) = s.local_addr() {
                bound_addr = a;
            }
            socks.push(s);
        }
        for (i, s) in socks.into_iter().enumerate() {
            per_thread[i % threads].push((kind, addr, s));
        }
    }
    if !inherited.is_empty() {
        let left: Vec<String> = inherited.iter().map(|i| i.addr.to_string()).collect();
        tracing::info!(
            "no longer listening on {} (not in the configuration)",
            left.join(", ")
        );
    }
    Ok(per_thread)
}

fn reuseport_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_cloexec(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// The admin listener: one HTTP/1.1 connection at a time per client,
/// bodies read whole (up to [`MAX_ADMIN_BODY`]).
async fn serve_admin(listener: TcpListener, admin: Arc<Admin>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("admin accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let admin = admin.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let admin = admin.clone();
                async move {
                    use http_body_util::BodyExt;
                    let (parts, mut body) = req.into_parts();
                    let mut bytes = Vec::new();
                    let mut too_large = false;
                    while let Some(frame) = body.frame().await {
                        let Ok(frame) = frame else { break };
                        if let Ok(data) = frame.into_data() {
                            if bytes.len() + data.len() > MAX_ADMIN_BODY {
                                too_large = true;
                                break;
                            }
                            bytes.extend_from_slice(&data);
                        }
                    }
                    let body = (!too_large).then_some(bytes.as_slice());
                    let resp = admin.answer(&parts, body).await;
                    let (head, body) = resp.into_parts();
                    Ok::<_, std::convert::Infallible>(http::Response::from_parts(
                        head,
                        OutBody::full(Bytes::from(body)),
                    ))
                }
            });
            let mut b = http1::Builder::new();
            b.timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10));
            let _ = b.serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
