//! What the panel receives: the request as the client sent it, minus every
//! header that could speak for Portero and Portero's own cookies, plus the
//! forwarding headers Portero vouches for and, for signed-in requests, the
//! identity headers (CONTRACT §4).

use crate::config::{Config, Tenant};
use crate::facts::Authority;
use crate::identity::{forwarded_chain, strip_own_cookies, HeaderEdit, IdentityHeaders};
use http::header::{HeaderName, HeaderValue};
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

/// Rewrites `upstream` (a copy of the client's request header) for the
/// panel. (The target goes in origin-form: the panel client writes
/// `/path?query` whatever form the client used, so the panel cannot route
/// by a host that only `Host` was judged by.)
pub fn prepare<H: HeaderEdit>(
    upstream: &mut H,
    cfg: &Config,
    tenant: &Tenant,
    arrival: &Arrival<'_>,
    identity: Option<&IdentityHeaders>,
) {
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
    set_text(upstream, X_FORWARDED_FOR, &chain);
    upstream.set(
        HeaderName::from_static(X_FORWARDED_PROTO),
        HeaderValue::from_static(if arrival.tls { "https" } else { "http" }),
    );
    let authority = arrival.authority.as_str();
    set_text(upstream, "host", authority);
    set_text(upstream, X_FORWARDED_HOST, authority);
    let port = arrival
        .authority
        .port()
        .unwrap_or(if arrival.tls { 443 } else { 80 });
    upstream.set(
        HeaderName::from_static(X_FORWARDED_PORT),
        HeaderValue::from(port),
    );
    set_text(
        upstream,
        X_REAL_IP,
        &arrival.client_ip.to_canonical().to_string(),
    );
    // 3. Who this is, for signed-in requests only.
    if let Some(identity) = identity {
        for (name, value) in identity.iter() {
            upstream.set(name.clone(), value.clone());
        }
    }
}

const X_FORWARDED_FOR: &str = "x-forwarded-for";
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";
const X_FORWARDED_HOST: &str = "x-forwarded-host";
const X_FORWARDED_PORT: &str = "x-forwarded-port";
const X_REAL_IP: &str = "x-real-ip";

/// Sets a header Portero composed; text that is not a header value (it
/// cannot be: hosts and addresses were parsed) is left out.
fn set_text<H: HeaderEdit>(upstream: &mut H, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        upstream.set(HeaderName::from_static(name), v);
    }
}
