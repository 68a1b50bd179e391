//! One request answered: the gate's verdict ([`gate::evaluate`], which
//! awaits what it must ask), turned into Portero's reply by
//! [`web::respond`] unless it is a forward; and the decision's metrics.

use crate::config::Config;
use crate::facts::Authority;
use crate::gate::{self, IdentityHeaders, Outcome, RequestView};
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

/// A request answered: what to do with it, and what its logs and metrics need.
pub struct Answered {
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
    /// The routing rule that decided (`-` when none ran: unknown host, …).
    pub rule: &'static str,
    /// Why, in the policy's words (`-` when no rule ran).
    pub reason: &'static str,
    /// What to do.
    pub answer: Answer,
}

/// Answers one request (`started`: when its header was read).
pub async fn answer(
    state: &State,
    cfg: &Config,
    view: &RequestView<'_>,
    started: Instant,
) -> Answered {
    let verdict = gate::evaluate(state, cfg, view).await;
    state
        .metrics
        .decision_seconds
        .with_label_values(&[verdict.label])
        .observe(started.elapsed().as_secs_f64());
    let reply = match verdict.outcome {
        Outcome::Forward { .. } => None,
        // Boxed: Portero's own answers (sign-in finishes included) make a
        // large future; inline, every forwarded request would carry and
        // copy its room.
        _ => Some(Box::pin(web::respond(state, cfg, &verdict)).await),
    };
    let (rule, reason) = (verdict.rule(), verdict.reason());
    let answer = match (reply, verdict.outcome) {
        (Some(reply), _) => Answer::Reply(reply),
        (None, Outcome::Forward { identity }) => Answer::Forward(identity),
        (None, _) => Answer::Reply(Reply::empty(500)),
    };
    Answered {
        tenant: verdict.tenant,
        lang: verdict.lang,
        peer_trusted: verdict.peer_trusted,
        authority: verdict.seen.map(|s| s.authority),
        client_ip: verdict.client_ip,
        label: verdict.label,
        rule,
        reason,
        answer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every request's future carries what [`answer`] awaits. Portero's
    /// own answers (sign-in finishes, with their verifiers' futures) are
    /// boxed: inline, each forwarded request would carry and move their
    /// room. The bound is loose; what it catches is that room coming back.
    #[test]
    fn a_forwarded_request_does_not_carry_the_sign_in_flows() {
        let (state, _dir) = State::for_tests(1_800_000_000);
        let cfg = state.config();
        let view = RequestView {
            method: "GET",
            path: "/",
            authority: "panel.t.test",
            ..Default::default()
        };
        let answering = answer(&state, &cfg, &view, Instant::now());
        let evaluating = gate::evaluate(&state, &cfg, &view);
        let verdict = gate::Verdict {
            tenant: None,
            peer_trusted: false,
            lang: Lang::En,
            client_ip: None,
            seen: None,
            decision: None,
            label: "unknown_host",
            outcome: Outcome::UnknownHost,
        };
        let responding = web::respond(&state, &cfg, &verdict);
        let [ours, gate, replies] = [
            std::mem::size_of_val(&answering),
            std::mem::size_of_val(&evaluating),
            std::mem::size_of_val(&responding),
        ];
        assert!(
            ours <= gate + 512,
            "answer's future ({ours} bytes) carries more than the gate's ({gate}): \
             are Portero's own answers ({replies}) no longer boxed?"
        );
    }
}
