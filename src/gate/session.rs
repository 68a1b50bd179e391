//! The session's side of a request's facts: Portero's cookies read in one
//! pass, the session opened and checked (revocation, ended sessions), the
//! classic-login choice, and which account the session enters — the
//! builders `portero explain` uses too.

use super::*;

/// Which account a signed-in request enters, and whether the user is in it.
#[derive(Debug)]
pub enum Entering {
    /// The user's membership in the account entered, and the directory's
    /// name for them when it wins over the session's (see `name`).
    Member {
        /// The membership.
        membership: Membership,
        /// The display name that goes out instead of the session's: the one
        /// the person set themselves on their profile page, else (only
        /// when the session carries none) the directory's. So the
        /// precedence is: own name > the IdP's name in the session > the
        /// directory's name.
        name: Option<String>,
    },
    /// The account entered, which the user is not a member of.
    NotMember(String),
    /// A picker tenant where no account is chosen yet.
    NoneChosen,
    /// The panel's endpoint must be asked first.
    Fetch(Arc<PanelEndpoint>),
    /// The membership source cannot answer now.
    Unavailable,
}

/// Works out the account a session enters on this host: asks the
/// tenant's membership source ([`members::resolve`]), then [`entering_from`].
pub fn entering(state: &State, tenant: &Tenant, seen: &Seen<'_>, s: &SessionClaims) -> Entering {
    let source = members::resolve(state.store.as_ref(), tenant, s, state.now());
    let session = SessionView {
        user: s.user(),
        picked: s.account(),
        named: s.name().is_some(),
    };
    entering_from(&tenant.account_rule, seen.host(), &session, source)
}

/// What [`entering_from`] reads of a session.
#[derive(Debug, Clone, Copy)]
pub struct SessionView<'a> {
    /// The user (lower-case e-mail or subject).
    pub user: &'a str,
    /// The account picked in the session (picker tenants).
    pub picked: Option<&'a str>,
    /// Whether the session carries a display name (else the directory's is
    /// used; a name the person set themselves wins either way).
    pub named: bool,
}

/// The account a session enters on `host` and whether its user is in it,
/// from what the membership source said. Pure: the gate (after asking the
/// source) and `portero explain` (from the configuration) both build the
/// session's fact with it and [`session_fact`].
pub fn entering_from(
    rule: &AccountRule,
    host: &str,
    session: &SessionView<'_>,
    source: Source<'_>,
) -> Entering {
    let dir = match source {
        Source::Ready(d) => d,
        Source::Fetch(p) => return Entering::Fetch(p),
        Source::Unavailable => return Entering::Unavailable,
    };
    match rule.account(host, session.picked) {
        None if matches!(rule, AccountRule::Picker) => Entering::NoneChosen,
        None => Entering::NotMember(host.to_string()),
        Some(account) => match dir.membership(session.user, account) {
            Some(membership) => Entering::Member {
                name: dir
                    .own_name(session.user)
                    .or_else(|| (!session.named).then(|| dir.name(session.user)).flatten())
                    .map(str::to_string),
                membership,
            },
            None => Entering::NotMember(account.to_string()),
        },
    }
}

/// The policy's fact about a request's session: `None` without a valid
/// session, else what [`entering_from`] found. A source that has not
/// answered (not asked yet, or failed with nothing cached) is
/// [`SessionFact::MembershipUnknown`], never a refusal.
pub fn session_fact(entering: Option<&Entering>) -> SessionFact {
    match entering {
        None => SessionFact::None,
        Some(Entering::Member { .. }) => SessionFact::Member,
        Some(Entering::NotMember(_)) => SessionFact::NotMember,
        Some(Entering::NoneChosen) => SessionFact::NoAccountChosen,
        Some(Entering::Unavailable | Entering::Fetch(_)) => SessionFact::MembershipUnknown,
    }
}

/// The session cookie of this request, when there is exactly one (of the
/// name used on this kind of listener) and it opens for this tenant and was
/// not ended; refusals are audited.
pub(super) fn read_session(
    state: &State,
    cfg: &Config,
    tenant: &Tenant,
    cookie: crate::session::OneCookie<'_>,
    client: IpAddr,
    now: u64,
) -> Result<Arc<SessionClaims>, Refusal> {
    let opened = match cookie {
        Ok(None) => return Err(Refusal::Unreadable),
        Ok(Some(value)) => open_session(state, cfg, tenant, value, now),
        Err(()) => Err(Refusal::Ambiguous),
    };
    if let Err(r) = opened {
        refused_cookie(state, tenant, client, r);
    }
    opened
}

/// Opens one session cookie value and checks it against every revocation.
fn open_session(
    state: &State,
    cfg: &Config,
    tenant: &Tenant,
    value: &str,
    now: u64,
) -> Result<Arc<SessionClaims>, Refusal> {
    let reauth = tenant.reauth.or(cfg.session.reauth);
    let revoked_before = state.revocations.revoked_before(&tenant.name);
    let claims = SessionClaims::open_cached(
        &cfg.session.sealer,
        &cfg.session.opened,
        &tenant.name,
        value,
        now,
        reauth,
        revoked_before,
    )?;
    if let Err(r) = state.ended.check(
        &tenant.name,
        claims.sid(),
        claims.user(),
        claims.issued_at(),
    ) {
        cfg.session.opened.forget(value);
        return Err(r);
    }
    Ok(claims)
}

/// Counts and audits a refused session or classic-login cookie.
pub(super) fn refused_cookie(state: &State, tenant: &Tenant, client: IpAddr, r: Refusal) {
    state.metrics.refused("session_cookie", r.as_str());
    state.audit(
        &tenant.name,
        Event::RefusedCookie,
        None,
        Some(client),
        r.as_str(),
    );
}

/// The e-mail kept by an earlier identifier-first choice, if its cookie
/// opens; `Err` when the cookie is there twice.
#[allow(clippy::result_unit_err)]
pub(super) fn read_classic(
    cfg: &Config,
    tenant: &Tenant,
    cookie: crate::session::OneCookie<'_>,
    now: u64,
) -> Result<Option<String>, ()> {
    Ok(cookie?
        .and_then(|v| ClassicClaims::open(&cfg.session.sealer, &tenant.name, v, now))
        .map(|c| c.email))
}
