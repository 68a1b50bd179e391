//! Return URLs (`return_to`, and later `RelayState` and OIDC `state`) are
//! only ever same-tenant: anything else falls back to `/`. See
//! `docs/open-redirect.md`.

use crate::config::Config;
use crate::facts::percent_decode;

/// The fallback for anything refused.
pub const FALLBACK: &str = "/";

/// The longest `return_to` kept or followed (bytes). A started sign-in
/// holds one for ten minutes, so this bounds what an anonymous visitor can
/// make Portero remember; a longer one falls back to `/`.
pub const MAX_LEN: usize = 2048;

/// `return_to` itself when it is at most [`MAX_LEN`] bytes, else `/`.
pub fn bounded(return_to: &str) -> &str {
    if return_to.len() > MAX_LEN {
        FALLBACK
    } else {
        return_to
    }
}

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
    if raw.is_empty() || raw.len() > MAX_LEN || !clean(raw) {
        return false;
    }
    if raw.starts_with('/') {
        // Decode a few times: `%2F%2Fevil.test`, `%252F…`, `/%09/evil.test`
        // must not turn into `//` for anything that decodes and tidies again.
        let mut decoded = raw.to_string();
        for _ in 0..3 {
            if starts_like_authority(&tidy(&decoded)) {
                return false;
            }
            decoded = percent_decode(&decoded);
        }
        return !starts_like_authority(&tidy(&decoded)) && !reserved_loop(&tidy(&decoded));
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

/// What a lenient URL parser sees: whitespace and control characters
/// dropped, backslashes read as slashes.
fn tidy(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .map(|c| if c == '\\' { '/' } else { c })
        .collect()
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
    // The accounts and invitation pages are where a sign-in may lead back to.
    path.starts_with("/.portero/")
        && !path.starts_with("/.portero/accounts")
        && !path.starts_with("/.portero/invitations")
}
