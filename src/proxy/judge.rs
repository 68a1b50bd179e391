//! One request judged: the gate's verdict ([`gate::evaluate`], which
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
    /// The routing rule that decided (`-` when none ran: unknown host, …).
    pub rule: &'static str,
    /// Why, in the policy's words (`-` when no rule ran).
    pub reason: &'static str,
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
    Judged {
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
