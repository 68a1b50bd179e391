//! OpenID Connect pages: starting a sign-in (redirect with PKCE, `state`,
//! `nonce`; the sign-in kept server-side under its `state` and bound to the
//! browser by a cookie) and the callback, whose second half — the token
//! exchange and the ID token check — runs after the request's facts are
//! gone, as [`finish`].

use super::signin::Visitor;
use super::{return_to, tenant_page, Reply};
use crate::audit::Event;
use crate::auth::oidc::{OidcRp, Pending};
use crate::config::{Config, Tenant};
use crate::gate::Seen;
use crate::state::State;

/// The cookie that binds a started sign-in to its browser.
pub const FLOW_COOKIE: &str = "portero_oidc";

/// The redirect URI for an origin.
pub fn redirect_uri(origin: &str) -> String {
    format!("{origin}/.portero/oidc/callback")
}

/// `302` to the provider, remembering the sign-in.
pub fn start(
    tenant: &Tenant,
    rp: &OidcRp,
    seen: &Seen<'_>,
    return_to: &str,
    login_hint: Option<&str>,
) -> Reply {
    let redirect = redirect_uri(&seen.origin());
    let Some((pending, url)) = rp.start(&tenant.name, &redirect, return_to, login_hint) else {
        tracing::warn!(tenant = %tenant.name, "OpenID Connect sign-in asked for, but there is no copy of the discovery document yet");
        return super::idp_unavailable(tenant, portero_policy::Idp::Oidc);
    };
    let id = pending.state.clone();
    // The callback is a top-level GET redirect: SameSite=Lax cookies go with it.
    let secure = if seen.req.tls { "; Secure" } else { "" };
    Reply::redirect(&url)
        .cookie(&format!(
            "{FLOW_COOKIE}={id}; Path=/.portero/oidc; Max-Age=600; HttpOnly; SameSite=Lax{secure}"
        ))
        .remember(format!("oidc:{id}"), &pending, PENDING_FOR, seen.client_ip)
}

/// How long a started sign-in waits for the provider's answer.
const PENDING_FOR: std::time::Duration = std::time::Duration::from_secs(600);

/// The callback, carried out of the request's facts.
#[derive(Debug)]
pub struct Finish {
    tenant: String,
    flow: String,
    flow_cookies: Vec<String>,
    code: Option<String>,
    error: Option<String>,
    iss: Option<String>,
    visitor: Visitor,
}

/// Refuses a sign-in: metric, audit line, 401 page.
fn refuse(state: &State, tenant: &Tenant, visitor: Visitor, reason: &str) -> Reply {
    // The provider's own error code is the client's text: one label for all.
    let label = if reason.starts_with("provider_error_") {
        "provider_error"
    } else {
        reason
    };
    state.metrics.refused("oidc", label);
    state.audit(
        &tenant.name,
        Event::RefusedAssertion,
        None,
        Some(visitor.client_ip),
        &format!("OpenID Connect sign-in refused: {reason}"),
    );
    tenant_page(
        tenant,
        401,
        "Sign-in refused",
        "The identity provider's answer could not be accepted. Nothing was signed in.",
        &[("/.portero/sso/oidc", "Try again")],
    )
}

/// `GET /.portero/oidc/callback?code=…&state=…`: read, then handed to
/// [`finish`] (the started sign-in is in the one-time store, which may be
/// Redis; the code goes to the provider).
pub fn callback(tenant: &Tenant, seen: &Seen<'_>) -> Result<Finish, Reply> {
    if tenant.oidc.is_none() {
        return Err(super::not_configured(tenant, portero_policy::Idp::Oidc));
    }
    let query = super::read_query(tenant, seen)?;
    Ok(Finish {
        tenant: tenant.name.clone(),
        flow: query.owned("state").unwrap_or_default(),
        flow_cookies: crate::session::find_cookie_values(
            seen.req.cookies.iter().copied(),
            FLOW_COOKIE,
        )
        .map(str::to_string)
        .collect(),
        code: query.owned("code").filter(|c| !c.is_empty()),
        error: query.owned("error"),
        iss: query.owned("iss"),
        visitor: Visitor::of(seen),
    })
}

/// Checks the callback (the `state` is one this browser started for this
/// tenant, taken out on first use; the `iss` parameter, when sent, is the
/// issuer), exchanges the code, verifies the ID token and signs in.
pub async fn finish(state: &State, cfg: &Config, job: Finish) -> Reply {
    let Some((index, tenant)) = cfg.tenant_and_index(&job.tenant) else {
        return Reply::html(500, super::internal_error_page());
    };
    let Some(rp) = &tenant.oidc else {
        return super::not_configured(tenant, portero_policy::Idp::Oidc);
    };
    let lang = job.visitor.lang;
    let refused =
        |reason: &str| super::i18n::scope(lang, || refuse(state, tenant, job.visitor, reason));
    // Taken out on first use: a replayed callback finds nothing.
    let pending = state
        .onetime
        .take_started::<Pending>("oidc", &job.flow)
        .await;
    let pending = match pending {
        Ok(Some(p)) => p,
        Ok(None) => return refused("unknown_or_used_state"),
        Err(e) => {
            return super::i18n::scope(lang, || {
                super::shared_store_down(state, tenant, "OpenID Connect callback not checked", &e)
            })
        }
    };
    if pending.tenant != tenant.name {
        return refused("state_of_another_tenant");
    }
    if !job.flow_cookies.contains(&pending.state) {
        return refused("state_not_this_browser");
    }
    if let Some(error) = &job.error {
        let error: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return refused(&format!("provider_error_{error}"));
    }
    // RFC 9207: a provider that names itself must name the right one.
    if job.iss.as_deref().is_some_and(|iss| iss != rp.issuer) {
        return refused("wrong_issuer_parameter");
    }
    let Some(code) = &job.code else {
        return refused("no_code");
    };
    let result = rp
        .finish(&cfg.server.outbound, code, &pending, state.now())
        .await;
    // Rendered after the await: in the visitor's language.
    super::i18n::scope(lang, || {
        render(state, cfg, tenant, index, &job, &pending, result)
    })
}

fn render(
    state: &State,
    cfg: &Config,
    tenant: &Tenant,
    index: usize,
    job: &Finish,
    pending: &Pending,
    result: Result<crate::auth::VerifiedLogin, crate::auth::oidc::Refusal>,
) -> Reply {
    let clear_flow = format!("{FLOW_COOKIE}=; Path=/.portero/oidc; Max-Age=0; HttpOnly");
    match result {
        Err(r) => refuse(state, tenant, job.visitor, r.as_str()).cookie(&clear_flow),
        Ok(login) => {
            let back = return_to::sanitize(Some(&pending.return_to), cfg, index).to_string();
            super::signin::complete(
                state,
                cfg,
                tenant,
                job.visitor,
                &login,
                &back,
                "OpenID Connect",
            )
            .cookie(&clear_flow)
        }
    }
}
