//! The pingora data plane: each phase of [`ProxyHttp`] stays thin and calls
//! into [`crate::gate`] (decide) and [`crate::identity`] (headers).
//!
//! * `request_filter` reads the request into a [`RequestView`], runs the
//!   gate, and either answers or lets the request go on;
//! * `upstream_peer` picks the tenant's panel (pooled keep-alive connections);
//! * `upstream_request_filter` hands the upstream request to
//!   [`crate::forward::prepare`] (strip spoofable headers and Portero's
//!   cookies, set the forwarding and identity headers);
//! * `fail_to_proxy` writes a clear 502 page when the panel is down.
//!
//! [`keepalive::LeanKeepalive`] keeps idle keep-alive connections small.

mod admin;
mod handover;
pub mod judge;
mod keepalive;
mod lean;
mod plane;
mod serve;
mod server;
pub mod stop;
mod tls;
mod upstream;

/// Serves until a signal stops it, on the data plane the configuration
/// (or `PORTERO_DATA_PLANE`) names; see [`server::run`] (pingora) and
/// [`plane::run`] (hyper).
pub fn run(state: Arc<State>, upgrade: bool) -> std::result::Result<(), String> {
    use crate::config::DataPlane;
    let chosen = std::env::var("PORTERO_DATA_PLANE")
        .ok()
        .and_then(|v| DataPlane::parse(v.trim()))
        .unwrap_or(state.config().server.data_plane);
    match chosen {
        DataPlane::Pingora => server::run(state, upgrade),
        DataPlane::Hyper => plane::run(state, upgrade),
    }
}

use crate::config::Config;
use crate::forward::{self, Arrival};
use crate::gate::{IdentityHeaders, RequestView};
use crate::state::State;
use crate::web::{self, Reply};
use async_trait::async_trait;
use http::header::{ACCEPT, HOST, ORIGIN};
use judge::Answer;
use pingora::http::authority::{raw_target_authority, RawTargetAuthority};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::{HttpPeer, Session};
use pingora::proxy::{FailToProxy, ProxyHttp};
use pingora::{Error, ErrorSource, ErrorType, Result};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest body Portero reads for its own forms.
pub(crate) const MAX_FORM_BODY: usize = 64 * 1024;

/// The proxy service.
pub struct Portero {
    state: Arc<State>,
}

impl Portero {
    /// Wraps the shared state.
    pub fn new(state: Arc<State>) -> Portero {
        Portero { state }
    }
}

/// What one request carries from phase to phase.
#[derive(Default)]
pub struct Ctx {
    config: Option<Arc<Config>>,
    tenant: Option<usize>,
    peer: Option<IpAddr>,
    peer_trusted: bool,
    /// The host in its normalised spelling, once judged.
    authority: Option<crate::facts::Authority>,
    /// The client address the rules used.
    client_ip: Option<IpAddr>,
    tls: bool,
    identity: Option<IdentityHeaders>,
    label: &'static str,
    /// A page that replaces the panel's answer (an impersonation the panel
    /// does not know).
    replacement: Option<bytes::Bytes>,
    /// Whether the panel's body is being dropped for `replacement`.
    replaced: bool,
    /// The language of Portero's pages for this request.
    lang: crate::web::i18n::Lang,
    /// When the request arrived.
    started: Option<Instant>,
    /// Counts this request as in flight (a graceful stop waits for it).
    _in_flight: Option<stop::InFlight>,
}

/// What a panel answers (any status) when `X-Portero-Impersonate` names a
/// login it does not have; Portero shows a page instead of the answer.
pub const UNKNOWN_IMPERSONATION: &str = "x-portero-impersonate-unknown";

fn header_str(req: &RequestHeader, name: impl http::header::AsHeaderName) -> Option<&str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

fn header_all<'a>(req: &'a RequestHeader, name: &'static str) -> Vec<&'a str> {
    req.headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

/// The `Host` a request names: the header, or the HTTP/2 `:authority`.
fn authority(req: &RequestHeader) -> &str {
    header_str(req, HOST)
        .or_else(|| req.uri.authority().map(|a| a.as_str()))
        .unwrap_or("")
}

/// The host the request target itself names: HTTP/2 `:authority`, or the
/// authority of an HTTP/1 absolute-form target (`GET http://host/ …`).
/// An authority that is not text stands as itself, to be refused.
fn target_authority(req: &RequestHeader) -> Option<&str> {
    if let Some(a) = req.uri.authority() {
        return Some(a.as_str());
    }
    match raw_target_authority(req.raw_path()) {
        RawTargetAuthority::None => None,
        RawTargetAuthority::Absolute { authority, .. } => {
            Some(std::str::from_utf8(authority).unwrap_or("\u{fffd}"))
        }
        // pingora refuses these before here; never let one through.
        RawTargetAuthority::AmbiguousAuthority => Some("\u{fffd}"),
    }
}

/// Whether the request carries more than one `Host` header.
fn duplicate_host(req: &RequestHeader) -> bool {
    req.headers.get_all(HOST).iter().nth(1).is_some()
}

fn is_tls(session: &Session) -> bool {
    session.digest().is_some_and(|d| d.ssl_digest.is_some())
}

/// Reads a form body for Portero's own pages, up to [`MAX_FORM_BODY`].
async fn read_form_body(session: &mut Session) -> Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    while let Some(chunk) = session.read_request_body().await? {
        if body.len() + chunk.len() > MAX_FORM_BODY {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// The largest request header Portero reads on (target and header lines);
/// larger ones get `431` (pingora itself stops reading at 1 MiB or 256
/// header lines). Legacy panels rarely take more than a few KiB.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The size of a request header as sent, near enough: the target and
/// every `name: value` line.
fn header_bytes(req: &RequestHeader) -> usize {
    req.uri.path_and_query().map_or(0, |pq| pq.as_str().len())
        + req
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum::<usize>()
}

/// Writes a reply Portero makes itself.
async fn write_reply(session: &mut Session, reply: Reply) -> Result<()> {
    let head_only = session.req_header().method == http::Method::HEAD;
    let mut resp = ResponseHeader::build(reply.status, Some(reply.headers.len() + 1))?;
    for (name, value) in reply.headers {
        resp.append_header(name, value)?;
    }
    resp.insert_header(http::header::CONTENT_LENGTH, reply.body.len().to_string())?;
    let no_body = reply.body.is_empty() || head_only;
    session
        .write_response_header(Box::new(resp), no_body)
        .await?;
    if !no_body {
        session.write_response_body(Some(reply.body), true).await?;
    }
    Ok(())
}

#[async_trait]
impl ProxyHttp for Portero {
    type CTX = Ctx;

    fn new_ctx(&self) -> Ctx {
        Ctx {
            _in_flight: Some(stop::InFlight::start()),
            ..Ctx::default()
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Ctx) -> Result<bool> {
        keepalive::header_read();
        if header_bytes(session.req_header()) > MAX_HEADER_BYTES {
            session.set_keepalive(None);
            let reply = Reply::text(431, "The request's header is too large.\n");
            write_reply(session, reply).await?;
            return Ok(true);
        }
        let started = Instant::now();
        ctx.started = Some(started);
        let cfg = self.state.config();
        let method_reads_body = !matches!(
            session.req_header().method,
            http::Method::GET | http::Method::HEAD
        );
        let reserved = crate::facts::decision_path(session.req_header().uri.path())
            .is_ok_and(|p| p.starts_with("/.portero/"));
        let body = if reserved && method_reads_body {
            match read_form_body(session).await? {
                Some(b) => b,
                None => {
                    session.set_keepalive(None);
                    write_reply(session, Reply::text(413, "The form is too large.\n")).await?;
                    return Ok(true);
                }
            }
        } else {
            Vec::new()
        };
        ctx.tls = is_tls(session);
        let peer = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        let judged = {
            let req = session.req_header();
            let view = RequestView {
                method: req.method.as_str(),
                path: req.uri.path(),
                query: req.uri.query(),
                authority: authority(req),
                target_authority: target_authority(req),
                duplicate_host: duplicate_host(req),
                tls: ctx.tls,
                peer,
                forwarded_for: header_all(req, "x-forwarded-for"),
                accept: header_str(req, ACCEPT),
                requested_with: header_str(req, "x-requested-with"),
                cookies: header_all(req, "cookie"),
                origin: header_str(req, ORIGIN),
                referer: header_str(req, http::header::REFERER),
                forwarded_uri: header_str(req, "x-forwarded-uri"),
                original_uri: header_str(req, "x-original-uri"),
                accept_language: header_str(req, http::header::ACCEPT_LANGUAGE),
                body: &body,
                content_type: header_str(req, http::header::CONTENT_TYPE),
            };
            judge::judge(&self.state, &cfg, &view, started).await
        };
        ctx.tenant = judged.tenant;
        ctx.lang = judged.lang;
        ctx.peer = peer;
        ctx.peer_trusted = judged.peer_trusted;
        ctx.authority = judged.authority;
        ctx.client_ip = judged.client_ip;
        ctx.label = judged.label;
        match judged.answer {
            Answer::Reply(reply) => {
                if method_reads_body && !reserved {
                    // The body was not read; do not reuse a connection that still holds it.
                    session.set_keepalive(None);
                }
                write_reply(session, reply).await?;
                Ok(true)
            }
            Answer::Forward(identity) => {
                ctx.identity = identity;
                ctx.config = Some(cfg);
                Ok(false)
            }
        }
    }

    async fn upstream_peer(&self, _session: &mut Session, ctx: &mut Ctx) -> Result<Box<HttpPeer>> {
        let cfg = ctx
            .config
            .as_ref()
            .ok_or_else(|| Error::new(ErrorType::InternalError))?;
        let tenant = ctx
            .tenant
            .and_then(|i| cfg.tenants.get(i))
            .ok_or_else(|| Error::new(ErrorType::InternalError))?;
        let up = &tenant.upstream;
        let mut peer = HttpPeer::new(up.addr, up.tls, up.sni.clone());
        peer.options.connection_timeout = Some(Duration::from_secs(5));
        peer.options.total_connection_timeout = Some(Duration::from_secs(10));
        peer.options.read_timeout = Some(Duration::from_secs(cfg.server.upstream_timeout));
        peer.options.write_timeout = Some(Duration::from_secs(cfg.server.upstream_timeout));
        peer.options.idle_timeout = Some(Duration::from_secs(60));
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let Some(cfg) = ctx.config.as_ref() else {
            return Err(Error::new(ErrorType::InternalError));
        };
        let Some(tenant) = ctx.tenant.and_then(|i| cfg.tenants.get(i)) else {
            return Err(Error::new(ErrorType::InternalError));
        };
        let Some(authority) = ctx.authority.as_ref() else {
            return Err(Error::new(ErrorType::InternalError));
        };
        let original = session.req_header();
        let forwarded_for = header_all(original, "x-forwarded-for");
        let peer = ctx.peer.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let arrival = Arrival {
            forwarded_for: &forwarded_for,
            peer,
            peer_trusted: ctx.peer_trusted,
            client_ip: ctx.client_ip.unwrap_or(peer),
            tls: ctx.tls,
            authority,
        };
        forward::prepare(upstream, cfg, tenant, &arrival, ctx.identity.as_ref());
        forward::origin_form(upstream)
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        upstream: &mut ResponseHeader,
        ctx: &mut Ctx,
    ) -> Result<()> {
        let Some(login) = upstream.headers.get(UNKNOWN_IMPERSONATION).cloned() else {
            return Ok(());
        };
        upstream.remove_header(UNKNOWN_IMPERSONATION);
        // Only meaningful for a request Portero sent with an identity.
        if ctx.identity.is_none() {
            return Ok(());
        }
        let Some(t) = ctx
            .config
            .as_ref()
            .zip(ctx.tenant)
            .and_then(|(cfg, i)| cfg.tenants.get(i))
        else {
            return Ok(());
        };
        let login = String::from_utf8_lossy(login.as_bytes()).to_string();
        tracing::warn!(tenant = %t.name, %login, "the panel has no user for this impersonation mapping");
        let page = crate::web::i18n::scope(ctx.lang, || web::unknown_impersonation(t, &login));
        let mut fresh = ResponseHeader::build(page.status, Some(page.headers.len() + 1))?;
        for (k, v) in page.headers {
            fresh.append_header(k, v)?;
        }
        fresh.insert_header(http::header::CONTENT_LENGTH, page.body.len().to_string())?;
        *upstream = fresh;
        ctx.replacement = Some(page.body);
        Ok(())
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<bytes::Bytes>,
        _end_of_stream: bool,
        ctx: &mut Ctx,
    ) -> Result<Option<Duration>> {
        if ctx.replacement.is_some() || ctx.replaced {
            // The panel's body is dropped; the page goes out once.
            *body = ctx.replacement.take();
            ctx.replaced = true;
        }
        Ok(None)
    }

    async fn fail_to_proxy(&self, session: &mut Session, e: &Error, ctx: &mut Ctx) -> FailToProxy {
        let code = match e.etype() {
            ErrorType::HTTPStatus(code) => *code,
            _ => match e.esource() {
                ErrorSource::Upstream => match e.etype() {
                    ErrorType::ConnectTimedout
                    | ErrorType::ReadTimedout
                    | ErrorType::WriteTimedout => 504,
                    _ => 502,
                },
                ErrorSource::Downstream => match e.etype() {
                    ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed => 0,
                    _ => 400,
                },
                ErrorSource::Internal | ErrorSource::Unset => 500,
            },
        };
        if code == 502 || code == 504 {
            let cfg = ctx.config.clone().unwrap_or_else(|| self.state.config());
            let tenant = ctx.tenant.and_then(|i| cfg.tenants.get(i));
            tracing::warn!(
                tenant = tenant.map(|t| t.name.as_str()).unwrap_or("-"),
                upstream = tenant.map(|t| t.upstream.display.as_str()).unwrap_or("-"),
                error = %e,
                "upstream failed"
            );
            self.state
                .metrics
                .upstream_errors
                .with_label_values(&[tenant.map_or("-", |t| t.name.as_str()), &code.to_string()])
                .inc();
            let mut reply = crate::web::i18n::scope(ctx.lang, || web::upstream_down(tenant));
            reply.status = code;
            let _ = write_reply(session, reply).await;
        } else if code > 0 {
            let _ = session.respond_error(code).await;
        }
        ctx.label = "upstream_error";
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut Ctx) {
        let cfg = ctx.config.clone().unwrap_or_else(|| self.state.config());
        let tenant = ctx
            .tenant
            .and_then(|i| cfg.tenants.get(i))
            .map_or("-", |t| t.name.as_str());
        let label = if ctx.label.is_empty() {
            "unknown"
        } else {
            ctx.label
        };
        self.state
            .metrics
            .requests
            .with_label_values(&[tenant, label])
            .inc();
        let elapsed = ctx.started.map(|s| s.elapsed()).unwrap_or_default();
        if ctx.config.is_some() {
            self.state
                .metrics
                .upstream_seconds
                .with_label_values(&[tenant])
                .observe(elapsed.as_secs_f64());
        }
        if let Some(access) = &self.state.access {
            let req = session.req_header();
            let status = session.response_written().map_or(0, |r| r.status.as_u16());
            access.write(&crate::audit::Access {
                ts: self.state.now(),
                tenant,
                method: req.method.as_str(),
                host: authority(req),
                path: req.uri.path(),
                status,
                outcome: label,
                ms: elapsed.as_secs_f64() * 1000.0,
                client: ctx.peer,
            });
        }
    }
}
