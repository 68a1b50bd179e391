//! A raw HTTP/1.1 client: requests written exactly as given (so spoofed
//! headers reach Portero as an attacker writes them), responses parsed.

use super::*;

/// A parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn location(&self) -> &str {
        self.header("location").unwrap_or("")
    }
    /// The value of a cookie set by this response (empty when cleared).
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.all("set-cookie").into_iter().find_map(|c| {
            let (k, rest) = c.split_once('=')?;
            (k.trim() == name).then(|| rest.split(';').next().unwrap_or("").to_string())
        })
    }
    /// What the echo upstream received; panics if the request was not forwarded.
    pub fn received(&self) -> Received {
        assert_eq!(
            self.header("x-upstream"),
            Some("echo"),
            "not forwarded: {} {}",
            self.status,
            self.body
        );
        let mut lines = self.body.lines();
        let path = lines
            .next()
            .unwrap_or("")
            .trim_start_matches("PATH ")
            .to_string();
        let headers = lines
            .filter_map(|l| {
                l.split_once(": ")
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect();
        Received { path, headers }
    }
    pub fn forwarded(&self) -> bool {
        self.header("x-upstream") == Some("echo")
    }
}

/// Sends raw bytes from `from` (a local address) and reads the whole response.
pub fn raw_from(from: Option<&str>, port: u16, request: &[u8]) -> Resp {
    let mut stream = match from {
        Some(local) => connect_from(local, port).unwrap(),
        None => TcpStream::connect(("127.0.0.1", port)).unwrap(),
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf);
    parse_response(&buf)
}

/// Connects from a chosen loopback address (127.0.0.x), so a test can be a
/// trusted proxy or not. std cannot bind before connecting; tokio can.
fn connect_from(local: &str, port: u16) -> std::io::Result<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local: SocketAddr = format!("{local}:0")
        .parse()
        .map_err(std::io::Error::other)?;
    let stream = rt.block_on(async move {
        let s = tokio::net::TcpSocket::new_v4()?;
        s.bind(local)?;
        s.connect(SocketAddr::from(([127, 0, 0, 1], port)))
            .await?
            .into_std()
    })?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

pub fn parse_response(buf: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A request to send; headers are written exactly as given.
pub struct Req {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    from: Option<String>,
}

pub fn get(host: &str, target: &str) -> Req {
    Req {
        method: "GET".into(),
        target: target.into(),
        headers: vec![("Host".into(), host.into())],
        body: Vec::new(),
        from: None,
    }
}

pub fn post_form(host: &str, target: &str, form: &[(&str, &str)]) -> Req {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut r = get(host, target);
    r.method = "POST".into();
    r.body = body.into_bytes();
    r.header("Content-Type", "application/x-www-form-urlencoded")
}

impl Req {
    pub fn header(mut self, k: &str, v: &str) -> Req {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn html(self) -> Req {
        self.header("Accept", "text/html,application/xhtml+xml")
    }
    pub fn cookie(self, name: &str, value: &str) -> Req {
        self.header("Cookie", &format!("{name}={value}"))
    }
    /// The request's body, as it is.
    pub fn body(mut self, body: &[u8]) -> Req {
        self.body = body.to_vec();
        self
    }
    pub fn method(mut self, m: &str) -> Req {
        self.method = m.into();
        self
    }
    /// Connect from this local address (e.g. `127.0.0.2`).
    pub fn from(mut self, local: &str) -> Req {
        self.from = Some(local.into());
        self
    }
    pub fn send(self, port: u16) -> Resp {
        let mut raw = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        for (k, v) in &self.headers {
            raw.push_str(&format!("{k}: {v}\r\n"));
        }
        raw.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            self.body.len()
        ));
        let mut bytes = raw.into_bytes();
        bytes.extend_from_slice(&self.body);
        raw_from(self.from.as_deref(), port, &bytes)
    }
}

pub fn query_map(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

/// What an HTTP/2 answer carried: status, whether the echo panel answered
/// (its `x-upstream` header), and the body.
#[derive(Debug)]
pub struct H2Resp {
    pub status: u16,
    pub from_upstream: bool,
    pub body: String,
}

/// One HTTP/2 request with prior knowledge (h2c) to Portero's plain port,
/// `uri` as the `:authority`/path and `headers` as given; `None` when the
/// stream was refused.
pub fn h2c_send(port: u16, uri: &str, headers: &[(&str, &str)]) -> Option<H2Resp> {
    use http_body_util::BodyExt;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let (mut send, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            TokioIo::new(tcp),
        )
        .await
        .unwrap();
        tokio::spawn(conn);
        let mut req = hyper::Request::builder().uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(http_body_util::Empty::<Bytes>::new()).unwrap();
        let resp = send.send_request(req).await.ok()?;
        let status = resp.status().as_u16();
        let from_upstream = resp.headers().get("x-upstream").is_some();
        let body = resp.into_body().collect().await.ok()?.to_bytes();
        Some(H2Resp {
            status,
            from_upstream,
            body: String::from_utf8_lossy(&body).to_string(),
        })
    })
}
