//! Facts gathered from a request before the decision: the host, the client
//! address, whether the client is a browser, and a path fit for matching.
//!
//! Nothing here decides; it only reads the request the same way every time.
//! See `docs/client-address.md` for what is trusted in `X-Forwarded-For`.

use portero_policy::NetmaskSet;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

/// The client address (docs/client-address.md): the TCP peer, unless the
/// peer is a trusted proxy; then the right-most address of `X-Forwarded-For` that is
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
    /// Path parameters (`;…` in a segment) that change which rules the
    /// path falls under: servers that drop them (Tomcat, Jetty, Spring) and
    /// servers that keep them would act on different resources.
    AmbiguousParameters,
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
            BadPath::AmbiguousParameters => {
                "The request path holds ';' parameters that make it ambiguous."
            }
        }
    }
}

/// The path the rules match on: percent-decoded once, so `/%61dmin` is
/// `/admin`, and refused when it holds anything that the panel could read
/// as a different path than Portero did: a `.` or `..` segment, also when
/// path parameters hide it (`..;`, `%2e%2e;x=1`, `.%3b`: Tomcat, Jetty and
/// Spring drop the parameters and walk up), a backslash or a control
/// character.
///
/// ```
/// use portero::facts::{decision_path, BadPath};
/// assert_eq!(decision_path("/%61dmin/x").unwrap(), "/admin/x");
/// assert_eq!(decision_path("/static/%2e%2e/admin"), Err(BadPath::DotSegment));
/// assert_eq!(decision_path("/static/..;/admin"), Err(BadPath::DotSegment));
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
    check_decoded_path(&decoded)?;
    Ok(decoded)
}

/// One pass over a decoded path: no backslash or control byte, and no
/// segment that is `.` or `..` once its parameters (`;…`) are dropped.
fn check_decoded_path(path: &str) -> Result<(), BadPath> {
    let mut dot_segment = false;
    // Bytes of the current segment's base (before any `;`) seen so far:
    // `Some(dots)` while they are all dots, `None` once anything else.
    let mut dots: Option<u8> = Some(0);
    let mut in_parameters = false;
    for &b in path.as_bytes() {
        match b {
            b'\\' | 0..=0x1f | 0x7f => return Err(BadPath::ForbiddenCharacter),
            b'/' => {
                dot_segment |= matches!(dots, Some(1 | 2));
                dots = Some(0);
                in_parameters = false;
            }
            _ if in_parameters => {}
            b';' => in_parameters = true,
            b'.' => dots = dots.map(|d| d.saturating_add(1)),
            _ => dots = None,
        }
    }
    if dot_segment || matches!(dots, Some(1 | 2)) {
        return Err(BadPath::DotSegment);
    }
    Ok(())
}

/// A decision path with every segment's parameters dropped (`/a;x=1/b;c` →
/// `/a/b`), as servlet containers read it; `None` when it has none. The
/// gate refuses a path whose two readings fall under different rules.
///
/// ```
/// use portero::facts::without_path_parameters;
/// assert_eq!(without_path_parameters("/admin;jsessionid=1/x").as_deref(), Some("/admin/x"));
/// assert_eq!(without_path_parameters("/admin/x"), None);
/// ```
pub fn without_path_parameters(path: &str) -> Option<String> {
    if !path.contains(';') {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(segment.split(';').next().unwrap_or(segment));
    }
    Some(out)
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

/// Why a request's host was refused before any rule ran (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadHost {
    /// No `Host` and no `:authority`.
    Missing,
    /// More than one `Host` header (RFC 9112 §3.2).
    Duplicate,
    /// Not `name[:port]` or `[IPv6]:port`: userinfo, a second `:`, an empty
    /// or out-of-range port, characters no host name has.
    Malformed,
    /// The request target (absolute-form, or HTTP/2 `:authority`) names
    /// another host than `Host`.
    Conflict,
}

impl BadHost {
    /// A sentence for the error page.
    pub fn message(self) -> &'static str {
        match self {
            BadHost::Missing => "The request names no host.",
            BadHost::Duplicate => "The request has more than one Host header.",
            BadHost::Malformed => "The Host header is not a host name with an optional port.",
            BadHost::Conflict => "The request target and the Host header name different hosts.",
        }
    }
}

/// The host a request names, in its one normalised spelling: lower-case,
/// without a trailing dot, the port as plain decimal (`panel.test:8080`,
/// `[2001:db8::1]:443`). This spelling is what the rules see and what the
/// panel receives as `Host` and `X-Forwarded-Host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    text: String,
    host_len: usize,
    port: Option<u16>,
}

impl Authority {
    /// Parses `name[:port]` or `[IPv6][:port]`; anything else is refused.
    ///
    /// ```
    /// use portero::facts::{Authority, BadHost};
    /// let a = Authority::parse("Panel.Test.:08080").unwrap();
    /// assert_eq!((a.as_str(), a.host(), a.port()), ("panel.test:8080", "panel.test", Some(8080)));
    /// assert_eq!(Authority::parse("panel.beta.test:x.gamma.test"), Err(BadHost::Malformed));
    /// assert_eq!(Authority::parse("a.test@b.test"), Err(BadHost::Malformed));
    /// ```
    pub fn parse(raw: &str) -> Result<Authority, BadHost> {
        if raw.is_empty() {
            return Err(BadHost::Missing);
        }
        let (host, port) = split_port(raw)?;
        let mut text = if let Some(literal) = host.strip_prefix('[') {
            let inner = literal.strip_suffix(']').ok_or(BadHost::Malformed)?;
            let ip: std::net::Ipv6Addr = inner.parse().map_err(|_| BadHost::Malformed)?;
            format!("[{ip}]")
        } else {
            let name = host.strip_suffix('.').unwrap_or(host);
            if !portero_policy::is_host_name(name) {
                return Err(BadHost::Malformed);
            }
            name.to_ascii_lowercase()
        };
        let host_len = text.len();
        if let Some(p) = port {
            use std::fmt::Write as _;
            // Into the same string, no second allocation.
            let _ = write!(text, ":{p}");
        }
        Ok(Authority {
            text,
            host_len,
            port,
        })
    }

    /// `host[:port]`, normalised.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The host alone (an IPv6 literal keeps its brackets).
    pub fn host(&self) -> &str {
        self.text.get(..self.host_len).unwrap_or("")
    }

    /// The port, when the request named one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }
}

impl std::fmt::Display for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Splits `host[:port]`: the port, when present, is 1 to 5 digits and 1 to
/// 65535; a name may hold no other `:`.
fn split_port(raw: &str) -> Result<(&str, Option<u16>), BadHost> {
    let (host, port) = if raw.starts_with('[') {
        let end = raw.find(']').ok_or(BadHost::Malformed)? + 1;
        match &raw[end..] {
            "" => (&raw[..end], None),
            rest => (
                &raw[..end],
                Some(rest.strip_prefix(':').ok_or(BadHost::Malformed)?),
            ),
        }
    } else {
        match raw.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (raw, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) if (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()) => {
            match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(BadHost::Malformed),
            }
        }
        Some(_) => return Err(BadHost::Malformed),
    };
    Ok((host, port))
}

/// The authority of a request: its `Host` header, or the HTTP/2
/// `:authority` when there is no `Host`. A request target that names a
/// host (absolute-form, `:authority`) must name the same one as `Host`
/// once both are normalised; a second `Host` header is refused.
///
/// ```
/// use portero::facts::{request_authority, BadHost};
/// assert_eq!(request_authority("PANEL.test", Some("panel.test"), false).unwrap().as_str(), "panel.test");
/// assert_eq!(request_authority("", Some("panel.test:8443"), false).unwrap().as_str(), "panel.test:8443");
/// assert_eq!(request_authority("a.test", Some("b.test"), false), Err(BadHost::Conflict));
/// assert_eq!(request_authority("a.test", None, true), Err(BadHost::Duplicate));
/// ```
pub fn request_authority(
    host_header: &str,
    target: Option<&str>,
    duplicate_host: bool,
) -> Result<Authority, BadHost> {
    if duplicate_host {
        return Err(BadHost::Duplicate);
    }
    let target = target.filter(|t| !t.is_empty());
    match (host_header, target) {
        ("", None) => Err(BadHost::Missing),
        ("", Some(t)) => Authority::parse(t),
        (h, None) => Authority::parse(h),
        (h, Some(t)) => {
            let host = Authority::parse(h)?;
            if Authority::parse(t)? != host {
                return Err(BadHost::Conflict);
            }
            Ok(host)
        }
    }
}

/// The host a request names: `Host`, or the `:authority` of an HTTP/2
/// request; lower-case, without port or trailing dot. `None` when absent or
/// not `name[:port]` / `[IPv6]:port` (see [`Authority::parse`]).
pub fn request_host(host_header: Option<&str>, authority: Option<&str>) -> Option<String> {
    let raw = host_header.or(authority)?;
    Authority::parse(raw).ok().map(|a| a.host().to_string())
}

#[cfg(test)]
mod tests;
