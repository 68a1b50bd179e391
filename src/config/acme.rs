//! `[server.acme]` (certificates from an ACME certificate authority) and
//! each tenant's share of it (`acme = true | false`): which of its hosts
//! get a certificate, and why the others cannot.

use super::context::Ctx;
use super::duration;
use super::model::{Acme, AcmeChallenge};
use super::raw::{RawAcme, RawTenant};
use super::secret;
use std::net::{IpAddr, SocketAddr};
use toml::Spanned;

/// Let's Encrypt's production directory: the default CA.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// `[server.acme].renew_before` when not set: 30 days.
pub const DEFAULT_RENEW_BEFORE: u64 = 30 * 86_400;

/// `[server.acme].orders_per_hour` when not set (Let's Encrypt allows 300
/// new orders per account every 3 hours).
pub const DEFAULT_ORDERS_PER_HOUR: i64 = 100;

/// `[server.acme]`: `None` after an error (the findings say which).
pub(super) fn compile_acme(
    cx: &mut Ctx<'_>,
    raw: &Spanned<RawAcme>,
    listen: &[SocketAddr],
    listen_tls: &[SocketAddr],
) -> Option<Acme> {
    let before = cx.errors();
    let section = raw.span();
    let raw = raw.get_ref();
    if !raw.accept_terms.as_ref().is_some_and(|a| *a.get_ref()) {
        let span = raw
            .accept_terms
            .as_ref()
            .map_or(section.clone(), |a| a.span());
        cx.err(
            span,
            "[server.acme]: the certificate authority's terms of service must be accepted: read them (Let's Encrypt: https://letsencrypt.org/repository/) and set accept_terms = true",
        );
    }
    let directory = match &raw.directory {
        None => LETS_ENCRYPT.to_string(),
        Some(d) => match crate::outbound::check_url(d.get_ref()) {
            Ok(url) => url.to_string(),
            Err(e) => {
                cx.err(d.span(), format!("[server.acme].directory: {e}"));
                String::new()
            }
        },
    };
    let email = raw.email.as_ref().and_then(|e| {
        let normal = crate::auth::normalize_email(e.get_ref());
        if normal.is_none() {
            cx.err(
                e.span(),
                format!(
                    "[server.acme].email `{}` is not an e-mail address",
                    e.get_ref()
                ),
            );
        }
        normal
    });
    let challenges = challenges(cx, raw, section.clone(), listen, listen_tls);
    let renew_before = match &raw.renew_before {
        None => DEFAULT_RENEW_BEFORE,
        Some(r) => match duration::parse(r.get_ref()) {
            Ok(d) if d.as_secs() >= 1 => d.as_secs(),
            Ok(_) => {
                cx.err(r.span(), "[server.acme].renew_before must be at least 1s");
                DEFAULT_RENEW_BEFORE
            }
            Err(e) => {
                cx.err(r.span(), format!("[server.acme].renew_before: {e}"));
                DEFAULT_RENEW_BEFORE
            }
        },
    };
    let ca = raw.ca.as_ref().and_then(|c| ca(cx, c));
    let orders_per_hour = cx.bounded_int(
        raw.orders_per_hour.as_ref(),
        DEFAULT_ORDERS_PER_HOUR,
        1..=10_000,
        "[server.acme].orders_per_hour",
    );
    if listen_tls.is_empty() {
        cx.warn(
            section,
            "[server.acme] without [server].listen_tls: certificates are obtained, but no TLS listener serves them",
        );
    }
    if cx.errors() > before {
        return None;
    }
    Some(Acme {
        directory,
        email,
        challenges,
        renew_before,
        ca,
        orders_per_hour: u32::try_from(orders_per_hour).unwrap_or(1),
    })
}

/// `challenges`: `tls-alpn-01` and/or `http-01`, each needing its
/// listener; by default every one the listeners allow (TLS-ALPN-01 first).
fn challenges(
    cx: &mut Ctx<'_>,
    raw: &RawAcme,
    section: std::ops::Range<usize>,
    listen: &[SocketAddr],
    listen_tls: &[SocketAddr],
) -> Vec<AcmeChallenge> {
    let Some(list) = &raw.challenges else {
        let mut all = Vec::new();
        if !listen_tls.is_empty() {
            all.push(AcmeChallenge::TlsAlpn01);
        }
        if !listen.is_empty() {
            all.push(AcmeChallenge::Http01);
        }
        if all.is_empty() {
            cx.err(
                section,
                "[server.acme] needs a listener the CA can validate through: [server].listen_tls (TLS-ALPN-01) or [server].listen (HTTP-01)",
            );
        }
        return all;
    };
    if list.get_ref().is_empty() {
        cx.err(
            list.span(),
            "[server.acme].challenges is empty: list \"tls-alpn-01\", \"http-01\" or both",
        );
    }
    let mut out = Vec::new();
    for c in list.get_ref() {
        let (kind, listener, needs) = match c.get_ref().as_str() {
            "tls-alpn-01" => (AcmeChallenge::TlsAlpn01, listen_tls, "[server].listen_tls"),
            "http-01" => (AcmeChallenge::Http01, listen, "[server].listen"),
            "dns-01" => {
                cx.err(
                    c.span(),
                    "[server.acme].challenges: dns-01 is not supported (Portero cannot write DNS records); use tls-alpn-01 or http-01",
                );
                continue;
            }
            other => {
                cx.err(
                    c.span(),
                    format!(
                        "[server.acme].challenges: `{other}` is not one of tls-alpn-01, http-01"
                    ),
                );
                continue;
            }
        };
        if listener.is_empty() {
            cx.err(
                c.span(),
                format!(
                    "[server.acme].challenges: {} needs {needs}, which is not set",
                    c.get_ref()
                ),
            );
        } else if out.contains(&kind) {
            cx.err(
                c.span(),
                format!("[server.acme].challenges: {} is listed twice", c.get_ref()),
            );
        } else {
            out.push(kind);
        }
    }
    out
}

/// `ca`: a PEM file of the certificate authorities that may vouch for the
/// ACME server's HTTPS (a test CA such as Pebble's), besides the system's.
fn ca(cx: &mut Ctx<'_>, raw: &Spanned<String>) -> Option<String> {
    let path = secret::resolve_path(raw.get_ref(), &cx.dir);
    let pem = match std::fs::read_to_string(&path) {
        Ok(pem) => pem,
        Err(e) => {
            cx.err(
                raw.span(),
                format!("[server.acme].ca `{}`: {e}", path.display()),
            );
            return None;
        }
    };
    match crate::outbound::client_tls(Some(&pem)) {
        Ok(_) => Some(pem),
        Err(e) => {
            cx.err(
                raw.span(),
                format!("[server.acme].ca `{}`: {e}", path.display()),
            );
            None
        }
    }
}

/// The hosts of one tenant that get a certificate through ACME: its exact
/// names (lowercase), unless it opted out (`acme = false`) or has its own
/// `[tenant.tls]`. Wildcards, IP addresses and names a CA does not issue
/// for are warnings at their line, since those names stay without a
/// certificate.
pub(super) fn tenant_hosts(
    cx: &mut Ctx<'_>,
    raw: &RawTenant,
    acme_on: bool,
    w: &str,
) -> Vec<String> {
    let wanted = match (&raw.acme, acme_on) {
        (Some(a), false) => {
            cx.warn(
                a.span(),
                format!("{w}: acme has no effect without [server.acme]"),
            );
            return Vec::new();
        }
        (_, false) => return Vec::new(),
        (Some(a), true) if *a.get_ref() && raw.tls.is_some() => {
            cx.err(
                a.span(),
                format!("{w}: acme = true and [tenant.tls] together: the certificate of [tenant.tls] is served for its hosts; remove one of them"),
            );
            return Vec::new();
        }
        (Some(a), true) => *a.get_ref(),
        (None, true) => raw.tls.is_none(),
    };
    if !wanted {
        return Vec::new();
    }
    let mut out = Vec::new();
    for h in raw.hosts.get_ref() {
        let name = h
            .get_ref()
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let why_not = if name.starts_with("*.") {
            Some("wildcard names need the DNS-01 challenge, which Portero does not do")
        } else if name.parse::<IpAddr>().is_ok() {
            Some("it is an IP address")
        } else if !name.contains('.') {
            Some("a CA issues only for names with a dot (a public domain)")
        } else if name.contains('_') {
            Some("`_` is not allowed in a certificate's host name")
        } else {
            None
        };
        match why_not {
            Some(why) => cx.warn(
                h.span(),
                format!("{w}: host `{name}` gets no certificate through ACME: {why}; serve it with [tenant.tls], or set acme = false for this tenant"),
            ),
            None if !out.contains(&name) => out.push(name),
            None => {}
        }
    }
    out
}
