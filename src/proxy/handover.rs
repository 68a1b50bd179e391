//! Zero-downtime upgrade for the hyper data plane: the running process
//! sends its listening sockets to its successor over a Unix socket
//! (`SCM_RIGHTS`), so both hold the very same sockets and no connection
//! is refused while one takes over from the other.
//!
//! The successor (`portero run --upgrade`) listens on
//! `[server].upgrade_sock` and asks the running process (named in the
//! pid file) with SIGQUIT; that one connects, sends one message carrying
//! every listening socket and a line per socket saying what it is
//! (`plain 127.0.0.1:8080`, `tls [::]:8443`), and closes.

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{IoSlice, IoSliceMut, Read};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// What a listening socket serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain HTTP (HTTP/1.1, h2c).
    Plain,
    /// TLS (HTTP/1.1, h2 by ALPN).
    Tls,
    /// The admin listener.
    Admin,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::Tls => "tls",
            Kind::Admin => "admin",
        }
    }
}

/// One listening socket handed over.
#[derive(Debug)]
pub struct Inherited {
    /// Plain or TLS.
    pub kind: Kind,
    /// The address it is bound to.
    pub addr: SocketAddr,
    /// The socket.
    pub fd: OwnedFd,
}

/// The most sockets one message may carry (Linux: `SCM_MAX_FD`).
const MAX_FDS: usize = 253;

/// Sends `sockets` to the successor waiting on `path`.
pub fn send(path: &Path, sockets: &[(Kind, SocketAddr, RawFd)]) -> Result<(), String> {
    if sockets.len() > MAX_FDS {
        return Err(format!(
            "{} listening sockets are more than one hand-over carries ({MAX_FDS}); lower [server].threads",
            sockets.len()
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let stream = loop {
        match UnixStream::connect(path) {
            Ok(s) => break s,
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "cannot reach the successor at {}: {e}",
                    path.display()
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let mut text = String::from("portero-listeners 1\n");
    for (kind, addr, _) in sockets {
        text.push_str(kind.word());
        text.push(' ');
        text.push_str(&addr.to_string());
        text.push('\n');
    }
    let fds: Vec<RawFd> = sockets.iter().map(|s| s.2).collect();
    let bytes = text.as_bytes();
    let mut sent = sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(bytes)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| format!("cannot send the listening sockets: {e}"))?;
    while sent < bytes.len() {
        sent += nix::sys::socket::send(stream.as_raw_fd(), &bytes[sent..], MsgFlags::empty())
            .map_err(|e| format!("cannot send the listening sockets: {e}"))?;
    }
    Ok(())
}

/// Listens on `path` for the running process's sockets.
pub struct Waiting {
    listener: UnixListener,
    path: std::path::PathBuf,
}

impl Waiting {
    /// Starts listening (a stale socket file is replaced).
    pub fn listen(path: &Path) -> Result<Waiting, String> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)
            .map_err(|e| format!("--upgrade: cannot listen on {}: {e}", path.display()))?;
        Ok(Waiting {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// Waits up to `limit` for the sockets.
    pub fn receive(self, limit: Duration) -> Result<Vec<Inherited>, String> {
        let result = self.receive_inner(limit);
        let _ = std::fs::remove_file(&self.path);
        result
    }

    fn receive_inner(&self, limit: Duration) -> Result<Vec<Inherited>, String> {
        self.listener
            .set_nonblocking(true)
            .map_err(|e| format!("--upgrade: {e}"))?;
        let deadline = Instant::now() + limit;
        let mut stream = loop {
            match self.listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(format!(
                            "--upgrade: the running Portero did not hand over its listeners within {limit:?}"
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(format!("--upgrade: {e}")),
            }
        };
        stream
            .set_nonblocking(false)
            .and_then(|()| stream.set_read_timeout(Some(Duration::from_secs(10))))
            .map_err(|e| format!("--upgrade: {e}"))?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
        let (n, fds) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<()>(
                stream.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .map_err(|e| format!("--upgrade: cannot receive the listening sockets: {e}"))?;
            let mut fds = Vec::new();
            for c in msg
                .cmsgs()
                .map_err(|e| format!("--upgrade: cannot receive the listening sockets: {e}"))?
            {
                if let ControlMessageOwned::ScmRights(list) = c {
                    // SAFETY: the kernel just gave this process these
                    // descriptors; nothing else owns them.
                    fds.extend(
                        list.into_iter()
                            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                    );
                }
            }
            (msg.bytes, fds)
        };
        buf.truncate(n);
        // The rest of the text, if it came in more than one piece.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        buf.extend_from_slice(&rest);
        parse(&buf, fds)
    }
}

/// Pairs the text lines with the received sockets.
fn parse(text: &[u8], fds: Vec<OwnedFd>) -> Result<Vec<Inherited>, String> {
    let text = std::str::from_utf8(text).unwrap_or("");
    let mut lines = text.lines();
    if lines.next() != Some("portero-listeners 1") {
        return Err("--upgrade: the running Portero's hand-over is not understood (it runs another data plane or version; stop it and start this one instead)".into());
    }
    let described: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    if described.len() != fds.len() {
        return Err(format!(
            "--upgrade: {} sockets described but {} received",
            described.len(),
            fds.len()
        ));
    }
    described
        .into_iter()
        .zip(fds)
        .map(|(line, fd)| {
            let (word, addr) = line
                .split_once(' ')
                .ok_or_else(|| format!("--upgrade: cannot read {line:?}"))?;
            let kind = match word {
                "plain" => Kind::Plain,
                "tls" => Kind::Tls,
                "admin" => Kind::Admin,
                _ => return Err(format!("--upgrade: cannot read {line:?}")),
            };
            let addr = addr
                .parse()
                .map_err(|_| format!("--upgrade: cannot read {line:?}"))?;
            Ok(Inherited { kind, addr, fd })
        })
        .collect()
}
