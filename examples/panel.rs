//! A small stand-in for a legacy hosting panel, for the demo: it shows the
//! headers Portero sent it, has its own "classic" login form, a static file
//! and an admin console path.
//!
//! `cargo run --release --example panel -- 127.0.0.1:9000`
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use tokio::net::TcpListener;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    if path.starts_with("/static/") {
        return Ok(Response::builder()
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from(
                "a static file, served without identity headers\n",
            )))
            .unwrap_or_default());
    }
    let mut rows = String::new();
    let mut names: Vec<_> = req
        .headers()
        .keys()
        .map(|k| k.as_str().to_string())
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        for v in req.headers().get_all(name.as_str()) {
            let strong = name.starts_with("x-portero") || name.starts_with("x-forwarded");
            let value = String::from_utf8_lossy(v.as_bytes());
            let shown = if name == "x-portero-assertion" && value.len() > 60 {
                format!("{}…", &value[..60])
            } else {
                value.to_string()
            };
            let cell = if strong {
                format!("<b>{}</b>", escape(&name))
            } else {
                escape(&name)
            };
            rows.push_str(&format!(
                "<tr><td>{cell}</td><td><code>{}</code></td></tr>",
                escape(&shown)
            ));
        }
    }
    let who = req
        .headers()
        .get("x-portero-user")
        .and_then(|v| v.to_str().ok())
        .map(|u| format!("<p>Portero says this is <b>{}</b>.</p>", escape(u)))
        .unwrap_or_else(|| {
            "<p>No identity headers: this is the panel's own <b>classic login</b>.</p>\
             <form><label>User <input name=u></label> <label>Password <input type=password name=p></label> \
             <button disabled>Log in (demo)</button></form>"
                .to_string()
        });
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=utf-8><title>Example panel</title>\
         <style>body{{font-family:sans-serif;margin:2rem}}td{{padding:.2rem .6rem;border-bottom:1px solid #ddd}}</style></head>\
         <body><h1>Example hosting panel</h1><p>Path: <code>{}</code></p>{who}\
         <h2>Headers the panel received</h2><table>{rows}</table>\
         <p><a href=\"/.portero/accounts\">Accounts</a> · <a href=\"/admin\">Admin console</a> · <a href=\"/.portero/logout\">Sign out</a></p></body></html>",
        escape(&path)
    );
    Ok(Response::builder()
        .header("content-type", "text/html; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".to_string());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("example panel on http://{addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .await;
        });
    }
}
