//! SAML on the reserved paths: sending the browser to the IdP with an
//! AuthnRequest, the ACS, and this SP's metadata.
//!
//! A sign-in Portero starts is remembered server-side under the request ID
//! (which is also the opaque `RelayState`) for ten minutes and taken out on
//! first use; the browser that started it carries the same ID in a cookie,
//! so a response cannot be replayed into another person's browser (login
//! CSRF) nor used twice.

use super::{form_field, return_to, tenant_page, Reply};
use crate::audit::Event;
use crate::auth::saml::{Pending, SamlSp};
use crate::config::{Config, Tenant};
use crate::gate::Seen;
use crate::state::State;

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
    state.saml_pending.insert(
        request_id.clone(),
        Pending {
            tenant: tenant.name.clone(),
            request_id: request_id.clone(),
            return_to: return_to.to_string(),
            login_hint: login_hint.map(str::to_string),
        },
    );
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
    Reply::redirect(&url).cookie(&format!(
        "{FLOW_COOKIE}={request_id}; Path=/.portero/saml; Max-Age=600; HttpOnly{attrs}"
    ))
}

/// `POST /.portero/saml/acs`: verify, then sign in like any other method.
pub fn acs(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    let Some(sp) = &tenant.saml else {
        return super::not_configured(tenant, portero_policy::Idp::Saml);
    };
    let relay = form_field(seen.req.body, "RelayState").unwrap_or_default();
    let response = form_field(seen.req.body, "SAMLResponse").unwrap_or_default();
    // Taken out on first use: a second POST finds nothing.
    let pending = (!relay.is_empty())
        .then(|| state.saml_pending.remove(&relay))
        .flatten();
    let refuse = |reason: &str, message: &str| {
        state
            .metrics
            .refusals
            .with_label_values(&["saml_response"])
            .inc();
        state.audit(
            &tenant.name,
            Event::RefusedAssertion,
            None,
            Some(seen.client_ip),
            &format!("SAML response refused: {reason}"),
        );
        tenant_page(
            tenant,
            401,
            "Sign-in refused",
            message,
            &[("/.portero/sso/saml", "Try again")],
        )
    };
    let pending = match pending {
        Some(p) if p.tenant != tenant.name => {
            return refuse(
                "relay_state_of_another_tenant",
                "The sign-in was started for another site. Nothing was signed in.",
            )
        }
        Some(p) if !browser_started(seen, &p.request_id) => {
            return refuse(
                "relay_state_not_this_browser",
                "The sign-in was not started in this browser. Nothing was signed in.",
            )
        }
        Some(p) => Some(p),
        None if !relay.is_empty() => {
            return refuse(
                "unknown_or_used_relay_state",
                "This sign-in is unknown, expired or was already used. Nothing was signed in.",
            )
        }
        None => None,
    };
    let now = state.now();
    let result = sp.accept(
        &tenant.name,
        &seen.origin(),
        &response,
        pending.as_ref(),
        now,
        &state.replay,
    );
    if sp.trace {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(response.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        let outcome = match &result {
            Ok(_) => "accepted".to_string(),
            Err(r) => format!("refused: {}", r.as_str()),
        };
        if let Some(xml) = decoded {
            state
                .saml_trace
                .record(&tenant.name, now, "Response received", &outcome, &xml);
        }
    }
    match result {
        Err(r) => refuse(
            r.as_str(),
            "The identity provider's answer could not be accepted. Nothing was signed in.",
        ),
        Ok(login) => {
            let return_to = pending.map_or_else(
                || "/".to_string(),
                |p| return_to::sanitize(Some(&p.return_to), cfg, seen.tenant_index).to_string(),
            );
            super::signin::complete(
                state,
                cfg,
                tenant,
                super::signin::Visitor::of(seen),
                &login,
                &return_to,
                "SAML",
            )
            .cookie(&format!(
                "{FLOW_COOKIE}=; Path=/.portero/saml; Max-Age=0; HttpOnly"
            ))
        }
    }
}

/// Whether this browser carries the flow cookie for `request_id`.
fn browser_started(seen: &Seen<'_>, request_id: &str) -> bool {
    crate::session::find_cookie_values(seen.req.cookies.iter().copied(), FLOW_COOKIE)
        .any(|v| v == request_id)
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
    if tenant.saml.as_ref().is_some_and(|sp| sp.trace) {
        for (param, what) in [
            ("SAMLRequest", "LogoutRequest received"),
            ("SAMLResponse", "LogoutResponse received"),
        ] {
            if let Some(xml) =
                super::query_param(seen, param).and_then(|v| crate::auth::saml::inflate(&v))
            {
                state
                    .saml_trace
                    .record(&tenant.name, state.now(), what, "-", &xml);
            }
        }
    }
    let back_to_idp = super::query_param(seen, "SAMLRequest").and_then(|request| {
        let sp = tenant.saml.as_ref()?;
        let relay = super::query_param(seen, "RelayState");
        sp.logout_response_url(&seen.origin(), &request, state.now(), relay.as_deref())
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
