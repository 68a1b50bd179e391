//! [`Reply`]: a response Portero writes itself, and the started sign-in
//! ([`Remember`]) it may carry to the one-time store before it goes out.

use super::i18n::Lang;
use super::refusals::internal_error_page;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};

/// A response Portero sends itself.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Headers, `Content-Type` and `Content-Length` included.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body.
    pub body: Bytes,
    /// A started sign-in to keep before the reply goes out (see [`Remember`]).
    pub remember: Option<Box<Remember>>,
}

/// A started sign-in (SAML request, OpenID Connect `state`, external-SSO
/// `state`) that the proxy writes to the one-time store before sending the
/// reply that carries its id to the browser ([`keep_started`]); when it
/// cannot be kept, the visitor gets a page saying why instead (a sign-in
/// that could never finish is not started).
#[derive(Debug, Clone)]
pub struct Remember {
    /// The key (`saml:<request id>`, `oidc:<state>`, `ext:<state>`).
    pub key: String,
    /// The record (JSON).
    pub value: String,
    /// How long it is kept.
    pub ttl: std::time::Duration,
    /// The client address that started it (its budget pays for it).
    pub client: std::net::IpAddr,
}

/// Headers on every page Portero writes: not cached, not framed, no scripts.
const PAGE_HEADERS: [(&str, &str); 5] = [
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    (
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
    ),
];

impl Reply {
    /// A reply with no body.
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            remember: None,
        }
    }

    /// A reply with a body of the given type.
    pub fn with_body(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
        Reply::empty(status)
            .header("content-type", content_type)
            .body(body)
    }

    /// An HTML page.
    pub fn html(status: u16, html: String) -> Reply {
        let mut r = Reply::with_body(status, "text/html; charset=utf-8", html);
        for (k, v) in PAGE_HEADERS {
            r = r.header(k, v);
        }
        r
    }

    /// Plain text (API clients).
    pub fn text(status: u16, text: &str) -> Reply {
        Reply::with_body(status, "text/plain; charset=utf-8", text.to_string())
            .header("cache-control", "no-store")
    }

    /// `302 Found` to `location`.
    pub fn redirect(location: &str) -> Reply {
        Reply::empty(302)
            .header("location", location)
            .header("cache-control", "no-store")
    }

    /// Adds a header; a value that is not valid header text is dropped.
    pub fn header(mut self, name: &'static str, value: &str) -> Reply {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((HeaderName::from_static(name), v));
        }
        self
    }

    /// Adds a `Set-Cookie`.
    pub fn cookie(self, set_cookie: &str) -> Reply {
        self.header("set-cookie", set_cookie)
    }

    /// Keeps `record` under `key` for `ttl` before this reply is sent,
    /// paid for by `client`'s budget of started sign-ins (a record that
    /// cannot be written down is a 500 page in `lang`).
    pub fn remember(
        mut self,
        key: String,
        record: &impl serde::Serialize,
        ttl: std::time::Duration,
        client: std::net::IpAddr,
        lang: Lang,
    ) -> Reply {
        match serde_json::to_string(record) {
            Ok(value) => {
                self.remember = Some(Box::new(Remember {
                    key,
                    value,
                    ttl,
                    client,
                }));
                self
            }
            Err(_) => Reply::html(500, internal_error_page(lang)),
        }
    }

    fn body(mut self, body: impl Into<Bytes>) -> Reply {
        self.body = body.into();
        self
    }
}
