//! SAML on the reserved paths: sending the browser to the IdP with an
//! AuthnRequest, the ACS, and this SP's metadata.
//!
//! A sign-in Portero starts is remembered server-side under the request ID
//! (which is also the opaque `RelayState`) for ten minutes and taken out on
//! first use; the browser that started it carries the same ID in a cookie,
//! so a response cannot be replayed into another person's browser (login
//! CSRF) nor used twice ([`super::flow`]).

use super::flow::{self, Ctx, Names, Protocol, Reason, Refusal, Started};
use super::i18n::Lang;
use super::{read_form, tenant_page, Reply};
use crate::auth::saml::{Answering, Pending, Refusal as SamlRefusal, SamlSp};
use crate::auth::UnclaimedLogin;
use crate::config::{Config, Tenant};
use crate::gate::Seen;
use crate::state::State;
use std::future::Future;

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

/// `302` to the IdP with an AuthnRequest, starting the sign-in.
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
        return super::idp_unavailable(tenant, seen.lang, portero_policy::Idp::Saml);
    };
    let pending = Pending {
        login_hint: login_hint.map(str::to_string),
    };
    trace_redirect(state, tenant, "AuthnRequest sent", &url);
    flow::start::<Saml>(seen, tenant, request_id, return_to, pending, &url)
}

/// SAML's ACS (`POST /.portero/saml/acs`) as a sign-in [`Protocol`]: the
/// `RelayState` names the started sign-in (the AuthnRequest ID), the
/// response is verified on the SAML verification pool, its assertion ID
/// is the one-time id.
pub struct Saml;

/// A posted SAML response, kept past the request's borrowed facts.
#[derive(Debug)]
pub struct Posted {
    relay: String,
    response: String,
    origin: String,
}

impl Protocol for Saml {
    type Idp = SamlSp;
    type Data = Pending;
    type Answer = Posted;
    type Refusal = crate::auth::saml::Refusal;
    const NAMES: Names = Names {
        idp: portero_policy::Idp::Saml,
        kind: "saml",
        id_field: "request_id",
        cookie: "portero_saml",
        path: "/.portero/saml",
        cross_site_post: true,
        cookie_stands_in: false,
        metric: "saml_response",
        refused: "SAML response",
        signed_in: "SAML",
        not_checked: "SAML response not checked",
    };

    fn idp(tenant: &Tenant) -> Option<&SamlSp> {
        tenant.saml.as_deref()
    }

    fn read(_: &State, _: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Result<Posted, Reply> {
        if tenant.saml.is_none() {
            return Err(super::not_configured(
                tenant,
                seen.lang,
                portero_policy::Idp::Saml,
            ));
        }
        let form = read_form(tenant, seen)?;
        Ok(Posted {
            relay: form.owned("RelayState").unwrap_or_default(),
            response: form.owned("SAMLResponse").unwrap_or_default(),
            origin: seen.origin(),
        })
    }

    fn names(answer: &Posted) -> Option<&str> {
        Some(&answer.relay)
    }

    /// The verifier refuses an unsolicited response itself unless the
    /// tenant allows IdP-initiated sign-in.
    fn takes_unsolicited(_: &SamlSp) -> bool {
        true
    }

    /// The XML work runs on the SAML verification pool, never on this
    /// request worker, refused when it cannot finish within the pool's cap.
    fn verify<'a>(
        ctx: Ctx<'a>,
        sp: &'a SamlSp,
        answer: &'a Posted,
        started: Option<&'a Started<Pending>>,
    ) -> impl Future<Output = Result<UnclaimedLogin, Refusal<SamlRefusal>>> + Send + 'a {
        let (sp, name, origin, response, now) = (
            sp.clone(),
            ctx.tenant.name.clone(),
            answer.origin.clone(),
            answer.response.clone(),
            ctx.now,
        );
        let answering = started.map(|s| (s.id().to_string(), s.data().login_hint.clone()));
        async move {
            ctx.state
                .saml_verify
                .run(move || {
                    let answering = answering.as_ref().map(|(id, hint)| Answering {
                        request_id: id,
                        login_hint: hint.as_deref(),
                    });
                    sp.accept(&name, &origin, &response, answering, now)
                })
                .await
                .map_err(Refusal::Verifier)
        }
    }

    fn reason(refusal: &Refusal<SamlRefusal>) -> Reason {
        Reason::label(match refusal {
            Refusal::UnknownOrUsed | Refusal::NotStartedHere => "unknown_or_used_relay_state",
            Refusal::OfAnotherTenant => "relay_state_of_another_tenant",
            Refusal::NotThisBrowser => "relay_state_not_this_browser",
            Refusal::Replayed => "replayed_assertion",
            Refusal::Verifier(r) => r.as_str(),
        })
    }

    fn refused_page(
        tenant: &Tenant,
        lang: Lang,
        refusal: &Refusal<SamlRefusal>,
        _: &Reason,
        _: &Posted,
    ) -> Reply {
        use SamlRefusal::{VerificationTimeout, VerifierBusy, VerifierUnavailable};
        let message = match refusal {
            Refusal::OfAnotherTenant => {
                "The sign-in was started for another site. Nothing was signed in."
            }
            Refusal::NotThisBrowser => {
                "The sign-in was not started in this browser. Nothing was signed in."
            }
            Refusal::UnknownOrUsed | Refusal::NotStartedHere => {
                "This sign-in is unknown, expired or was already used. Nothing was signed in."
            }
            Refusal::Verifier(VerifierBusy | VerificationTimeout) => {
                "Too many sign-ins are being checked right now. Nothing was signed in; please try again in a moment."
            }
            _ => "The identity provider's answer could not be accepted. Nothing was signed in.",
        };
        let status = match refusal {
            Refusal::Verifier(VerifierBusy | VerificationTimeout | VerifierUnavailable) => 503,
            _ => 401,
        };
        tenant_page(
            tenant,
            lang,
            status,
            "Sign-in refused",
            message,
            &[("/.portero/sso/saml", "Try again")],
        )
    }

    /// Records the response in the tenant's SAML trace with the verdict.
    fn judged(ctx: Ctx<'_>, answer: &Posted, verdict: Result<(), &str>) {
        if ctx.tenant.saml.as_ref().is_some_and(|sp| sp.trace) {
            trace_response(ctx, &answer.response, verdict.err());
        }
    }
}

/// Records a received response in the tenant's SAML trace with the verdict.
fn trace_response(ctx: Ctx<'_>, response: &str, refused: Option<&str>) {
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
        ctx.state.saml_trace.record(
            &ctx.tenant.name,
            ctx.now,
            "Response received",
            &outcome,
            &xml,
        );
    }
}

/// `GET /.portero/saml/metadata`: this host's SP metadata.
pub fn metadata(tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    let Some(sp) = &tenant.saml else {
        return super::not_configured(tenant, seen.lang, portero_policy::Idp::Saml);
    };
    match sp.metadata_xml(&seen.origin()) {
        Some(xml) => Reply::with_body(200, "application/samlmetadata+xml", xml)
            .header("cache-control", "public, max-age=300"),
        None => Reply::html(500, super::internal_error_page(seen.lang)),
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
        None => super::signin::signed_out_page(tenant, seen.lang),
    };
    super::signin::clear_session_cookies(reply, cfg, seen)
}
