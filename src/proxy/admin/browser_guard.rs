//! Refusing what a web page could have sent: a `Host` that is not this
//! listener's own address (DNS rebinding) and any `Origin` or
//! `Sec-Fetch-Site` other than `none` (a cross-site form or script); see
//! `docs/admin-listener.md`.

use http::HeaderMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why the admin listener refused a request a web page could have made.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum FromBrowser {
    /// The `Host` (or request-target authority) is not this listener's
    /// address: a DNS-rebinding page, or a name it was not told about.
    ForeignHost(String),
    /// More than one `Host` header.
    ManyHosts,
    /// An `Origin` header, or a `Sec-Fetch-Site` other than `none`: a web
    /// page (any site, this one included) sent it.
    FromPage,
}

/// Refuses what only a browser page sends: the admin listener has no
/// pages and no browser client, so a request from one is a cross-site
/// form, a script, or a DNS-rebinding page. A request without `Host` comes
/// from no browser and passes (HTTP/1.0 health checks).
pub(super) fn browser_guard(
    listen: SocketAddr,
    admin_hosts: &[String],
    authority: Option<&str>,
    headers: &HeaderMap,
) -> Result<(), FromBrowser> {
    let mut hosts = headers.get_all(http::header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(FromBrowser::ManyHosts);
    }
    let named = host
        .map(|h| h.to_str().unwrap_or("\u{fffd}"))
        .into_iter()
        .chain(authority);
    for name in named {
        if !own_host(listen, admin_hosts, name) {
            return Err(FromBrowser::ForeignHost(name.chars().take(100).collect()));
        }
    }
    let fetch_site_ok = headers
        .get_all("sec-fetch-site")
        .iter()
        .all(|v| v.as_bytes().eq_ignore_ascii_case(b"none"));
    if headers.contains_key(http::header::ORIGIN) || !fetch_site_ok {
        return Err(FromBrowser::FromPage);
    }
    Ok(())
}

/// Whether a `Host` value names this listener: its own IP address, with
/// its port or none; on loopback also `localhost`, `127.0.0.1` and `[::1]`;
/// bound to every address (`0.0.0.0`, `[::]`), any IP literal and
/// `localhost`; and the names in `[server].admin_hosts`. An IP literal
/// cannot be re-bound by DNS; any other name could be.
fn own_host(listen: SocketAddr, admin_hosts: &[String], host: &str) -> bool {
    let Some((name, port)) = split_host_port(host) else {
        return false;
    };
    if port.is_some_and(|p| p != listen.port()) {
        return false;
    }
    let bound = listen.ip();
    let local = bound.is_loopback() || bound.is_unspecified();
    match name {
        Named::Ip(ip) => {
            ip == bound
                || bound.is_unspecified()
                || (bound.is_loopback()
                    && (ip == IpAddr::V4(Ipv4Addr::LOCALHOST)
                        || ip == IpAddr::V6(Ipv6Addr::LOCALHOST)))
        }
        Named::Name(n) => (local && n == "localhost") || admin_hosts.contains(&n),
    }
}

/// A host in a `Host` header.
#[derive(Debug, PartialEq, Eq)]
enum Named {
    Ip(IpAddr),
    Name(String),
}

/// Splits `host[:port]` (`[v6][:port]`); `None` when malformed.
fn split_host_port(host: &str) -> Option<(Named, Option<u16>)> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = v6.parse().ok()?;
        let port = match after {
            "" => None,
            p => Some(parse_port(p.strip_prefix(':')?)?),
        };
        return Some((Named::Ip(IpAddr::V6(ip)), port));
    } else {
        match host.split_once(':') {
            Some((n, p)) => (n, Some(parse_port(p)?)),
            None => (host, None),
        }
    };
    if name.is_empty() {
        return None;
    }
    let named = match name.parse::<Ipv4Addr>() {
        Ok(ip) => Named::Ip(IpAddr::V4(ip)),
        Err(_) => Named::Name(name.to_ascii_lowercase()),
    };
    Some((named, port))
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(a: &str) -> SocketAddr {
        a.parse().unwrap()
    }

    fn headers(list: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in list {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn loopback_listener_answers_to_its_own_address_only() {
        let l = addr("127.0.0.1:9090");
        for ok in [
            "127.0.0.1",
            "127.0.0.1:9090",
            "localhost",
            "LocalHost:9090",
            "[::1]",
            "[::1]:9090",
        ] {
            assert!(own_host(l, &[], ok), "{ok}");
        }
        for bad in [
            "attacker.example",
            "attacker.example:9090",
            "127.0.0.1:80",
            "127.0.0.1:",
            "127.0.0.1:+9090",
            "localhost.:9090",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "10.0.0.5:9090",
            "127.0.0.2:9090",
            "::1",
            "[::1",
            "[::1]x",
            "",
            ":9090",
            "0x7f000001",
        ] {
            assert!(!own_host(l, &[], bad), "{bad}");
        }
    }

    #[test]
    fn other_listeners_and_configured_names() {
        let lan = addr("10.0.0.5:9090");
        assert!(own_host(lan, &[], "10.0.0.5:9090"));
        assert!(
            !own_host(lan, &[], "localhost:9090"),
            "not bound to loopback"
        );
        assert!(!own_host(lan, &[], "10.0.0.6:9090"));
        let names = ["portero-admin.internal".to_string()];
        assert!(own_host(lan, &names, "Portero-Admin.internal:9090"));
        assert!(!own_host(
            lan,
            &names,
            "portero-admin.internal.attacker.example"
        ));
        let any = addr("0.0.0.0:9090");
        for ok in ["10.1.2.3:9090", "[fd00::1]:9090", "localhost"] {
            assert!(own_host(any, &[], ok), "{ok}");
        }
        assert!(!own_host(any, &[], "attacker.example:9090"));
        let v6 = addr("[::1]:9090");
        assert!(own_host(v6, &[], "[::1]:9090") && own_host(v6, &[], "127.0.0.1:9090"));
    }

    #[test]
    fn anything_a_web_page_sends_is_refused() {
        let l = addr("127.0.0.1:9090");
        let guard = |h: &[(&'static str, &str)]| browser_guard(l, &[], None, &headers(h));
        assert_eq!(guard(&[("host", "127.0.0.1:9090")]), Ok(()));
        assert_eq!(guard(&[]), Ok(()), "no Host: no browser");
        assert_eq!(
            guard(&[("host", "127.0.0.1:9090"), ("sec-fetch-site", "none")]),
            Ok(()),
            "typed in the address bar"
        );
        for origin in ["http://attacker.example", "null", "http://127.0.0.1:9090"] {
            assert_eq!(
                guard(&[("host", "127.0.0.1:9090"), ("origin", origin)]),
                Err(FromBrowser::FromPage),
                "{origin}"
            );
        }
        for site in ["cross-site", "same-site", "same-origin", "garbage"] {
            assert_eq!(
                guard(&[("host", "127.0.0.1:9090"), ("sec-fetch-site", site)]),
                Err(FromBrowser::FromPage),
                "{site}"
            );
        }
        assert_eq!(
            guard(&[("host", "attacker.example:9090")]),
            Err(FromBrowser::ForeignHost("attacker.example:9090".into()))
        );
        assert_eq!(
            guard(&[("host", "127.0.0.1:9090"), ("host", "attacker.example")]),
            Err(FromBrowser::ManyHosts)
        );
        // An absolute request target names a host too.
        assert!(browser_guard(
            l,
            &[],
            Some("attacker.example"),
            &headers(&[("host", "127.0.0.1")])
        )
        .is_err());
    }
}
