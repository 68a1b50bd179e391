//! Facts gathered from a request before the decision: the host, the client
//! address, whether the client is a browser, and a path fit for matching.
//!
//! Nothing here decides; it only reads the request the same way every time.
//! See `docs/client-address.md` for what is trusted in `X-Forwarded-For`.

use portero_policy::NetmaskSet;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

/// The client address (CONTRACT §5): the TCP peer, unless the peer is a
/// trusted proxy; then the right-most address of `X-Forwarded-For` that is
/// not itself a trusted proxy. IPv4-mapped IPv6 addresses come out as IPv4.
///
/// `forwarded_for` holds every `X-Forwarded-For` value of the request, in
/// order. An entry that is not an address ends the walk: what lies left of
/// it cannot be trusted, so the last trusted hop stands as the client.
///
/// ```
/// use portero::facts::client_ip;
/// use portero::policy::NetmaskSet;
/// let trusted = NetmaskSet::new(["127.0.0.1/32".parse().unwrap()]);
/// let peer = "127.0.0.1".parse().unwrap();
/// assert_eq!(client_ip(peer, &["6.6.6.6, 10.0.0.7"], &trusted).to_string(), "10.0.0.7");
/// let stranger = "192.0.2.1".parse().unwrap();
/// assert_eq!(client_ip(stranger, &["10.0.0.7"], &trusted).to_string(), "192.0.2.1");
/// ```
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &NetmaskSet) -> IpAddr {
    let mut client = peer.to_canonical();
    if !trusted.contains(client) {
        return client;
    }
    for value in forwarded_for.iter().rev() {
        for entry in value.rsplit(',') {
            let Some(addr) = parse_forwarded_entry(entry) else {
                return client;
            };
            client = addr;
            if !trusted.contains(addr) {
                return addr;
            }
        }
    }
    client
}

/// Parses one `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `::1`,
/// `[::1]:80`. Returns it canonical (IPv4-mapped → IPv4).
fn parse_forwarded_entry(raw: &str) -> Option<IpAddr> {
    let s = raw.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    s.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

/// Whether the client is a browser that can follow a sign-in redirect:
/// `Accept` names `text/html` and the request is not an XHR.
pub fn accepts_html(accept: Option<&str>, requested_with: Option<&str>) -> bool {
    if requested_with.is_some_and(|v| v.eq_ignore_ascii_case("xmlhttprequest")) {
        return false;
    }
    accept.is_some_and(|a| {
        a.split(',').any(|part| {
            let media = part.split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("text/html")
        })
    })
}

/// Why a request path was refused before any rule ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadPath {
    /// Not an origin-form path (`/…`).
    NotAbsolute,
    /// A `.` or `..` segment, plain or percent-encoded: it could walk out of
    /// a bypass path into a protected one on the panel's side.
    DotSegment,
    /// A backslash, NUL or control character, plain or encoded.
    ForbiddenCharacter,
}

impl BadPath {
    /// A sentence for the error page.
    pub fn message(self) -> &'static str {
        match self {
            BadPath::NotAbsolute => "The request path must start with '/'.",
            BadPath::DotSegment => "The request path holds a '.' or '..' segment.",
            BadPath::ForbiddenCharacter => {
                "The request path holds a backslash or a control character."
            }
        }
    }
}

/// The path the rules match on: percent-decoded once, so `/%61dmin` is
/// `/admin`, and refused when it holds anything that the panel could read
/// as a different path than Portero did.
///
/// ```
/// use portero::facts::{decision_path, BadPath};
/// assert_eq!(decision_path("/%61dmin/x").unwrap(), "/admin/x");
/// assert_eq!(decision_path("/static/%2e%2e/admin"), Err(BadPath::DotSegment));
/// ```
pub fn decision_path(raw_path: &str) -> Result<Cow<'_, str>, BadPath> {
    if !raw_path.starts_with('/') {
        return Err(BadPath::NotAbsolute);
    }
    let decoded: Cow<'_, str> = if raw_path.contains('%') {
        Cow::Owned(percent_decode(raw_path))
    } else {
        Cow::Borrowed(raw_path)
    };
    if decoded.bytes().any(|b| b == b'\\' || b < 0x20 || b == 0x7f) {
        return Err(BadPath::ForbiddenCharacter);
    }
    if decoded.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(BadPath::DotSegment);
    }
    Ok(decoded)
}

/// Decodes `%XX` escapes once; invalid escapes stay as they are, invalid
/// UTF-8 becomes U+FFFD.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The host a request names: `Host`, or the `:authority` of an HTTP/2
/// request; lower-case, without port or trailing dot. `None` when absent or
/// not a plausible host name.
pub fn request_host(host_header: Option<&str>, authority: Option<&str>) -> Option<String> {
    let raw = host_header.or(authority)?.trim();
    let without_port = if raw.starts_with('[') {
        raw.split(']').next().map(|h| format!("{h}]"))?
    } else {
        raw.rsplit_once(':')
            .map_or(raw, |(h, p)| {
                if p.bytes().all(|b| b.is_ascii_digit()) {
                    h
                } else {
                    raw
                }
            })
            .to_string()
    };
    let host = without_port.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty()
        || host.len() > 253
        || !host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'[' | b']' | b':')
        })
    {
        return None;
    }
    Some(host)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn trusted() -> NetmaskSet {
        NetmaskSet::new([
            "127.0.0.1/32".parse().unwrap(),
            "10.9.0.0/16".parse().unwrap(),
        ])
    }

    #[test]
    fn untrusted_peer_forwarded_for_is_ignored() {
        let ip = client_ip(
            "203.0.113.9".parse().unwrap(),
            &["64.233.187.5"],
            &trusted(),
        );
        assert_eq!(ip.to_string(), "203.0.113.9");
    }

    #[test]
    fn right_most_untrusted_entry_wins() {
        let ip = client_ip(
            "127.0.0.1".parse().unwrap(),
            &["1.1.1.1, 64.233.187.5", "10.9.0.2"],
            &trusted(),
        );
        assert_eq!(ip.to_string(), "64.233.187.5");
    }

    #[test]
    fn all_trusted_means_left_most() {
        let ip = client_ip("127.0.0.1".parse().unwrap(), &["10.9.1.1"], &trusted());
        assert_eq!(ip.to_string(), "10.9.1.1");
    }

    #[test]
    fn garbage_stops_the_walk() {
        let ip = client_ip(
            "127.0.0.1".parse().unwrap(),
            &["64.233.187.5, nonsense, 10.9.0.3"],
            &trusted(),
        );
        assert_eq!(ip.to_string(), "10.9.0.3");
    }

    #[test]
    fn mapped_addresses_are_ipv4() {
        let ip = client_ip(
            "::ffff:127.0.0.1".parse().unwrap(),
            &["[::ffff:64.233.187.5]:4000"],
            &trusted(),
        );
        assert_eq!(ip.to_string(), "64.233.187.5");
        let peer = client_ip("::ffff:198.51.100.1".parse().unwrap(), &[], &trusted());
        assert_eq!(peer.to_string(), "198.51.100.1");
    }

    #[test]
    fn browsers_and_apis() {
        assert!(accepts_html(
            Some("text/html,application/xhtml+xml;q=0.9"),
            None
        ));
        assert!(!accepts_html(Some("application/json"), None));
        assert!(!accepts_html(None, None));
        assert!(!accepts_html(Some("text/html"), Some("XMLHttpRequest")));
    }

    #[test]
    fn paths() {
        assert_eq!(decision_path("/a/b").unwrap(), "/a/b");
        assert_eq!(decision_path("/static/../admin"), Err(BadPath::DotSegment));
        assert_eq!(
            decision_path("/static/%2E%2E/admin"),
            Err(BadPath::DotSegment)
        );
        assert_eq!(
            decision_path("/static/%2e%2e%2fadmin"),
            Err(BadPath::DotSegment)
        );
        assert_eq!(
            decision_path("/static\\..\\admin"),
            Err(BadPath::ForbiddenCharacter)
        );
        assert_eq!(decision_path("/a%5cb"), Err(BadPath::ForbiddenCharacter));
        assert_eq!(decision_path("/a%00"), Err(BadPath::ForbiddenCharacter));
        assert_eq!(decision_path("*"), Err(BadPath::NotAbsolute));
        assert_eq!(decision_path("/a%zz").unwrap(), "/a%zz");
        assert_eq!(decision_path("/50%").unwrap(), "/50%");
        assert_eq!(decision_path("/.well-known/x").unwrap(), "/.well-known/x");
    }

    #[test]
    fn hosts() {
        assert_eq!(
            request_host(Some("Panel.Test:8080"), None).unwrap(),
            "panel.test"
        );
        assert_eq!(
            request_host(None, Some("panel.test.")).unwrap(),
            "panel.test"
        );
        assert_eq!(request_host(Some("[::1]:80"), None).unwrap(), "[::1]");
        assert!(request_host(Some("a b"), None).is_none());
        assert!(request_host(None, None).is_none());
    }
}
