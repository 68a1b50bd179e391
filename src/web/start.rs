//! Sending a visitor to sign in: to the sign-in page or an identity
//! provider, the started sign-in kept before the redirect goes out.

use super::i18n::Lang;
use super::refusals::{no_idp, shared_store_down, tenant_page};
use super::{external, oidc, pages, return_to, saml, Reply};
use crate::config::{Config, Tenant};
use crate::gate::Seen;
use crate::state::State;
use portero_policy::Idp;

/// `302` to the sign-in page, carrying where the visitor was going.
pub fn to_sign_in_page(return_to: &str) -> Reply {
    Reply::redirect(&format!(
        "/.portero/login?return_to={}",
        pages::query_encode(return_to)
    ))
}

/// "Sent to SSO" with one identity provider: `302` to it, or a clear page
/// when it cannot be reached from this build. Every sign-in Portero starts
/// goes through here: `return_to` longer than [`return_to::MAX_LEN`] falls
/// back to `/`, so no started sign-in holds more. Its pages are in the
/// request's language.
pub fn to_idp(
    state: &State,
    tenant: &Tenant,
    seen: &Seen<'_>,
    idp: Idp,
    return_to: &str,
    login_hint: Option<&str>,
) -> Reply {
    let return_to = return_to::bounded(return_to);
    match idp {
        Idp::External => match &tenant.external_sso {
            Some(ext) => external::to_external(tenant, ext, seen, return_to, login_hint),
            None => no_idp(tenant, seen.lang),
        },
        Idp::Saml => match &tenant.saml {
            Some(sp) => saml::start(state, tenant, sp, seen, return_to, login_hint),
            None => no_idp(tenant, seen.lang),
        },
        Idp::Oidc => match &tenant.oidc {
            Some(rp) => oidc::start(tenant, rp, seen, return_to, login_hint),
            None => no_idp(tenant, seen.lang),
        },
    }
}

/// Keeps the sign-in a reply starts (if any) before the reply goes out:
/// the client address must have budget left ([`crate::budget`], else a
/// 429 page), and the store room ([`crate::onetime::NotKept::Full`], a 503
/// page; what was started before is never pushed out) and an answer (else
/// the "signing in is not possible" page).
pub async fn keep_started(
    state: &State,
    cfg: &Config,
    tenant: Option<&Tenant>,
    lang: Lang,
    mut reply: Reply,
) -> Reply {
    let Some(started) = reply.remember.take() else {
        return reply;
    };
    let now = state.now();
    let refused = |reason: &'static str| {
        state.metrics.refused("sign_in_start", reason);
        tracing::warn!(
            tenant = tenant.map_or("", |t| t.name.as_str()),
            client = %started.client,
            "sign-in not started: {reason}"
        );
        match tenant {
            Some(t) => sign_in_start_refused(t, lang, reason),
            None => Reply::empty(503),
        }
    };
    if !state
        .start_budget
        .take(started.client, cfg.server.sign_ins_per_client, now)
    {
        return refused("client_budget");
    }
    match state
        .onetime
        .keep_started(&started.key, started.value, started.ttl, now)
        .await
    {
        Ok(()) => reply,
        Err(crate::onetime::NotKept::Full) => refused("too_many_in_progress"),
        Err(crate::onetime::NotKept::TooLarge) => refused("too_large"),
        Err(crate::onetime::NotKept::Unavailable(e)) => match tenant {
            Some(t) => shared_store_down(state, t, lang, "sign-in not started", &e),
            None => Reply::empty(503),
        },
    }
}

/// A sign-in that was not started: 429 when this address started too
/// many, 503 when too many are in progress everywhere.
fn sign_in_start_refused(tenant: &Tenant, lang: Lang, reason: &str) -> Reply {
    let (status, title, message, retry) = match reason {
        "client_budget" => (
            429,
            "Too many sign-ins started",
            "Too many sign-ins were started from your network in the last few minutes, so this one was not started. Please finish a sign-in you already started, or try again in a minute.",
            "60",
        ),
        _ => (
            503,
            "Too many sign-ins in progress",
            "Too many sign-ins are in progress right now, so this one was not started. Please try again in a minute.",
            "60",
        ),
    };
    tenant_page(tenant, lang, status, title, message, &[("/", "Try again")])
        .header("retry-after", retry)
}
