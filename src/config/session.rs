//! `[session]` (cookie keys, names, re-authentication) and `[assertion]`
//! (the key and lifetime of the signed identity assertion).

use super::context::Ctx;
use super::model::SessionSettings;
use super::raw::{RawAssertion, RawSession};
use crate::identity::AssertionSigner;
use crate::session::Sealer;

/// `[session]`: the cookie keys (each one usable), `reauth`, the cookie
/// names and `classic_ttl`.
pub(super) fn compile_session(cx: &mut Ctx<'_>, raw: RawSession) -> Option<SessionSettings> {
    if raw.keys.get_ref().is_empty() {
        cx.err(
            raw.keys.span(),
            "[session].keys is empty: add one (make it with `portero keygen`)",
        );
    }
    let mut keys = Vec::new();
    for k in raw.keys.get_ref() {
        if let Some(v) = cx.secret(k, "[session].keys") {
            match Sealer::from_base64_keys(&[v.as_str()]) {
                Ok(_) => keys.push(v),
                Err(e) => cx.err(k.span(), format!("[session].keys: {e}")),
            }
        }
    }
    let reauth = match &raw.reauth {
        Some(r) => cx.duration_or_never(r, "[session].reauth")?,
        None => Some(86_400),
    };
    let cookie_name = match &raw.cookie_name {
        Some(n) if !is_token(n.get_ref()) => {
            cx.err(
                n.span(),
                "[session].cookie_name may hold only letters, digits, `-` and `_`",
            );
            None
        }
        Some(n) if has_cookie_prefix(n.get_ref()) => {
            cx.err(
                n.span(),
                "[session].cookie_name must not start with `__Host-` or `__Secure-`: Portero adds `__Host-` itself on TLS listeners (and a plain listener cannot set such a cookie)",
            );
            None
        }
        Some(n) => Some(n.get_ref().clone()),
        None => Some("portero_session".to_string()),
    }?;
    let classic_ttl = cx.duration(&raw.classic_ttl, 8 * 3600, "[session].classic_ttl");
    let sealer = Sealer::from_base64_keys(&keys).ok()?;
    Some(SessionSettings {
        sealer,
        opened: crate::session::OpenedCookies::default(),
        reauth,
        classic_cookie_name: format!("{cookie_name}_classic"),
        tls_cookie_name: format!("{}{cookie_name}", crate::session::HOST_PREFIX),
        tls_classic_cookie_name: format!("{}{cookie_name}_classic", crate::session::HOST_PREFIX),
        cookie_name,
        classic_ttl,
    })
}

/// Whether a cookie name starts with a prefix browsers give a meaning to
/// (compared as browsers do: without regard to case).
fn has_cookie_prefix(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("__host-") || lower.starts_with("__secure-")
}

/// Whether a cookie name holds only letters, digits, `-` and `_`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `[assertion]`: the signing key and a short `ttl` (1s to 1h).
pub(super) fn compile_assertion(cx: &mut Ctx<'_>, raw: RawAssertion) -> Option<AssertionSigner> {
    let ttl = cx.duration(&raw.ttl, 60, "[assertion].ttl");
    if ttl == 0 || ttl > 3600 {
        if let Some(t) = &raw.ttl {
            cx.err(t.span(), "[assertion].ttl must be between 1s and 1h: the assertion is meant to be short-lived");
        }
    }
    let pem = cx.secret(&raw.signing_key, "[assertion].signing_key")?;
    match AssertionSigner::from_pem(&pem, ttl) {
        Ok(s) => Some(s),
        Err(e) => {
            cx.err(
                raw.signing_key.span(),
                format!("[assertion].signing_key: {e}"),
            );
            None
        }
    }
}
