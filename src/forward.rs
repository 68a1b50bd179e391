//! What the panel receives: the request as the client sent it, minus every
//! header that could speak for Portero and Portero's own cookies, plus the
//! forwarding headers Portero vouches for and, for signed-in requests, the
//! identity headers (CONTRACT §4).

use crate::config::{Config, Tenant};
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
    /// Whether it came in over TLS.
    pub tls: bool,
    /// The `Host` (or `:authority`) as sent.
    pub authority: &'a str,
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
    if !arrival.authority.is_empty() {
        upstream.insert_header("x-forwarded-host", arrival.authority)?;
        if upstream.headers.get(HOST).is_none() {
            upstream.insert_header(HOST, arrival.authority)?;
        }
    }
    // 3. Who this is, for signed-in requests only.
    if let Some(identity) = identity {
        for (name, value) in identity.iter() {
            upstream.insert_header(name.clone(), value.clone())?;
        }
    }
    Ok(())
}
