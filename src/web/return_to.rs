//! Return URLs (`return_to`, and later `RelayState` and OIDC `state`) are
//! only ever same-tenant: anything else falls back to `/`. See
//! `docs/open-redirect.md`.

use crate::config::Config;
use crate::facts::percent_decode;

/// The fallback for anything refused.
pub const FALLBACK: &str = "/";

/// Returns `raw` when it is a path on this host, or an absolute `http(s)`
/// URL on a host of the same tenant (index `tenant` in `config`); `/`
/// otherwise. Scheme-relative (`//evil.test`), backslash (`/\evil.test`),
/// foreign hosts, user-info, control characters and whitespace, plain or
/// percent-encoded, are all refused.
pub fn sanitize<'a>(raw: Option<&'a str>, config: &Config, tenant: usize) -> &'a str {
    match raw {
        Some(r) if is_safe(r, config, tenant) => r,
        _ => FALLBACK,
    }
}

fn is_safe(raw: &str, config: &Config, tenant: usize) -> bool {
    if raw.is_empty() || raw.len() > 4096 || !clean(raw) {
        return false;
    }
    // Decode a few times: `%2F%2Fevil.test`, `%252F%252F…` must not become `//`.
    let mut decoded = raw.to_string();
    for _ in 0..3 {
        if !clean(&decoded) {
            return false;
        }
        let next = percent_decode(&decoded);
        if next == decoded {
            break;
        }
        decoded = next;
    }
    if !clean(&decoded) {
        return false;
    }
    if raw.starts_with('/') {
        return !starts_like_authority(raw)
            && !starts_like_authority(&decoded)
            && !reserved_loop(&decoded);
    }
    let Ok(url) = url::Url::parse(raw) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return false;
    }
    let Some(host) = url.host_str() else {
        return false;
    };
    if reserved_loop(url.path()) {
        return false;
    }
    config.hosts.lookup(host) == Some(&tenant)
}

/// No whitespace, control characters or backslashes.
fn clean(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
}

/// `//host` and `/\host` are read by browsers as another host.
fn starts_like_authority(path: &str) -> bool {
    let b = path.as_bytes();
    b.len() >= 2 && b[0] == b'/' && (b[1] == b'/' || b[1] == b'\\')
}

/// Returning to the sign-in machinery itself would loop.
fn reserved_loop(path: &str) -> bool {
    path.starts_with("/.portero/") && !path.starts_with("/.portero/accounts")
}
