//! The upstream: a small, fast panel stand-in, run as this same program
//! with `--serve-upstream <port>`.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// A small, fast panel stand-in: 200 with a short body, and the identity it
/// was told in `x-seen-user` so the run can check that (b) really is signed in.
pub(crate) fn serve_upstream(port: u16) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(panel))
                    .await;
            });
        }
    });
}

pub(crate) async fn panel(
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let user = req
        .headers()
        .get("x-portero-user")
        .cloned()
        .unwrap_or(hyper::header::HeaderValue::from_static("-"));
    Ok(Response::builder()
        .header("content-type", "text/plain")
        .header("x-seen-user", user)
        .body(Full::new(Bytes::from_static(b"panel says hello\n")))
        .unwrap())
}
