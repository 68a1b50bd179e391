//! One sign-in flow for every protocol (SAML, OpenID Connect, external
//! JWT). A sign-in is [started](start) — a record kept in the one-time
//! store under a random id, bound to the browser by a flow cookie, for
//! [`LIVES_FOR`] — and [finished](finish), in this order, each step
//! needing the last one's result:
//!
//! 1. the started sign-in the answer names is taken out (once: a second
//!    answer finds nothing);
//! 2. it must be this tenant's and this browser's (its flow cookie);
//! 3. [`Protocol::verify`] checks the answer against it (signature,
//!    issuer, audience, time…) and gives an [`UnclaimedLogin`];
//! 4. claiming the answer's one-time id ([`UnclaimedLogin::claim`]) is the
//!    only way to a [`VerifiedLogin`](crate::auth::VerifiedLogin);
//! 5. which makes the session.
//!
//! Anything refused is a [`Refusal`] (a fixed set); a protocol names it
//! ([`Protocol::reason`]) and draws its page. A new protocol is a
//! [`Protocol`] impl and nothing else.

mod refusal;
mod session;
mod started;
#[cfg(test)]
mod tests;

pub use refusal::{Reason, Refusal};
pub use started::{start, Started, LIVES_FOR};

use crate::auth::UnclaimedLogin;
use crate::config::{Config, Tenant};
use crate::gate::Seen;
use crate::state::State;
use crate::web::{i18n, return_to, Reply};
use portero_policy::Idp;
use std::future::Future;

/// What names a protocol's flow: where its records, cookie, metrics and
/// log lines are.
#[derive(Debug, Clone, Copy)]
pub struct Names {
    /// The identity provider (for "not configured" pages).
    pub idp: Idp,
    /// The key prefix of its started sign-ins (`saml`, `oidc`, `ext`).
    pub kind: &'static str,
    /// The name its started sign-in records give their id (`request_id`,
    /// `state`).
    pub id_field: &'static str,
    /// The flow cookie.
    pub cookie: &'static str,
    /// The flow cookie's path (the reserved path the answer comes to).
    pub path: &'static str,
    /// Whether the answer comes by a cross-site POST (`SameSite=None`).
    pub cross_site_post: bool,
    /// Whether the browser's flow cookie names the started sign-in when
    /// the answer does not (external pages that do not hand `state` back).
    pub cookie_stands_in: bool,
    /// The `kind` label of its refusals in `portero_refusals_total`.
    pub metric: &'static str,
    /// The start of its refusal audit lines ("… refused: reason").
    pub refused: &'static str,
    /// How its sign-ins are named in the audit line.
    pub signed_in: &'static str,
    /// What is logged when the one-time store cannot be asked.
    pub not_checked: &'static str,
}

/// What a protocol's verification may use: the process, the
/// configuration, the tenant, and the time it runs at.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The process.
    pub state: &'a State,
    /// The configuration in force.
    pub cfg: &'a Config,
    /// The tenant signing in.
    pub tenant: &'a Tenant,
    /// The tenant's index in `cfg` (for `return_to`).
    pub index: usize,
    /// Now (Unix seconds), read once for the whole finish.
    pub now: u64,
}

/// A sign-in protocol: how its answer is read and verified, and how its
/// refusals are named and shown. Everything else is the flow's.
pub trait Protocol: Sized + 'static {
    /// The tenant's settings for it (SP, RP, external page).
    type Idp: Sync;
    /// What a started sign-in remembers besides its id, tenant and
    /// `return_to`.
    type Data: serde::Serialize + serde::de::DeserializeOwned + Send + Sync;
    /// The identity provider's answer, read off the request.
    type Answer: Send + Sync;
    /// Why the verifier refuses an answer (the protocol's fixed set).
    type Refusal: Send;
    /// Its names.
    const NAMES: Names;

    /// The tenant's settings, when the protocol is configured.
    fn idp(tenant: &Tenant) -> Option<&Self::Idp>;
    /// Reads the answer off the request, before anything is awaited (a
    /// reply, in the request's language, when it cannot be).
    fn read(
        state: &State,
        cfg: &Config,
        tenant: &Tenant,
        seen: &Seen<'_>,
    ) -> Result<Self::Answer, Reply>;
    /// The started sign-in the answer names (its `RelayState`, `state`).
    fn names(answer: &Self::Answer) -> Option<&str>;
    /// Whether an answer that names no started sign-in goes on to
    /// [`verify`](Self::verify) (which then checks the tenant allows it).
    fn takes_unsolicited(idp: &Self::Idp) -> bool;
    /// Verifies the answer against the started sign-in it belongs to
    /// (`None`: unsolicited); the login it makes is not claimed yet.
    fn verify<'a>(
        ctx: Ctx<'a>,
        idp: &'a Self::Idp,
        answer: &'a Self::Answer,
        started: Option<&'a Started<Self::Data>>,
    ) -> impl Future<Output = Result<UnclaimedLogin, Refusal<Self::Refusal>>> + Send + 'a;
    /// Its name for a refusal (metric label, audit words).
    fn reason(refusal: &Refusal<Self::Refusal>) -> Reason;
    /// The page of a refusal, in `lang`.
    fn refused_page(
        tenant: &Tenant,
        lang: i18n::Lang,
        refusal: &Refusal<Self::Refusal>,
        reason: &Reason,
        answer: &Self::Answer,
    ) -> Reply;
    /// Where an unsolicited sign-in leads (before sanitising).
    fn unsolicited_return_to(_answer: &Self::Answer) -> &str {
        "/"
    }
    /// Sees how an answer was judged (`Err`: the refusal's label), once
    /// the started sign-in was taken.
    fn judged(_ctx: Ctx<'_>, _answer: &Self::Answer, _verdict: Result<(), &str>) {}
}

/// What finishing a sign-in needs to know of the visitor, kept past the
/// request's borrowed facts (an OpenID Connect callback awaits the IdP).
#[derive(Debug, Clone, Copy)]
pub struct Visitor {
    /// The client address (audit).
    pub client_ip: std::net::IpAddr,
    /// Whether the request came over TLS (cookie attributes).
    pub tls: bool,
    /// The language of the pages.
    pub lang: i18n::Lang,
}

impl Visitor {
    /// The visitor of this request.
    pub fn of(seen: &Seen<'_>) -> Visitor {
        Visitor {
            client_ip: seen.client_ip,
            tls: seen.req.tls,
            lang: seen.lang,
        }
    }
}

/// An answer read off its request, with the browser's flow cookies.
pub struct Answered<P: Protocol> {
    answer: P::Answer,
    flow_cookies: Vec<String>,
    visitor: Visitor,
}

/// Reads a protocol's answer off the request (before anything is
/// awaited), then [`finish`]es the sign-in.
pub async fn answer<P: Protocol>(
    state: &State,
    cfg: &Config,
    tenant: &Tenant,
    seen: &Seen<'_>,
) -> Reply {
    match P::read(state, cfg, tenant, seen) {
        Ok(answer) => {
            let answered = Answered::<P> {
                answer,
                flow_cookies: started::flow_cookies(&P::NAMES, seen),
                visitor: Visitor::of(seen),
            };
            finish(state, cfg, (tenant, seen.tenant_index), answered).await
        }
        Err(reply) => reply,
    }
}

/// Finishes a sign-in (see the module's steps); the browser's flow cookie
/// is ended once its started sign-in was looked up, whatever the outcome.
pub async fn finish<P: Protocol>(
    state: &State,
    cfg: &Config,
    (tenant, index): (&Tenant, usize),
    answered: Answered<P>,
) -> Reply {
    let names = &P::NAMES;
    let lang = answered.visitor.lang;
    let Some(idp) = P::idp(tenant) else {
        return crate::web::not_configured(tenant, lang, names.idp);
    };
    let ctx = Ctx {
        state,
        cfg,
        tenant,
        index,
        now: state.now(),
    };
    let store_down = |e| crate::web::shared_store_down(state, tenant, lang, names.not_checked, &e);
    // 1. Taken out on first use: a second answer finds nothing.
    let named = P::names(&answered.answer).filter(|id| !id.is_empty());
    let lookup = named.or_else(|| {
        names
            .cookie_stands_in
            .then(|| answered.flow_cookies.last().map(String::as_str))
            .flatten()
    });
    let started = match lookup {
        Some(id) => match state.onetime.take_started(names.kind, id).await {
            Ok(record) => record.and_then(|r| Started::from_record(&r, names.id_field)),
            Err(e) => return store_down(e),
        },
        None => None,
    };
    // 2. This tenant's, this browser's.
    let bound = bind::<P>(tenant, idp, &answered, named.is_some(), started);
    // 3. Verified against it; 4. its one-time id claimed.
    let login = match bound {
        Ok(started) => match P::verify(ctx, idp, &answered.answer, started.as_ref()).await {
            Ok(unclaimed) => match unclaimed.claim(&state.onetime).await {
                Ok(Ok(login)) => Ok((login, started)),
                Ok(Err(crate::auth::Replayed)) => Err(Refusal::Replayed),
                Err(e) => return store_down(e).cookie(&started::clear_flow_cookie(names)),
            },
            Err(refusal) => Err(refusal),
        },
        Err(refusal) => Err(refusal),
    };
    // 5. The session, or the refusal.
    let reply = match login {
        Err(refusal) => {
            P::judged(ctx, &answered.answer, Err(P::reason(&refusal).label));
            refusal::refuse(state, tenant, &answered, &refusal)
        }
        Ok((login, started)) => {
            P::judged(ctx, &answered.answer, Ok(()));
            let back = started.as_ref().map_or_else(
                || P::unsolicited_return_to(&answered.answer),
                Started::return_to,
            );
            let back = return_to::sanitize(Some(back), cfg, index);
            session::complete(ctx, answered.visitor, &login, back, names.signed_in).await
        }
    };
    reply.cookie(&started::clear_flow_cookie(names))
}

/// Step 2: the started sign-in (if any) belongs to this tenant and this
/// browser; none is accepted only when the answer named none and the
/// protocol takes unsolicited answers.
fn bind<P: Protocol>(
    tenant: &Tenant,
    idp: &P::Idp,
    answered: &Answered<P>,
    named: bool,
    started: Option<Started<P::Data>>,
) -> Result<Option<Started<P::Data>>, Refusal<P::Refusal>> {
    match started {
        Some(s) if s.tenant() != tenant.name => Err(Refusal::OfAnotherTenant),
        Some(s) if !answered.flow_cookies.iter().any(|c| c == s.id()) => {
            Err(Refusal::NotThisBrowser)
        }
        Some(s) => Ok(Some(s)),
        // An id that names nothing is never unsolicited.
        None if named => Err(Refusal::UnknownOrUsed),
        None if P::takes_unsolicited(idp) => Ok(None),
        None if !answered.flow_cookies.is_empty() => Err(Refusal::UnknownOrUsed),
        None => Err(Refusal::NotStartedHere),
    }
}

#[cfg(test)]
impl Names {
    /// Names for unit tests of the flow's parts.
    pub(crate) const EXAMPLE: Names = Names {
        idp: Idp::External,
        kind: "ex",
        id_field: "state",
        cookie: "portero_ex",
        path: "/.portero/ex",
        cross_site_post: false,
        cookie_stands_in: false,
        metric: "ex",
        refused: "example refused",
        signed_in: "example",
        not_checked: "example not checked",
    };
}
