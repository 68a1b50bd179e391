//! Why a sign-in was not finished: one type, a fixed set of reasons, and
//! what a refusal leaves behind (a metric, an audit line, a page).

use super::{Answered, Protocol};
use crate::audit::Event;
use crate::config::Tenant;
use crate::state::State;
use crate::web::Reply;
use std::borrow::Cow;

/// Why a sign-in was refused. Every variant but the last is the flow's own
/// check; `Verifier` carries the protocol's (its own fixed set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal<R> {
    /// The answer names a started sign-in that is unknown, expired or
    /// already used (or names none, in a browser that started one).
    UnknownOrUsed,
    /// The started sign-in belongs to another tenant.
    OfAnotherTenant,
    /// The started sign-in was not started in this browser (its flow
    /// cookie is not here): login CSRF.
    NotThisBrowser,
    /// No sign-in was started in this browser, and the tenant takes no
    /// unsolicited answers.
    NotStartedHere,
    /// The answer's one-time id was claimed before.
    Replayed,
    /// The protocol's verifier refused the answer.
    Verifier(R),
}

/// How a protocol names a refusal: the `reason` label of
/// `portero_refusals_total` and the words of the audit line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The metric label (a short, stable, fixed string).
    pub label: &'static str,
    /// The reason in the audit line.
    pub words: Cow<'static, str>,
}

impl Reason {
    /// A reason whose audit words are its label.
    pub fn label(label: &'static str) -> Reason {
        Reason {
            label,
            words: Cow::Borrowed(label),
        }
    }
}

/// Refuses a sign-in: metric, audit line, and the protocol's page (in the
/// visitor's language).
pub(super) fn refuse<P: Protocol>(
    state: &State,
    tenant: &Tenant,
    answered: &Answered<P>,
    refusal: &Refusal<P::Refusal>,
) -> Reply {
    let names = &P::NAMES;
    let reason = P::reason(refusal);
    state.metrics.refused(names.metric, reason.label);
    state.audit(
        &tenant.name,
        Event::RefusedAssertion,
        None,
        Some(answered.visitor.client_ip),
        &format!("{} refused: {}", names.refused, reason.words),
    );
    P::refused_page(
        tenant,
        answered.visitor.lang,
        refusal,
        &reason,
        &answered.answer,
    )
}
