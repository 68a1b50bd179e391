//! Plain HTTP/1.1 clients: one GET on its own connection (readiness
//! checks, the check of each path), and one keep-alive connection with
//! requests one after another (the callgrind client).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One blocking HTTP/1.1 GET with `Connection: close`; status and head.
pub(crate) fn get(port: u16, path: &str, cookie: Option<&str>) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.get(9..12)?.parse().ok()?;
    Some((status, out))
}

pub(crate) fn wait_ready(port: u16, path: &str, what: &str) -> Result<(), String> {
    wait_ready_within(port, path, what, 20)
}

pub(crate) fn wait_ready_within(
    port: u16,
    path: &str,
    what: &str,
    seconds: u64,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        if get(port, path, None).is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{what} did not answer on port {port} within {seconds} s"
    ))
}

/// One keep-alive HTTP/1.1 connection, requests one after another (the
/// callgrind client): no `Connection: close`, the response read by its
/// `Content-Length` (or to the end of a chunked body).
pub(crate) struct KeepAlive {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl KeepAlive {
    pub(crate) fn open(port: u16) -> Result<Self, String> {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        Ok(Self {
            stream,
            buf: Vec::with_capacity(8192),
        })
    }

    /// Status and head of one GET.
    pub(crate) fn get(
        &mut self,
        path: &str,
        cookie: Option<&str>,
    ) -> Result<(u16, String), String> {
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        if let Some(c) = cookie {
            let _ = write!(req, "Cookie: {c}\r\n");
        }
        req.push_str("\r\n");
        self.stream
            .write_all(req.as_bytes())
            .map_err(|e| e.to_string())?;
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill()?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let status = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP response: {head}"))?;
        let lower = head.to_ascii_lowercase();
        let length = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok());
        let end = match length {
            Some(n) => {
                while self.buf.len() < head_end + n {
                    self.fill()?;
                }
                head_end + n
            }
            None if lower.contains("transfer-encoding: chunked") => loop {
                if let Some(i) = self.buf[head_end..]
                    .windows(5)
                    .position(|w| w == b"0\r\n\r\n")
                {
                    break head_end + i + 5;
                }
                self.fill()?;
            },
            None => head_end,
        };
        self.buf.drain(..end);
        Ok((status, head))
    }

    fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the connection closed".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}
