//! SAML on the reserved paths: sending the browser to the IdP with an
//! AuthnRequest, the ACS, and this SP's metadata.
//!
//! A sign-in Portero starts is remembered server-side under the request ID
//! (which is also the opaque `RelayState`) for ten minutes and taken out on
//! first use; the browser that started it carries the same ID in a cookie,
//! so a response cannot be replayed into another person's browser (login
//! CSRF) nor used twice.

use super::{read_form, return_to, tenant_page, Reply};
use crate::audit::Event;
use crate::auth::saml::{Pending, SamlSp};
use crate::config::{Config, Tenant};
use crate::gate::Seen;
use crate::state::State;
use crate::web::signin::Visitor;

/// Records a redirect-binding message (its `SAMLRequest`/`SAMLResponse`)
/// in the tenant's SAML trace.
pub fn trace_redirect(state: &State, tenant: &Tenant, what: &'static str, url: &str) {
    if !tenant.saml.as_ref().is_some_and(|sp| sp.trace) {
        return;
    }
    let message = url::Url::parse(url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "SAMLRequest" || k == "SAMLResponse")
            .and_then(|(_, v)| crate::auth::saml::inflate(&v))
    });
    if let Some(xml) = message {
        state
            .saml_trace
            .record(&tenant.name, state.now(), what, "sent", &xml);
    }
}

/// The cookie that binds a started sign-in to its browser.
pub const FLOW_COOKIE: &str = "portero_saml";

/// `302` to the IdP with an AuthnRequest, remembering the sign-in.
pub fn start(
    state: &State,
    tenant: &Tenant,
    sp: &SamlSp,
    seen: &Seen<'_>,
    return_to: &str,
    login_hint: Option<&str>,
) -> Reply {
    let Some((request_id, url)) = sp.authn_request(&seen.origin(), login_hint) else {
        tracing::warn!(tenant = %tenant.name, "SAML sign-in asked for, but there is no copy of the IdP's metadata yet");
        return super::idp_unavailable(tenant, portero_policy::Idp::Saml);
    };
    let pending = Pending {
        tenant: tenant.name.clone(),
        request_id: request_id.clone(),
        return_to: return_to.to_string(),
        login_hint: login_hint.map(str::to_string),
    };
    // The ACS is reached by a cross-site POST from the IdP: on TLS the
    // cookie must be SameSite=None; on plain HTTP browsers treat a cookie
    // without SameSite as Lax but still send it on a top-level POST made
    // within two minutes.
    let attrs = if seen.req.tls {
        "; Secure; SameSite=None"
    } else {
        ""
    };
    trace_redirect(state, tenant, "AuthnRequest sent", &url);
    Reply::redirect(&url)
        .cookie(&format!(
            "{FLOW_COOKIE}={request_id}; Path=/.portero/saml; Max-Age=600; HttpOnly{attrs}"
        ))
        .remember(
            format!("saml:{request_id}"),
            &pending,
            PENDING_FOR,
            seen.client_ip,
        )
}

/// How long a started sign-in waits for the IdP's answer.
const PENDING_FOR: std::time::Duration = std::time::Duration::from_secs(600);

/// `POST /.portero/saml/acs`: what the response needs checked, carried
/// out of the request (the started sign-in is taken out of the one-time
/// store, which may be Redis) to [`finish_acs`].
pub fn acs(tenant: &Tenant, seen: &Seen<'_>) -> Result<Acs, Reply> {
    if tenant.saml.is_none() {
        return Err(super::not_configured(tenant, portero_policy::Idp::Saml));
    }
    let form = read_form(tenant, seen)?;
    Ok(Acs {
        tenant: tenant.name.clone(),
        relay: form.owned("RelayState").unwrap_or_default(),
        response: form.owned("SAMLResponse").unwrap_or_default(),
        flow_cookies: crate::session::find_cookie_values(
            seen.req.cookies.iter().copied(),
            FLOW_COOKIE,
        )
        .map(str::to_string)
        .collect(),
        origin: seen.origin(),
        visitor: Visitor::of(seen),
    })
}

/// A posted SAML response, kept past the request's borrowed facts.
#[derive(Debug)]
pub struct Acs {
    tenant: String,
    relay: String,
    response: String,
    flow_cookies: Vec<String>,
    origin: String,
    visitor: Visitor,
}

/// Verifies the response, claims its assertion ID, then signs in like any
/// other method.
pub async fn finish_acs(state: &State, cfg: &Config, job: Acs) -> Reply {
    let Some((index, tenant)) = cfg.tenant_and_index(&job.tenant) else {
        return Reply::html(500, super::internal_error_page());
    };
    let Some(sp) = &tenant.saml else {
        return super::not_configured(tenant, portero_policy::Idp::Saml);
    };
    let lang = job.visitor.lang;
    let store_down = |e| {
        super::i18n::scope(lang, || {
            super::shared_store_down(state, tenant, "SAML response not checked", &e)
        })
    };
    // Taken out on first use: a second POST finds nothing.
    let pending = match state
        .onetime
        .take_started::<Pending>("saml", &job.relay)
        .await
    {
        Ok(p) => p,
        Err(e) => return store_down(e),
    };
    let verified = match verify_off_worker(state, tenant, sp, &job, pending.as_ref()).await {
        Ok((login, once)) => match state.onetime.first_use(&once.key, once.ttl).await {
            Ok(true) => Ok(login),
            Ok(false) => Err(crate::auth::saml::Refusal::Replayed.as_str()),
            Err(e) => return store_down(e),
        },
        Err(reason) => Err(reason),
    };
    super::i18n::scope(lang, || {
        if sp.trace {
            trace_response(
                state,
                tenant,
                &job.response,
                verified.as_ref().err().copied(),
            );
        }
        match verified {
            Err(reason) => refuse(state, tenant, job.visitor, reason),
            Ok(login) => {
                let return_to = pending.map_or_else(
                    || "/".to_string(),
                    |p| return_to::sanitize(Some(&p.return_to), cfg, index).to_string(),
                );
                super::signin::complete(state, cfg, tenant, job.visitor, &login, &return_to, "SAML")
                    .cookie(&format!(
                        "{FLOW_COOKIE}=; Path=/.portero/saml; Max-Age=0; HttpOnly"
                    ))
            }
        }
    })
}

/// Everything but the one-time checks: the started sign-in belongs to
/// this tenant and this browser, and the response verifies against it —
/// the XML work on the SAML verification pool, never on this request
/// worker, refused when it cannot finish within the pool's cap.
async fn verify_off_worker(
    state: &State,
    tenant: &Tenant,
    sp: &SamlSp,
    job: &Acs,
    pending: Option<&Pending>,
) -> Result<(crate::auth::VerifiedLogin, crate::auth::OnceId), &'static str> {
    match pending {
        Some(p) if p.tenant != tenant.name => return Err("relay_state_of_another_tenant"),
        Some(p) if !job.flow_cookies.contains(&p.request_id) => {
            return Err("relay_state_not_this_browser")
        }
        None if !job.relay.is_empty() => return Err("unknown_or_used_relay_state"),
        _ => {}
    }
    let (sp, name, origin, response) = (
        sp.clone(),
        tenant.name.clone(),
        job.origin.clone(),
        job.response.clone(),
    );
    let (pending, now) = (pending.cloned(), state.now());
    state
        .saml_verify
        .run(move || sp.accept(&name, &origin, &response, pending.as_ref(), now))
        .await
        .map_err(|r| r.as_str())
}

/// Refuses a response: metric, audit line, 401 page saying why in words.
fn refuse(state: &State, tenant: &Tenant, visitor: Visitor, reason: &str) -> Reply {
    state.metrics.refused("saml_response", reason);
    state.audit(
        &tenant.name,
        Event::RefusedAssertion,
        None,
        Some(visitor.client_ip),
        &format!("SAML response refused: {reason}"),
    );
    let message = match reason {
        "relay_state_of_another_tenant" => {
            "The sign-in was started for another site. Nothing was signed in."
        }
        "relay_state_not_this_browser" => {
            "The sign-in was not started in this browser. Nothing was signed in."
        }
        "unknown_or_used_relay_state" => {
            "This sign-in is unknown, expired or was already used. Nothing was signed in."
        }
        "verifier_busy" | "verification_timeout" => {
            "Too many sign-ins are being checked right now. Nothing was signed in; please try again in a moment."
        }
        _ => "The identity provider's answer could not be accepted. Nothing was signed in.",
    };
    let status = match reason {
        "verifier_busy" | "verification_timeout" | "verifier_unavailable" => 503,
        _ => 401,
    };
    tenant_page(
        tenant,
        status,
        "Sign-in refused",
        message,
        &[("/.portero/sso/saml", "Try again")],
    )
}

/// Records a received response in the tenant's SAML trace with the verdict.
fn trace_response(state: &State, tenant: &Tenant, response: &str, refused: Option<&str>) {
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(response.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let outcome = match refused {
        None => "accepted".to_string(),
        Some(r) => format!("refused: {r}"),
    };
    if let Some(xml) = decoded {
        state.saml_trace.record(
            &tenant.name,
            state.now(),
            "Response received",
            &outcome,
            &xml,
        );
    }
}

/// `GET /.portero/saml/metadata`: this host's SP metadata.
pub fn metadata(tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    let Some(sp) = &tenant.saml else {
        return super::not_configured(tenant, portero_policy::Idp::Saml);
    };
    match sp.metadata_xml(&seen.origin()) {
        Some(xml) => Reply::with_body(200, "application/samlmetadata+xml", xml)
            .header("cache-control", "public, max-age=300"),
        None => Reply::html(500, super::internal_error_page()),
    }
}

/// `GET /.portero/saml/slo`: where the IdP sends the browser after single
/// logout (a `LogoutResponse`: the logout page), or to log out from
/// elsewhere (a `LogoutRequest`: answered with a `LogoutResponse` back to
/// the IdP). Either way this browser's session ends. A forged request can
/// only sign its own browser out.
pub fn slo(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    super::signin::audit_sign_out(state, tenant, seen, "SAML single logout");
    let query = match super::read_query(tenant, seen) {
        Ok(q) => q,
        Err(bad) => return bad,
    };
    // Ended here at once; the refresher tells the other nodes within a second.
    if let Some(ending) = super::signin::ending_of(cfg, tenant, seen) {
        if let Err(e) = state.ended.end(&ending, state.now()) {
            tracing::error!(tenant = %tenant.name, "SAML single logout: session ended, but not saved: {e}");
        }
    }
    if tenant.saml.as_ref().is_some_and(|sp| sp.trace) {
        for (param, what) in [
            ("SAMLRequest", "LogoutRequest received"),
            ("SAMLResponse", "LogoutResponse received"),
        ] {
            if let Some(xml) = query.get(param).and_then(crate::auth::saml::inflate) {
                state
                    .saml_trace
                    .record(&tenant.name, state.now(), what, "-", &xml);
            }
        }
    }
    let back_to_idp = query.get("SAMLRequest").and_then(|request| {
        let sp = tenant.saml.as_ref()?;
        let relay = query.get("RelayState");
        sp.logout_response_url(&seen.origin(), request, state.now(), relay)
    });
    let reply = match back_to_idp {
        Some(url) => {
            trace_redirect(state, tenant, "LogoutResponse sent", &url);
            Reply::redirect(&url)
        }
        None => super::signin::signed_out_page(tenant),
    };
    super::signin::clear_session_cookies(reply, cfg, seen)
}
