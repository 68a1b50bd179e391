//! One request judged, whatever HTTP engine carried it: the gate's
//! evaluation, the panel's membership endpoint asked when the gate needs
//! it, a sign-in's last step finished, and the decision's metrics.
//!
//! Both data planes call [`judge`] and then either write the reply or
//! forward the request with the identity headers.

use crate::config::Config;
use crate::facts::Authority;
use crate::gate::{self, Deferred, IdentityHeaders, Outcome, RequestView};
use crate::state::State;
use crate::web::{self, i18n::Lang, Reply};
use std::net::IpAddr;
use std::time::Instant;

/// What Portero does with the request.
pub enum Answer {
    /// Portero answers itself (a page, a redirect, a refusal).
    Reply(Reply),
    /// The panel answers; the identity headers go with a signed-in request.
    Forward(Option<IdentityHeaders>),
}

/// A judged request.
pub struct Judged {
    /// The tenant's index in the configuration, when the host is known.
    pub tenant: Option<usize>,
    /// The language of Portero's pages for this request.
    pub lang: Lang,
    /// Whether the TCP peer is a trusted proxy.
    pub peer_trusted: bool,
    /// The host in its normalised spelling, once judged.
    pub authority: Option<Authority>,
    /// The client address the rules used.
    pub client_ip: Option<IpAddr>,
    /// The decision's label (metrics, access log).
    pub label: &'static str,
    /// What to do.
    pub answer: Answer,
}

/// Judges one request (`started`: when its header was read).
pub async fn judge(
    state: &State,
    cfg: &Config,
    view: &RequestView<'_>,
    started: Instant,
) -> Judged {
    // Whether the panel's membership endpoint had to be asked (a cache miss).
    let mut asked_panel = false;
    let mut ev = gate::evaluate(state, cfg, view);
    if let Outcome::Await(deferred) = &ev.outcome {
        if let Deferred::Members { endpoint, user } = &**deferred {
            // The panel's endpoint is asked about this user, then the
            // request is judged again from the cache (which now holds the
            // answer, or the failure).
            asked_panel = true;
            let answered = endpoint
                .fetch(&cfg.server.outbound, user, state.now())
                .await;
            let tenant = ev
                .tenant
                .and_then(|i| cfg.tenants.get(i))
                .map_or("", |t| t.name.as_str());
            state
                .metrics
                .member_fetches
                .with_label_values(&[tenant, if answered { "ok" } else { "failed" }])
                .inc();
            ev = gate::evaluate(state, cfg, view);
            if matches!(&ev.outcome, Outcome::Await(d) if matches!(**d, Deferred::Members { .. })) {
                ev.outcome = match ev.tenant.and_then(|i| cfg.tenants.get(i)) {
                    Some(t) => Outcome::Reply(crate::web::i18n::scope(ev.lang, || {
                        web::members_unavailable(t)
                    })),
                    None => Outcome::Reply(Reply::empty(503)),
                };
            }
        }
    }
    let tenant = ev.tenant.and_then(|i| cfg.tenants.get(i));
    if matches!(ev.outcome, Outcome::Forward { identity: Some(_) })
        && tenant.is_some_and(|t| matches!(t.members, crate::members::MemberSource::Panel(_)))
    {
        state.metrics.panel_members(!asked_panel).inc();
    }
    state
        .metrics
        .decision_seconds
        .with_label_values(&[ev.label])
        .observe(started.elapsed().as_secs_f64());
    let answer = match ev.outcome {
        Outcome::Forward { identity } => Answer::Forward(identity),
        Outcome::Reply(reply) => {
            Answer::Reply(web::keep_started(state, cfg, tenant, ev.lang, reply).await)
        }
        Outcome::Await(deferred) => Answer::Reply(match *deferred {
            Deferred::OidcCallback(job) => web::oidc::finish(state, cfg, job).await,
            Deferred::SamlAcs(job) => web::saml::finish_acs(state, cfg, job).await,
            Deferred::JwtCallback(job) => web::signin::finish_jwt(state, cfg, job).await,
            Deferred::Logout(job) => web::signin::finish_logout(state, job).await,
            Deferred::Members { .. } => Reply::empty(503),
        }),
    };
    Judged {
        tenant: ev.tenant,
        lang: ev.lang,
        peer_trusted: ev.peer_trusted,
        authority: ev.authority,
        client_ip: ev.client_ip,
        label: ev.label,
        answer,
    }
}
