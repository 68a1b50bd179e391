//! `portero explain`: the decision for one request and the rule chain that
//! led there, from the configuration alone (no network, no clock).

use crate::config::{Config, Tenant};
use crate::facts;
use crate::gate::{entering_from, session_fact, SessionView};
use crate::identity::Permissions;
use crate::members::{Dir, Source};
use crate::membership::{Directory, MemberSource, Membership};
use portero_policy::{decide_traced, Action, ClassicReason, Facts, ForwardAuth, SessionFact};
use serde::Serialize;
use std::fmt::Write;
use std::net::IpAddr;

/// What to explain (also the `portero explain` arguments).
#[derive(Debug, Clone, clap::Args)]
pub struct Question {
    /// The Host of the request.
    #[arg(long)]
    pub host: String,
    /// The path of the request (a query is ignored).
    #[arg(long)]
    pub path: String,
    /// The TCP peer's address.
    #[arg(long, default_value = "127.0.0.1")]
    pub ip: IpAddr,
    /// The X-Forwarded-For the peer sent.
    #[arg(long)]
    pub forwarded_for: Option<String>,
    /// The e-mail: of the session with --session, otherwise typed on the sign-in page.
    #[arg(long)]
    pub user: Option<String>,
    /// The request carries a valid session.
    #[arg(long)]
    pub session: bool,
    /// With --session on a tenant with an account picker: the account
    /// chosen in the session (none chosen without it).
    #[arg(long, requires = "session")]
    pub account: Option<String>,
    /// With --session: the membership source cannot answer (the panel's
    /// endpoint down, nothing cached).
    #[arg(long, requires = "session")]
    pub members_unavailable: bool,
    /// Judge the request as forward-auth does for this proxy: `traefik`
    /// (passes a redirect on) or `nginx` (auth_request: allow or deny only).
    #[arg(long, value_enum)]
    pub forward_auth: Option<Proxy>,
    /// The request carries Portero's session or classic-login cookie twice
    /// (one perhaps planted by a sibling site).
    #[arg(long)]
    pub cookie_conflict: bool,
}

/// The proxy a forward-auth sub-request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Proxy {
    /// Traefik `forwardAuth` (`X-Forwarded-Uri`): passes a redirect on.
    Traefik,
    /// nginx `auth_request` (`X-Original-URI`): allow or deny only.
    Nginx,
}

impl Proxy {
    fn fact(self) -> ForwardAuth {
        match self {
            Proxy::Traefik => ForwardAuth::PassesRedirects,
            Proxy::Nginx => ForwardAuth::AllowOrDeny,
        }
    }
}

/// One rule looked at.
#[derive(Debug, Serialize)]
pub struct StepOut {
    /// Its number in docs/routing.md.
    pub rule: u8,
    /// Its name.
    pub name: &'static str,
    /// Whether it decided.
    pub applied: bool,
    /// Why.
    pub note: &'static str,
}

/// The answer.
#[derive(Debug, Serialize)]
pub struct Explanation {
    /// The tenant serving the host.
    pub tenant: String,
    /// The path the rules matched.
    pub path: String,
    /// The client address the rules used.
    pub client_ip: IpAddr,
    /// How that address was found.
    pub client_ip_from: &'static str,
    /// The session fact.
    pub session: &'static str,
    /// The forward-auth proxy the request was judged for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_auth: Option<&'static str>,
    /// Who identified on the sign-in page, if anyone.
    pub identified_as: Option<String>,
    /// The rule chain.
    pub steps: Vec<StepOut>,
    /// What happens.
    pub action: String,
    /// The rule that decided.
    pub rule: u8,
    /// Why.
    pub reason: &'static str,
}

/// Runs the rules for one imagined request.
pub fn explain(cfg: &Config, q: &Question) -> Result<Explanation, String> {
    facts::Authority::parse(&q.host)
        .map_err(|b| format!("Portero answers 400: {}", b.message()))?;
    let tenant = cfg.tenant_for_host(&q.host).ok_or_else(|| {
        format!(
            "no tenant serves the host {:?} (Portero answers 421)",
            q.host
        )
    })?;
    let path_only = q.path.split('?').next().unwrap_or("/");
    let path = crate::gate::judged_path(tenant, path_only)
        .map_err(|b| format!("Portero answers 400: {}", b.message()))?;
    let xff: Vec<&str> = q.forwarded_for.iter().map(String::as_str).collect();
    let client_ip = facts::client_ip(q.ip, &xff, &cfg.server.trusted_proxies);
    let client_ip_from = if !cfg.server.trusted_proxies.contains(q.ip.to_canonical()) {
        "the TCP peer (not a trusted proxy; X-Forwarded-For ignored)"
    } else if xff.is_empty() {
        "the TCP peer (a trusted proxy that sent no X-Forwarded-For)"
    } else {
        "X-Forwarded-For (right-most entry that is not a trusted proxy)"
    };
    let user = q.user.as_deref().and_then(crate::auth::normalize_email);
    let host = facts::request_host(Some(&q.host), None).unwrap_or_default();
    let session = if q.session {
        let view = SessionView {
            user: user.as_deref().unwrap_or_default(),
            picked: q.account.as_deref(),
            named: true,
        };
        let offline = offline_directory(tenant, &host, &view);
        let source = match (&tenant.members, &offline) {
            _ if q.members_unavailable => Source::Unavailable,
            (MemberSource::Static(d), None) => Source::Ready(Dir::Borrowed(d)),
            (_, Some(d)) => Source::Ready(Dir::Borrowed(d)),
            (_, None) => Source::Ready(Dir::Owned(Directory::default())),
        };
        // The gate's own builder: account entered, membership, fact.
        session_fact(Some(&entering_from(
            &tenant.account_rule,
            &host,
            &view,
            source,
        )))
    } else {
        session_fact(None)
    };
    let identified_as = if q.session { None } else { user.clone() };
    let forward_auth = q.forward_auth.map(Proxy::fact);
    let facts = Facts {
        path: &path,
        client_ip,
        accepts_html: true,
        session,
        identified_as: identified_as.as_deref(),
        forward_auth,
        cookie_conflict: q.cookie_conflict,
    };
    let mut trace = Vec::new();
    let d = decide_traced(&tenant.policy, &facts, &mut trace);
    Ok(Explanation {
        tenant: tenant.name.clone(),
        path: path.into_owned(),
        client_ip,
        client_ip_from,
        session: match session {
            SessionFact::None => "none",
            SessionFact::Member => "valid, member of the account",
            SessionFact::NotMember => "valid, not a member of the account",
            SessionFact::NoAccountChosen => "valid, no account chosen yet",
            SessionFact::MembershipUnknown => "valid, membership source cannot answer",
        },
        forward_auth: forward_auth.map(|f| match f {
            ForwardAuth::PassesRedirects => "traefik (passes a redirect on)",
            ForwardAuth::AllowOrDeny => "nginx (allow or deny only)",
        }),
        identified_as,
        steps: trace
            .iter()
            .map(|s| StepOut {
                rule: s.rule.number(),
                name: s.rule.name(),
                applied: s.applied,
                note: s.note,
            })
            .collect(),
        action: describe(d.action),
        rule: d.rule.number(),
        reason: d.reason,
    })
}

/// The memberships `explain` reads when the tenant's source cannot be read
/// from the configuration alone (the store, the panel's endpoint, the
/// IdP's roles), or no `--user` says whose session it is: it takes them to
/// say yes, a directory in which the user is a member of the account
/// entered. `None` for the static list and a user, read as they are.
fn offline_directory(tenant: &Tenant, host: &str, view: &SessionView<'_>) -> Option<Directory> {
    if matches!(tenant.members, MemberSource::Static(_)) && !view.user.is_empty() {
        return None;
    }
    let mut d = Directory::default();
    if let Some(account) = tenant.account_rule.account(host, view.picked) {
        d.add(
            view.user,
            None,
            Membership::new(account, Permissions::default(), None),
        );
    }
    Some(d)
}

/// An action in words.
pub fn describe(action: Action) -> String {
    match action {
        Action::Answer => "Portero answers (reserved path)".into(),
        Action::ForwardBypass => {
            "forward to the panel without identity headers (bypass path)".into()
        }
        Action::ForwardIdentity => "forward to the panel with identity headers".into(),
        Action::Forbidden => "403 page: signed in, but not a member of this account".into(),
        Action::PickAccount => "302 to /.portero/accounts to choose an account".into(),
        Action::MembersUnavailable => {
            "503 page: the membership source cannot answer now (not a refusal)".into()
        }
        Action::Classic(ClassicReason::OutsideNetmasks) => {
            "classic login: forward without identity headers (outside the netmasks)".into()
        }
        Action::Classic(ClassicReason::SuperAdmin) => {
            "classic login: forward without identity headers (super-admin)".into()
        }
        Action::Classic(ClassicReason::ClassicUser) => {
            "classic login: forward without identity headers (classic user)".into()
        }
        Action::SignInPage => "302 to the sign-in page /.portero/login".into(),
        Action::CookieConflict => {
            "400 page: a sign-in cookie came twice; clear this site's cookies, then sign in".into()
        }
        Action::Sso(idp) => format!("302 to single sign-on ({})", idp.as_str()),
        Action::NoIdp => "503 page: SSO required but the tenant has no identity provider".into(),
        Action::Unauthorized => {
            "401 (not a browser, or a forward-auth proxy that cannot pass this on)".into()
        }
    }
}

/// The explanation as an operator reads it.
pub fn render_text(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "tenant:    {}", e.tenant);
    let _ = writeln!(out, "path:      {}", e.path);
    let _ = writeln!(
        out,
        "client:    {} (from {})",
        e.client_ip, e.client_ip_from
    );
    let _ = writeln!(out, "session:   {}", e.session);
    if let Some(proxy) = e.forward_auth {
        let _ = writeln!(out, "forward-auth for: {proxy}");
    }
    if let Some(u) = &e.identified_as {
        let _ = writeln!(out, "identified on the sign-in page as: {u}");
    }
    out.push_str("rules:\n");
    for s in &e.steps {
        let mark = if s.applied { "=>" } else { "  " };
        let _ = writeln!(out, "  {mark} {}. {:<24} {}", s.rule, s.name, s.note);
    }
    let _ = writeln!(
        out,
        "decision:  {} (rule {}: {})",
        e.action, e.rule, e.reason
    );
    out
}
