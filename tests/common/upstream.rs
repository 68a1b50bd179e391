//! A real HTTP server on 127.0.0.1 that answers every request with what it
//! received, and what it said.

use super::*;

/// A real HTTP server that answers every request with what it received:
/// first line `PATH <path and query>`, then `name: value` per header.
pub struct Upstream {
    pub addr: SocketAddr,
}

impl Upstream {
    pub fn start() -> Upstream {
        Upstream {
            addr: serve_http1(echo),
        }
    }
}

/// A panel on 127.0.0.1 answering every HTTP/1.1 connection with `service`
/// (on its own thread and runtime); its address.
pub fn serve_http1<F, Fut>(service: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<Response<Full<Bytes>>, std::convert::Infallible>>
        + Send
        + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let service = service.clone();
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(service))
                        .await;
                });
            }
        });
    });
    addr
}

async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let mut out = format!(
        "PATH {}\n",
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    for (k, v) in req.headers() {
        out.push_str(&format!(
            "{}: {}\n",
            k.as_str(),
            String::from_utf8_lossy(v.as_bytes())
        ));
    }
    // A panel without a user called "ghost" says so when asked to act as it.
    let ghost = req
        .headers()
        .get("x-portero-impersonate")
        .is_some_and(|v| v.as_bytes() == b"ghost");
    let mut builder = Response::builder()
        .header("content-type", "text/plain")
        .header("x-upstream", "echo");
    if ghost {
        builder = builder
            .status(403)
            .header("x-portero-impersonate-unknown", "ghost");
    }
    Ok(builder.body(Full::new(Bytes::from(out))).unwrap())
}

/// What the echo upstream said it received.
#[derive(Debug)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Received {
    pub fn get(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub fn one(&self, name: &str) -> Option<&str> {
        let all = self.get(name);
        assert!(all.len() <= 1, "{name} sent {} times: {all:?}", all.len());
        all.first().copied()
    }
    /// Every header whose name, normalised, starts with `x-portero` or equals one given.
    pub fn identity_like(&self, extra: &[&str]) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(k, _)| {
                let n = k.to_ascii_lowercase().replace('_', "-");
                n.starts_with("x-portero") || extra.iter().any(|e| e.eq_ignore_ascii_case(&n))
            })
            .cloned()
            .collect()
    }
}
