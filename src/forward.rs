//! What the panel receives: the request as the client sent it, minus every
//! header that could speak for Portero and Portero's own cookies, plus the
//! forwarding headers Portero vouches for and, for signed-in requests, the
//! identity headers (CONTRACT §4).

use crate::config::{Config, Tenant};
use crate::facts::Authority;
use crate::identity::{forwarded_chain, strip_own_cookies, IdentityHeaders};
use http::header::HOST;
use pingora::http::RequestHeader;
use std::net::IpAddr;

/// How the request reached Portero.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// Every `X-Forwarded-For` value the client sent.
    pub forwarded_for: &'a [&'a str],
    /// The TCP peer.
    pub peer: IpAddr,
    /// Whether the peer is a trusted proxy.
    pub peer_trusted: bool,
    /// The client address the rules used (sent as `X-Real-IP`).
    pub client_ip: IpAddr,
    /// Whether it came in over TLS.
    pub tls: bool,
    /// The host as judged, in its one normalised spelling: the panel gets
    /// it as `Host` and `X-Forwarded-Host`, never the spelling sent.
    pub authority: &'a Authority,
}

/// Rewrites `upstream` (a copy of the client's request header) for the panel.
pub fn prepare(
    upstream: &mut RequestHeader,
    cfg: &Config,
    tenant: &Tenant,
    arrival: &Arrival<'_>,
    identity: Option<&IdentityHeaders>,
) -> pingora::Result<()> {
    // 1. Nothing the client sent may speak for Portero.
    tenant.headers.strip(upstream);
    strip_own_cookies(upstream, &cfg.session.all_names());
    // 2. Forwarding headers from what Portero trusts.
    let incoming = match arrival.forwarded_for {
        [] => None,
        [one] => Some(std::borrow::Cow::Borrowed(*one)),
        many => Some(std::borrow::Cow::Owned(many.join(", "))),
    };
    let chain = forwarded_chain(
        incoming.as_deref().filter(|s| !s.is_empty()),
        arrival.peer,
        arrival.peer_trusted,
    );
    upstream.insert_header("x-forwarded-for", chain)?;
    upstream.insert_header(
        "x-forwarded-proto",
        if arrival.tls { "https" } else { "http" },
    )?;
    let authority = arrival.authority.as_str();
    upstream.insert_header(HOST, authority)?;
    upstream.insert_header("x-forwarded-host", authority)?;
    let port = arrival
        .authority
        .port()
        .unwrap_or(if arrival.tls { 443 } else { 80 });
    upstream.insert_header("x-forwarded-port", http::HeaderValue::from(port))?;
    upstream.insert_header("x-real-ip", arrival.client_ip.to_canonical().to_string())?;
    origin_form(upstream)?;
    // 3. Who this is, for signed-in requests only.
    if let Some(identity) = identity {
        for (name, value) in identity.iter() {
            upstream.insert_header(name.clone(), value.clone())?;
        }
    }
    Ok(())
}

/// Sends the target in origin-form (`/path?query`): an absolute-form target
/// (`GET http://host/path`) would let the panel route by a host that only
/// `Host` was judged by.
fn origin_form(upstream: &mut RequestHeader) -> pingora::Result<()> {
    if upstream.raw_path().first() == Some(&b'/') {
        return Ok(());
    }
    let target = upstream
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    upstream.set_raw_path(target.as_bytes())
}
