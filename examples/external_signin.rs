//! A small external sign-in page, for the demo: it asks for an e-mail and
//! hands a signed JWT back to Portero (docs/external-sso.md). A real one
//! would check a password first; this one trusts whatever is typed.
//!
//! Portero sends the browser here with `return_to` and `state`; the page
//! hands both back unchanged with the token:
//! `<origin of return_to>/.portero/jwt/callback?jwt=…&return_to=…&state=…`.
//!
//! `EXT_SSO_SECRET=… cargo run --release --example external_signin -- 127.0.0.1:9100 demo`
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{encode, EncodingKey, Header};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

struct Site {
    secret: String,
    tenant: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn param(q: &[u8], name: &str) -> String {
    form_urlencoded::parse(q)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn html(body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .header("content-type", "text/html; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}

async fn handle(
    site: Arc<Site>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() == Method::POST {
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let email = param(&body, "email");
        let return_to = param(&body, "return_to");
        let state = param(&body, "state");
        // Portero's callback lives on the host the visitor came from.
        let origin = url::Url::parse(&return_to)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut jti = [0u8; 16];
        let _ = getrandom::getrandom(&mut jti);
        let claims = serde_json::json!({
            "email": email,
            "name": email.split('@').next().unwrap_or(""),
            "aud": site.tenant,
            "iat": now,
            "exp": now + 120,
            "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        });
        let token = encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(site.secret.as_bytes()),
        )
        .unwrap_or_default();
        let location = format!(
            "{origin}/.portero/jwt/callback?jwt={}&return_to={}&state={}",
            token,
            form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>(),
            form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
        );
        return Ok(Response::builder()
            .status(302)
            .header("location", location)
            .body(Full::new(Bytes::new()))
            .unwrap_or_default());
    }
    let q = req.uri().query().unwrap_or("").as_bytes().to_vec();
    let return_to = param(&q, "return_to");
    let state = param(&q, "state");
    let hint = param(&q, "login_hint");
    Ok(html(format!(
        "<!DOCTYPE html><html><head><meta charset=utf-8><title>Company sign-in</title>\
         <style>body{{font-family:sans-serif;margin:3rem}}</style></head><body>\
         <h1>Company sign-in (example)</h1><p>This page stands in for a reseller's own sign-in. \
         It trusts the e-mail you type and hands Portero a signed JWT for tenant <b>{}</b>.</p>\
         <form method=post><input type=hidden name=return_to value=\"{}\"><input type=hidden name=state value=\"{}\">\
         <label>E-mail <input type=email name=email value=\"{}\" required autofocus></label> <button>Sign in</button></form>\
         <p>Try <code>ana@demo.test</code> (a member) or <code>nobody@demo.test</code> (not a member).</p></body></html>",
        escape(&site.tenant),
        escape(&return_to),
        escape(&state),
        escape(if hint.is_empty() { "ana@demo.test" } else { &hint })
    )))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9100".to_string());
    let tenant = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "demo".to_string());
    let secret = std::env::var("EXT_SSO_SECRET").unwrap_or_default();
    if secret.len() < 32 {
        eprintln!("set EXT_SSO_SECRET to the tenant's jwt_key (32 bytes or more)");
        std::process::exit(2);
    }
    let site = Arc::new(Site { secret, tenant });
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("example external sign-in page on http://{addr}/sso");
    loop {
        let (stream, _) = listener.accept().await?;
        let site = site.clone();
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(
                    TokioIo::new(stream),
                    service_fn(move |r| handle(site.clone(), r)),
                )
                .await;
        });
    }
}
