//! What the panel receives: the request as the client sent it, minus every
//! header that could speak for Portero and Portero's own cookies, plus the
//! forwarding headers Portero vouches for and, for signed-in requests, the
//! identity headers (docs/headers.md).

use crate::config::{Config, Tenant};
use crate::facts::Authority;
use crate::identity::{forwarded_chain, strip_own_cookies, HeaderEdit, IdentityHeaders};
use http::header::{HeaderName, HeaderValue, HOST};
use std::net::IpAddr;

/// The TCP peer of a connection, with its address already written out
/// (once per connection, not per request).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The address, IPv4-mapped IPv6 addresses as IPv4.
    pub ip: IpAddr,
    /// `ip` as header text.
    text: HeaderValue,
}

impl Peer {
    /// The peer at `ip`.
    pub fn new(ip: IpAddr) -> Peer {
        let ip = ip.to_canonical();
        let text = HeaderValue::from_str(&ip.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("0.0.0.0"));
        Peer { ip, text }
    }
}

/// How the request reached Portero.
#[derive(Debug, Clone)]
pub struct Arrival<'a> {
    /// The `X-Forwarded-For` to send ([`forwarded_for`]).
    pub forwarded_for: HeaderValue,
    /// The TCP peer.
    pub peer: &'a Peer,
    /// The client address the rules used (sent as `X-Real-IP`).
    pub client_ip: IpAddr,
    /// Whether it came in over TLS.
    pub tls: bool,
    /// The host as judged, in its one normalised spelling: the panel gets
    /// it as `Host` and `X-Forwarded-Host`, never the spelling sent.
    pub authority: &'a Authority,
}

/// The `X-Forwarded-For` the panel gets: the peer's address, after the
/// chain the client sent (every value, in order) only when the peer is a
/// trusted proxy.
pub fn forwarded_for(sent: &[&str], peer: &Peer, peer_trusted: bool) -> HeaderValue {
    if !peer_trusted || sent.iter().all(|v| v.trim().is_empty()) {
        return peer.text.clone();
    }
    let incoming = sent.join(", ");
    HeaderValue::from_str(&forwarded_chain(Some(&incoming), peer.ip, true))
        .unwrap_or_else(|_| peer.text.clone())
}

/// Rewrites `upstream` (the client's request header) for the panel. (The
/// target goes in origin-form: the panel client writes `/path?query`
/// whatever form the client used, so the panel cannot route by a host
/// that only `Host` was judged by.)
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
    // Room for what is added below, in one step.
    upstream.reserve(6 + identity.map_or(0, |id| id.iter().len()));
    // 2. Forwarding headers from what Portero trusts.
    upstream.set(X_FORWARDED_FOR, arrival.forwarded_for.clone());
    upstream.set(
        X_FORWARDED_PROTO,
        HeaderValue::from_static(if arrival.tls { "https" } else { "http" }),
    );
    if let Ok(authority) = HeaderValue::from_str(arrival.authority.as_str()) {
        upstream.set(HOST, authority.clone());
        upstream.set(X_FORWARDED_HOST, authority);
    }
    let port = match arrival.authority.port() {
        Some(port) => HeaderValue::from(port),
        None if arrival.tls => HeaderValue::from_static("443"),
        None => HeaderValue::from_static("80"),
    };
    upstream.set(X_FORWARDED_PORT, port);
    let real_ip = if arrival.client_ip.to_canonical() == arrival.peer.ip {
        arrival.peer.text.clone()
    } else {
        Peer::new(arrival.client_ip).text
    };
    upstream.set(X_REAL_IP, real_ip);
    // 3. Who this is, for signed-in requests only.
    if let Some(identity) = identity {
        for (name, value) in identity.iter() {
            upstream.set(name.clone(), value.clone());
        }
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_keeps_a_chain_only_from_a_trusted_peer() {
        let peer = Peer::new("::ffff:10.0.0.1".parse().unwrap());
        assert_eq!(forwarded_for(&["1.2.3.4"], &peer, false), "10.0.0.1");
        assert_eq!(forwarded_for(&[], &peer, true), "10.0.0.1");
        assert_eq!(forwarded_for(&[" "], &peer, true), "10.0.0.1");
        assert_eq!(
            forwarded_for(&["1.2.3.4", "5.6.7.8"], &peer, true),
            "1.2.3.4, 5.6.7.8, 10.0.0.1"
        );
    }
}
