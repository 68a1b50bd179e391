//! The compile of the whole file: TOML → its sections → each section's
//! step ([`super::server`], [`super::session`], [`super::tenant`]) →
//! a validated [`Config`], collecting every finding on the way.

use super::context::Ctx;
use super::model::{Config, SessionSettings};
use super::raw::{RawAssertion, RawServer, RawSession, RawTenant};
use super::secret::Env;
use super::{server, session, tenant, Diagnostic, Loaded, Severity};
use crate::identity::SignedIdentities;
use serde::de::DeserializeOwned;
use std::path::Path;
use toml::de::{DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

/// How many sessions' signed identity headers are kept for reuse.
const SIGNED_SESSIONS_CACHED: u64 = 200_000;

/// Compiles configuration text; `file` names it in findings and anchors
/// relative paths. `env` answers `env:NAME` secrets: [`super::ProcessEnv`]
/// for the process's own environment, a map when compiling in memory.
pub fn compile_str(src: &str, file: &Path, env: &dyn Env) -> Result<Loaded, Vec<Diagnostic>> {
    let mut cx = Ctx::new(src, file, env);
    let root = match DeTable::parse(src) {
        Ok(t) => t,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            cx.err(span, format!("not valid TOML: {}", e.message()));
            return Err(cx.finish().0);
        }
    };
    let whole = root.span();
    let mut server = None;
    let mut session = None;
    let mut assertion = None;
    let mut raw_tenants = Vec::new();
    for (key, value) in root.into_inner() {
        match key.get_ref().as_ref() {
            "server" => server = shape::<RawServer>(&mut cx, "[server]", value),
            "session" => session = Some(shape::<RawSession>(&mut cx, "[session]", value)),
            "assertion" => assertion = Some(shape::<RawAssertion>(&mut cx, "[assertion]", value)),
            "tenant" => {
                let span = value.span();
                match value.into_inner() {
                    DeValue::Array(items) => {
                        for (i, item) in items.into_iter().enumerate() {
                            let what = format!("[[tenant]] #{}", i + 1);
                            let before = cx.errors();
                            let item = one_idp_per_protocol(&mut cx, &what, item);
                            if let Some(t) = shape::<RawTenant>(&mut cx, &what, item) {
                                raw_tenants.push((t, cx.errors() > before));
                            }
                        }
                    }
                    _ => cx.err(
                        span,
                        "`tenant` must be an array of tables: write [[tenant]]",
                    ),
                }
            }
            other => {
                match did_you_mean(other, "expected `server`, `session`, `assertion`, `tenant`") {
                    Some(near) => cx.err(
                        key.span(),
                        format!("unknown key `{other}` (did you mean `{near}`?)"),
                    ),
                    None => cx.err(
                        key.span(),
                        format!(
                            "unknown key `{other}` (expected server, session, assertion or tenant)"
                        ),
                    ),
                }
            }
        }
    }

    let acme_on = server
        .as_ref()
        .is_some_and(|s: &RawServer| s.acme.is_some());
    let server = server::compile_server(&mut cx, server.unwrap_or_default());
    let session = match session {
        Some(Some(s)) => session::compile_session(&mut cx, s),
        Some(None) => None,
        None => {
            cx.err(
                whole.start..whole.start,
                "[session] is missing: it needs `keys` (make one with `portero keygen`)",
            );
            None
        }
    };
    let assertion = match assertion {
        Some(Some(a)) => session::compile_assertion(&mut cx, a),
        Some(None) => None,
        None => {
            cx.err(
                whole.start..whole.start,
                "[assertion] is missing: it needs `signing_key` (make one with `portero keygen`)",
            );
            None
        }
    };
    if raw_tenants.is_empty() && !cx.has_errors() {
        cx.err(
            whole.start..whole.start,
            "no [[tenant]] is configured: nothing would be served",
        );
    }
    let default_reauth = session.as_ref().and_then(|s: &SessionSettings| s.reauth);
    let mut tenants = Vec::new();
    let mut taken = tenant::Taken::default();
    for (raw, misspelt) in raw_tenants {
        if let Some(t) = tenant::compile(
            &mut cx,
            raw,
            misspelt,
            default_reauth,
            acme_on,
            &mut taken,
            tenants.len(),
        ) {
            tenants.push(t);
        }
    }
    if let Some(server) = &server {
        let any_cert = tenants
            .iter()
            .any(|t| t.tls.is_some() || !t.acme_hosts.is_empty());
        if !server.listen_tls.is_empty() && !any_cert {
            cx.push(
                Severity::Error,
                None,
                "[server].listen_tls is set but no tenant has a [tenant.tls] certificate, nor a host that gets one through [server.acme]".into(),
            );
        }
    }

    let acme_hosts = tenants
        .iter()
        .flat_map(|t| t.acme_hosts.iter().cloned())
        .collect();
    let sound = !cx.has_errors();
    let (diags, remote) = cx.finish();
    match (server, session, assertion) {
        (Some(server), Some(session), Some(assertion)) if sound => Ok(Loaded {
            config: Config {
                source: file.to_path_buf(),
                server,
                session,
                signed: SignedIdentities::new(SIGNED_SESSIONS_CACHED, assertion.ttl),
                assertion,
                tenants,
                hosts: taken.hosts,
                acme_hosts,
                remote,
            },
            warnings: diags,
        }),
        _ => Err(diags),
    }
}

/// One identity provider per protocol per tenant (README, "Configuration
/// reference"). A tenant listing several (`[[tenant.oidc]]` twice) gets
/// one clear error on the line, and the list is set aside so the rest of
/// the tenant is checked.
pub(super) fn one_idp_per_protocol<'a>(
    cx: &mut Ctx<'_>,
    what: &str,
    item: Spanned<DeValue<'a>>,
) -> Spanned<DeValue<'a>> {
    const PROTOCOLS: [(&str, &str); 3] = [
        ("saml", "SAML identity provider"),
        ("oidc", "OpenID Connect provider"),
        ("external_sso", "external sign-in page"),
    ];
    let span = item.span();
    let DeValue::Table(table) = item.into_inner() else {
        return Spanned::new(span, DeValue::Table(Default::default()));
    };
    let kept = table
        .into_iter()
        .filter(|(k, v)| {
            let key = k.get_ref().as_ref();
            match PROTOCOLS.iter().find(|(p, _)| *p == key) {
                Some((p, label)) if matches!(v.get_ref(), DeValue::Array(_)) => {
                    cx.err(k.span(), format!("{what}: one {label} per tenant; write [tenant.{p}] once (use another tenant for another provider)"));
                    false
                }
                _ => true,
            }
        })
        .collect();
    Spanned::new(span, DeValue::Table(kept))
}

/// The expected key closest to a misspelt one, from serde's "unknown
/// field `x`, expected one of `a`, `b`" message; `None` when none is close.
fn did_you_mean(unknown: &str, message: &str) -> Option<String> {
    let expected = message.split_once("expected")?.1;
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|k| (strsim::jaro_winkler(unknown, k), k))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.to_string())
}

/// Deserializes one section. An unknown key is reported and taken out,
/// then the section is read again, so the errors behind it are found in
/// the same run.
fn shape<T: DeserializeOwned>(
    cx: &mut Ctx<'_>,
    what: &str,
    value: Spanned<DeValue<'_>>,
) -> Option<T> {
    let span = value.span();
    let mut value = value;
    for _ in 0..64 {
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => return Some(v),
            Err(e) => {
                let at = e.span().unwrap_or(span.clone());
                let unknown = e
                    .message()
                    .strip_prefix("unknown field `")
                    .and_then(|r| r.split('`').next())
                    .map(str::to_string);
                match unknown
                    .as_deref()
                    .and_then(|u| did_you_mean(u, e.message()))
                {
                    Some(near) => cx.err(
                        at,
                        format!(
                            "{what}: unknown key `{}` (did you mean `{near}`?)",
                            unknown.as_deref().unwrap_or_default()
                        ),
                    ),
                    None => cx.err(at, format!("{what}: {}", e.message())),
                }
                let field = unknown?;
                let inner_span = value.span();
                let DeValue::Table(table) = value.into_inner() else {
                    return None;
                };
                let before = table.len();
                let table: toml::de::DeTable<'_> = table
                    .into_iter()
                    .filter(|(k, _)| k.get_ref().as_ref() != field.as_str())
                    .collect();
                if table.len() == before {
                    return None;
                }
                value = Spanned::new(inner_span, DeValue::Table(table));
            }
        }
    }
    None
}
