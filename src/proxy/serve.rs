//! The hyper data plane's request path: read the request head, judge it
//! ([`super::answer`]), then answer it or forward it to the panel and
//! stream the panel's answer back.

use super::answer::{self, Answer};
use super::body::OutBody;
use super::lean::ConnState;
use super::stop::InFlight;
use super::{upstream, MAX_FORM_BODY, MAX_HEADER_BYTES, UNKNOWN_IMPERSONATION};
use crate::config::Tenant;
use crate::forward::{self, Arrival, Peer};
use crate::gate::RequestView;
use crate::state::State;
use crate::web::{self, Reply};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use http_body::Body;
use hyper::body::Incoming;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a request knows about the connection it came on.
#[derive(Debug)]
pub struct ConnInfo {
    /// The TCP peer.
    pub peer: Peer,
    /// Whether it came over TLS.
    pub tls: bool,
    /// For HTTP/1 connections released between requests ([`super::lean`]).
    pub lean: Option<Arc<ConnState>>,
}

/// Handles one request; never fails (every failure is an answer).
pub async fn handle(
    state: Arc<State>,
    conn: Arc<ConnInfo>,
    req: Request<Incoming>,
) -> Result<Response<OutBody>, Infallible> {
    let in_flight = InFlight::start();
    let started = Instant::now();
    if let Some(lean) = &conn.lean {
        lean.request_started(req.body().is_end_stream());
    }
    let (mut parts, body) = req.into_parts();
    // Forwarded with the request (hyper's record of the sender's spelling
    // of header names is among them).
    let mut extensions = std::mem::take(&mut parts.extensions);
    let head_only = parts.method == Method::HEAD;
    if header_bytes(&parts) > MAX_HEADER_BYTES {
        let reply = Reply::text(431, "The request's header is too large.\n");
        return Ok(closing(reply_response(reply, head_only, &conn, in_flight)));
    }
    let cfg = state.config();
    if cfg.server.acme.is_some()
        && parts
            .uri
            .path()
            .starts_with(crate::acme::HTTP_CHALLENGE_PATH)
    {
        if let Some((reply, tenant, host)) = acme_challenge(&state, &cfg, &parts) {
            Logged {
                state: &state,
                tenant,
                label: "acme_challenge",
                rule: "-",
                reason: "-",
                method: &parts.method,
                host: &host,
                path: parts.uri.path(),
                peer: conn.peer.ip,
                started,
            }
            .write(reply.status, false);
            let closes = !matches!(parts.method, Method::GET | Method::HEAD);
            let resp = reply_response(reply, head_only, &conn, in_flight);
            return Ok(if closes { closing(resp) } else { resp });
        }
    }
    let method_reads_body = !matches!(parts.method, Method::GET | Method::HEAD);
    // Decoded only when there is something to decode (the gate judges
    // the path itself).
    let raw_path = parts.uri.path();
    let reserved = if raw_path.contains('%') {
        crate::facts::decision_path(raw_path).is_ok_and(|p| p.starts_with("/.portero/"))
    } else {
        raw_path.starts_with("/.portero/")
    };
    let (form, body) = if reserved && method_reads_body {
        match read_form(body).await {
            Some(form) => (form, None),
            None => {
                let reply = Reply::text(413, "The form is too large.\n");
                return Ok(closing(reply_response(reply, head_only, &conn, in_flight)));
            }
        }
    } else {
        (Bytes::new(), Some(body))
    };
    let peer = conn.peer.ip;
    let peer_trusted = cfg.server.trusted_proxies.contains(peer);
    let (view, upgrade_asked) = view_of(&parts, &conn, peer_trusted, &form);
    // The scheme the client used (a trusted proxy's `X-Forwarded-Proto`).
    let client_tls = view.tls;
    let decided = answer::answer(&state, &cfg, &view, started).await;
    let forwarded_for =
        forward::forwarded_for(&view.forwarded_for, &conn.peer, decided.peer_trusted);
    drop(view);
    let tenant = decided.tenant.and_then(|i| cfg.tenant(i));
    // The host as sent, for the log (the header map goes on to the panel).
    let host_sent = parts.headers.get(header::HOST).cloned();
    let log = Logged {
        state: &state,
        tenant,
        label: decided.label,
        rule: decided.rule,
        reason: decided.reason,
        method: &parts.method,
        host: host_sent
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or(""),
        path: parts.uri.path(),
        peer,
        started,
    };
    let identity = match decided.answer {
        Answer::Reply(reply) => {
            log.write(reply.status, false);
            let resp = reply_response(reply, head_only, &conn, in_flight);
            // A body Portero did not read must not be taken for the next request.
            return Ok(if method_reads_body && !reserved {
                closing(resp)
            } else {
                resp
            });
        }
        Answer::Forward(identity) => identity,
    };
    let (Some(tenant), Some(authority), Some(body)) = (tenant, decided.authority.as_ref(), body)
    else {
        log.write(500, false);
        return Ok(reply_response(
            Reply::empty(500),
            head_only,
            &conn,
            in_flight,
        ));
    };
    let arrival = Arrival {
        forwarded_for,
        peer: &conn.peer,
        client_ip: decided.client_ip.unwrap_or(peer),
        tls: client_tls,
        authority,
    };
    let mut to_panel = Request::new(body);
    *to_panel.method_mut() = parts.method.clone();
    *to_panel.version_mut() = Version::HTTP_11;
    let mut headers = std::mem::take(&mut parts.headers);
    let upgrade = upgrade_asked && wants_upgrade(&headers);
    drop_hop_by_hop(&mut headers, upgrade);
    forward::prepare(&mut headers, &cfg, tenant, &arrival, identity.as_ref());
    *to_panel.headers_mut() = headers;
    // The sender's spelling of header names goes to the panel as sent.
    let downstream_upgrade = extensions.remove::<hyper::upgrade::OnUpgrade>();
    *to_panel.extensions_mut() = extensions;
    // Origin-form: the panel client writes the target as `/path?query`.
    *to_panel.uri_mut() = match parts.uri.path_and_query() {
        Some(pq) => http::Uri::from(pq.clone()),
        None => http::Uri::from_static("/"),
    };
    let timeout = Duration::from_secs(cfg.server.upstream_timeout);
    let answered = tokio::time::timeout(timeout, upstream::send(&tenant.upstream, to_panel)).await;
    let failure = match answered {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(e)) => Err((502, e.to_string())),
        Err(_) => Err((504, "the panel did not answer in time".to_string())),
    };
    let mut from_panel = match failure {
        Ok(resp) => resp,
        Err((code, why)) => {
            let lang = decided.lang;
            return Ok(panel_failed(
                &log, &conn, in_flight, head_only, lang, code, &why,
            ));
        }
    };
    if let Some(login) = from_panel.headers_mut().remove(&UNKNOWN_IMPERSONATION) {
        if identity.is_some() {
            let login = String::from_utf8_lossy(login.as_bytes()).to_string();
            tracing::warn!(tenant = %tenant.name, %login, "the panel has no user for this impersonation mapping");
            let page = web::unknown_impersonation(tenant, decided.lang, &login);
            log.write(page.status, true);
            return Ok(reply_response(page, head_only, &conn, in_flight));
        }
    }
    let status = from_panel.status();
    if status == StatusCode::SWITCHING_PROTOCOLS && !upgrade {
        // A switch nobody asked for (or one Portero did not pass on).
        return Ok(panel_failed(
            &log,
            &conn,
            in_flight,
            head_only,
            decided.lang,
            502,
            "the panel switched protocols unasked",
        ));
    }
    log.write(status.as_u16(), true);
    if status == StatusCode::SWITCHING_PROTOCOLS && upgrade {
        let panel_side = hyper::upgrade::on(&mut from_panel);
        match (&conn.lean, downstream_upgrade) {
            (Some(lean), _) => {
                if let Ok(mut slot) = lean.upgrade.lock() {
                    *slot = Some(panel_side);
                }
            }
            (None, Some(client_side)) => {
                tokio::spawn(tunnel(client_side, panel_side));
            }
            (None, None) => {}
        }
    }
    let (mut head, body) = from_panel.into_parts();
    // The client's protocol, whatever the panel speaks.
    head.version = parts.version;
    drop_hop_by_hop(&mut head.headers, status == StatusCode::SWITCHING_PROTOCOLS);
    let body = OutBody::panel(body, timeout, conn.lean.clone(), in_flight);
    Ok(Response::from_parts(head, body))
}

/// The answer to `/.well-known/acme-challenge/…`: the key authorization of
/// a pending HTTP-01 challenge for that token and host (this node's order
/// or, on a shared store, another node's); else, on a host that gets its
/// certificate through ACME, a short 404 (other hosts' requests go their
/// usual way). Before any rule, sign-in or panel; nothing here starts an
/// order or keeps anything.
fn acme_challenge<'c>(
    state: &State,
    cfg: &'c crate::config::Config,
    parts: &http::request::Parts,
) -> Option<(Reply, Option<&'c Tenant>, String)> {
    let host = crate::facts::request_host(
        parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok()),
        parts.uri.authority().map(|a| a.as_str()),
    )?;
    let token = parts
        .uri
        .path()
        .strip_prefix(crate::acme::HTTP_CHALLENGE_PATH)
        .unwrap_or_default();
    let answer = match parts.method {
        Method::GET | Method::HEAD => state.acme.pending.http_answer(token, &host),
        _ => None,
    };
    let reply = match answer {
        Some(key_authorization) => {
            Reply::with_body(200, "application/octet-stream", key_authorization)
                .header("cache-control", "no-store")
        }
        None if cfg.acme_hosts.contains(&host) => Reply::text(404, "Not found.\n"),
        None => return None,
    };
    Some((reply, cfg.tenant_for_host(&host), host))
}

/// Joins the client's and the panel's sides of an upgraded connection.
async fn tunnel(client: hyper::upgrade::OnUpgrade, panel: hyper::upgrade::OnUpgrade) {
    let _in_flight = InFlight::start();
    let (Ok(client), Ok(panel)) = (client.await, panel.await) else {
        return;
    };
    let mut client = hyper_util::rt::TokioIo::new(client);
    let mut panel = hyper_util::rt::TokioIo::new(panel);
    let _ = tokio::io::copy_bidirectional(&mut client, &mut panel).await;
}

/// Joins a released HTTP/1 connection (its socket and what hyper had
/// read past the upgrade request) with the panel's side.
pub async fn tunnel_released(
    mut client: tokio::net::TcpStream,
    early: Bytes,
    panel: hyper::upgrade::OnUpgrade,
) {
    use tokio::io::AsyncWriteExt;
    let _in_flight = InFlight::start();
    let Ok(panel) = panel.await else {
        return;
    };
    let mut panel = hyper_util::rt::TokioIo::new(panel);
    if !early.is_empty() && panel.write_all(&early).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut panel).await;
}

/// The access log line and the request metrics, written when the answer's
/// head is known.
struct Logged<'a> {
    state: &'a State,
    tenant: Option<&'a Tenant>,
    label: &'static str,
    rule: &'static str,
    reason: &'static str,
    method: &'a Method,
    host: &'a str,
    path: &'a str,
    peer: IpAddr,
    started: Instant,
}

impl Logged<'_> {
    fn write(&self, status: u16, forwarded: bool) {
        let tenant = self.tenant.map_or("-", |t| t.name.as_str());
        let label = if self.label.is_empty() {
            "unknown"
        } else {
            self.label
        };
        let metrics = &self.state.metrics;
        match self.tenant {
            Some(t) => t.counters.request(metrics, tenant, label),
            None => metrics.requests.with_label_values(&[tenant, label]).inc(),
        }
        let elapsed = self.started.elapsed();
        if let (true, Some(t)) = (forwarded, self.tenant) {
            t.counters.upstream(metrics, tenant, elapsed.as_secs_f64());
        }
        if let Some(access) = &self.state.access {
            access.write(&crate::audit::Access {
                ts: self.state.now(),
                tenant,
                method: self.method.as_str(),
                host: self.host,
                path: self.path,
                status,
                outcome: label,
                rule: self.rule,
                reason: self.reason,
                ms: elapsed.as_secs_f64() * 1000.0,
                client: Some(self.peer),
            });
        }
    }
}

/// The 502 / 504 page when the panel cannot be reached or stays silent.
fn panel_failed(
    log: &Logged<'_>,
    conn: &ConnInfo,
    in_flight: InFlight,
    head_only: bool,
    lang: web::i18n::Lang,
    code: u16,
    why: &str,
) -> Response<OutBody> {
    let tenant = log.tenant;
    tracing::warn!(
        tenant = tenant.map_or("-", |t| t.name.as_str()),
        upstream = tenant.map_or("-", |t| t.upstream.display.as_str()),
        error = %why,
        "upstream failed"
    );
    log.state
        .metrics
        .upstream_errors
        .with_label_values(&[tenant.map_or("-", |t| t.name.as_str()), &code.to_string()])
        .inc();
    let mut reply = web::upstream_down(tenant, lang);
    reply.status = code;
    let with_label = Logged {
        label: "upstream_error",
        ..*log
    };
    with_label.write(code, false);
    closing(reply_response(reply, head_only, conn, in_flight))
}

/// A reply Portero makes itself, as a response.
pub fn reply_response(
    reply: Reply,
    head_only: bool,
    conn: &ConnInfo,
    in_flight: InFlight,
) -> Response<OutBody> {
    let len = reply.body.len();
    let body = OutBody::page(
        if head_only { Bytes::new() } else { reply.body },
        conn.lean.clone(),
        in_flight,
    );
    let mut resp = Response::new(body);
    *resp.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    for (name, value) in reply.headers {
        headers.append(name, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

/// Marks a response as the connection's last.
fn closing(mut resp: Response<OutBody>) -> Response<OutBody> {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Reads a form body for Portero's own pages, up to [`MAX_FORM_BODY`].
async fn read_form(mut body: Incoming) -> Option<Bytes> {
    use http_body_util::BodyExt;
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Some(Bytes::new());
        };
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > MAX_FORM_BODY {
                return None;
            }
            out.extend_from_slice(&data);
        }
    }
    Some(Bytes::from(out))
}

/// What the gate reads of a request, in one pass over its header lines
/// (a header read once is its first line, as [`HeaderMap::get`] gives it;
/// lines that are not visible ASCII are left out); and whether it carries
/// an `Upgrade` line at all ([`wants_upgrade`] looks closer). From a
/// trusted proxy (`peer_trusted`), `X-Forwarded-Proto` says whether the
/// client used TLS ([`client_used_tls`]).
fn view_of<'a>(
    parts: &'a http::request::Parts,
    conn: &ConnInfo,
    peer_trusted: bool,
    form: &'a [u8],
) -> (RequestView<'a>, bool) {
    let mut view = RequestView {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        target_authority: parts.uri.authority().map(|a| a.as_str()),
        tls: conn.tls,
        peer: Some(conn.peer.ip),
        body: form,
        ..RequestView::default()
    };
    let mut hosts = 0usize;
    let mut upgrade = false;
    // The first line of each header read once; later ones are ignored.
    let first = |slot: &mut Option<Option<&'a str>>, value: &'a HeaderValue| {
        if slot.is_none() {
            *slot = Some(value.to_str().ok());
        }
    };
    let (mut host, mut accept, mut requested_with, mut origin, mut referer) =
        (None, None, None, None, None);
    let (mut forwarded_uri, mut original_uri, mut accept_language, mut content_type) =
        (None, None, None, None);
    let (mut forwarded_proto, mut forwarded_host) = (None, None);
    let mut forwarded_hosts = 0usize;
    for (name, value) in &parts.headers {
        if name == header::HOST {
            hosts += 1;
            first(&mut host, value);
        } else if name == header::COOKIE {
            view.cookies.extend(value.to_str().ok());
        } else if name == X_FORWARDED_FOR {
            view.forwarded_for.extend(value.to_str().ok());
        } else if name == header::ACCEPT {
            first(&mut accept, value);
        } else if name == X_REQUESTED_WITH {
            first(&mut requested_with, value);
        } else if name == header::ORIGIN {
            first(&mut origin, value);
        } else if name == header::REFERER {
            first(&mut referer, value);
        } else if name == X_FORWARDED_URI {
            first(&mut forwarded_uri, value);
        } else if name == X_ORIGINAL_URI {
            first(&mut original_uri, value);
        } else if name == X_FORWARDED_PROTO {
            first(&mut forwarded_proto, value);
        } else if name == X_FORWARDED_HOST {
            forwarded_hosts += 1;
            first(&mut forwarded_host, value);
        } else if name == header::ACCEPT_LANGUAGE {
            first(&mut accept_language, value);
        } else if name == header::CONTENT_TYPE {
            first(&mut content_type, value);
        } else if name == header::UPGRADE {
            upgrade = true;
        }
    }
    view.duplicate_host = hosts > 1;
    view.authority = host
        .flatten()
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    view.accept = accept.flatten();
    view.requested_with = requested_with.flatten();
    view.origin = origin.flatten();
    view.referer = referer.flatten();
    view.forwarded_uri = forwarded_uri.flatten();
    view.original_uri = original_uri.flatten();
    view.forwarded_host = forwarded_host.flatten();
    view.duplicate_forwarded_host = forwarded_hosts > 1;
    if peer_trusted {
        view.tls = client_used_tls(forwarded_proto.flatten()).unwrap_or(conn.tls);
    }
    view.accept_language = accept_language.flatten();
    view.content_type = content_type.flatten();
    (view, upgrade)
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_REQUESTED_WITH: HeaderName = HeaderName::from_static("x-requested-with");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// A trusted proxy's `X-Forwarded-Proto`: exactly `https` or `http` (any
/// case) says how the client reached it; anything else (absent, a list,
/// another word) says nothing, and the listener's own scheme stands.
fn client_used_tls(forwarded_proto: Option<&str>) -> Option<bool> {
    match forwarded_proto.map(str::trim) {
        Some(p) if p.eq_ignore_ascii_case("https") => Some(true),
        Some(p) if p.eq_ignore_ascii_case("http") => Some(false),
        _ => None,
    }
}

/// The size of a request header as sent, near enough: the target and
/// every `name: value` line.
fn header_bytes(parts: &http::request::Parts) -> usize {
    parts.uri.path_and_query().map_or(0, |pq| pq.as_str().len())
        + parts
            .headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum::<usize>()
}

/// Whether the request asks for a protocol upgrade Portero passes on
/// (WebSocket and the like). Never `h2c`: a panel that took it would then
/// speak HTTP/2 with the client directly, every later request on that
/// connection unseen by Portero ("h2c smuggling"); such a request goes on
/// as a plain one, its `Upgrade` removed.
fn wants_upgrade(headers: &HeaderMap) -> bool {
    let tokens = || {
        headers
            .get_all(header::UPGRADE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
    };
    tokens().next().is_some()
        && !tokens().any(|t| {
            t.len() >= 3 && t[..3].eq_ignore_ascii_case("h2c")
                || t.to_ascii_lowercase().starts_with("http/2")
        })
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// Headers that describe one hop, not the message: they are not passed
/// on (but `Connection: upgrade` and `Upgrade` are, for an upgrade).
fn drop_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    const HOP: [HeaderName; 7] = [
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::EXPECT,
        HeaderName::from_static("http2-settings"),
    ];
    // Most messages carry none of them: one look at each name first.
    let has_hop = headers
        .keys()
        .any(|k| k == header::CONNECTION || k == header::UPGRADE || HOP.contains(k));
    if !has_hop && !upgrade {
        return;
    }
    // Names the sender listed in `Connection` belong to this hop too.
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .filter(|n| !(upgrade && (n == header::UPGRADE)))
        .collect();
    for name in listed {
        headers.remove(&name);
    }
    for name in &HOP {
        headers.remove(name);
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::CONNECTION);
        headers.remove(header::UPGRADE);
    }
}

#[cfg(test)]
mod tests {
    use super::client_used_tls;

    #[test]
    fn forwarded_proto_is_one_word_or_nothing() {
        assert_eq!(client_used_tls(Some("https")), Some(true));
        assert_eq!(client_used_tls(Some("HTTPS")), Some(true));
        assert_eq!(client_used_tls(Some("http")), Some(false));
        for vague in ["https, http", "wss", "", "https;"] {
            assert_eq!(client_used_tls(Some(vague)), None, "{vague}");
        }
        assert_eq!(client_used_tls(None), None);
    }
}
