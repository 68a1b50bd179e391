//! The routing rules of docs/routing.md, as one pure function.

use crate::{NetmaskSet, PathPrefixes};
use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

/// How a tenant sends people to single sign-on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoMode {
    /// `302` straight to the tenant's default identity provider.
    AutoRedirect,
    /// Portero's sign-in page: an e-mail field and a button per IdP.
    LoginPage,
    /// Portero's sign-in page with the buttons only.
    SsoButtonsOnly,
}

/// One kind of identity provider a tenant may have (one of each at most).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Idp {
    /// SAML 2.0.
    Saml,
    /// OpenID Connect.
    Oidc,
    /// An external sign-in page that hands back a signed JWT.
    External,
}

impl Idp {
    /// The name used in paths and configuration: `saml`, `oidc`, `external`.
    pub fn as_str(self) -> &'static str {
        match self {
            Idp::Saml => "saml",
            Idp::Oidc => "oidc",
            Idp::External => "external",
        }
    }
}

/// A tenant's routing policy, compiled from its configuration.
#[derive(Debug, Clone)]
pub struct TenantPolicy {
    /// How people are sent to SSO.
    pub sso_mode: SsoMode,
    /// Client networks whose members are sent to SSO (rule 6).
    pub netmasks: NetmaskSet,
    /// Break-glass operators (lower-case e-mails).
    pub super_admins: HashSet<String>,
    /// People the IdP does not manage (lower-case e-mails): always classic login.
    pub classic_users: HashSet<String>,
    /// Whether super-admins may use the classic login (rules 5 and 7) and
    /// escape forced external SSO on the admin paths.
    pub superadmin_bypass: bool,
    /// The panel's admin console (rule 5).
    pub admin_paths: PathPrefixes,
    /// Paths forwarded without identity (rule 2).
    pub bypass_paths: PathPrefixes,
    /// Forced external SSO (rule 4).
    pub forced_external: bool,
    /// Where "sent to SSO" goes; `None` when the tenant has no IdP.
    pub default_idp: Option<Idp>,
}

impl TenantPolicy {
    /// Whether two readings of one request path fall under the same rules
    /// (reserved, bypass, admin), so the decision does not depend on which
    /// of them the panel acts on. The gate refuses a path whose readings
    /// differ (e.g. with and without `;` path parameters).
    pub fn routes_alike(&self, a: &str, b: &str) -> bool {
        is_reserved(a) == is_reserved(b)
            && self.bypass_paths.matches(a) == self.bypass_paths.matches(b)
            && self.admin_paths.matches(a) == self.admin_paths.matches(b)
    }
}

/// Rule 1's paths: `/.portero` and everything under it.
fn is_reserved(path: &str) -> bool {
    path == "/.portero" || path.starts_with("/.portero/")
}

/// What Portero knows about the visitor's session before deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionFact {
    /// No session, or one that is tampered, expired, revoked or foreign.
    None,
    /// A valid session whose user is a member of the account being entered.
    Member,
    /// A valid session whose user has no membership in the account being entered.
    NotMember,
    /// A valid session, on a tenant where the user picks the account, with none picked yet.
    NoAccountChosen,
    /// A valid session, but the membership source (the panel's endpoint)
    /// cannot answer now and nothing about this user is cached.
    MembershipUnknown,
}

/// A forward-auth sub-request (`/.portero/auth`): a proxy asks whether
/// *another* request may pass, and can carry only some answers back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardAuth {
    /// The proxy passes Portero's answer on as it is, a redirect included
    /// (Traefik `forwardAuth`, which sends `X-Forwarded-Uri`).
    PassesRedirects,
    /// The proxy reads allow or deny only: a `2xx`, `401` or `403`
    /// (nginx `auth_request`, which sends `X-Original-URI` and cannot
    /// follow a redirect).
    AllowOrDeny,
}

/// Whether the client can be sent to a page by a redirect: a browser
/// (`Accept` names `text/html`), reached directly or through a forward-auth
/// proxy that passes redirects on.
pub fn follows_redirects(accepts_html: bool, forward_auth: Option<ForwardAuth>) -> bool {
    accepts_html && forward_auth != Some(ForwardAuth::AllowOrDeny)
}

/// The facts of one request, gathered before the decision.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The request path (no query).
    pub path: &'a str,
    /// The client address (trusted proxies already applied: see
    /// docs/client-address.md).
    pub client_ip: IpAddr,
    /// Whether the client is a browser (`Accept` names `text/html`).
    pub accepts_html: bool,
    /// The session, checked.
    pub session: SessionFact,
    /// The e-mail the visitor gave on the sign-in page (now, or earlier and
    /// kept in the classic-login cookie), lower-case. It routes, never vouches.
    pub identified_as: Option<&'a str>,
    /// `Some` when the request is a forward-auth sub-request, judged for
    /// the proxy that asked.
    pub forward_auth: Option<ForwardAuth>,
    /// Portero's session or classic-login cookie came twice (one may have
    /// been planted by a sibling site): neither was believed, and sending
    /// the visitor to sign in would not help while both stay.
    pub cookie_conflict: bool,
}

impl Facts<'_> {
    /// Whether the client can be sent to a page by a redirect
    /// ([`follows_redirects`]).
    pub fn follows_redirects(&self) -> bool {
        follows_redirects(self.accepts_html, self.forward_auth)
    }
}

/// The rules of docs/routing.md, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// 1. `/.portero/…`: Portero answers.
    ReservedPath,
    /// 2. The tenant's bypass paths.
    BypassPath,
    /// 3. A valid session.
    ValidSession,
    /// 4. Forced external SSO.
    ForcedExternalSso,
    /// 5. The admin paths.
    AdminPath,
    /// 6. A tenant with netmasks.
    Netmasks,
    /// 7. A tenant without netmasks.
    NoNetmasks,
}

impl Rule {
    /// The rule's number in docs/routing.md.
    pub fn number(self) -> u8 {
        match self {
            Rule::ReservedPath => 1,
            Rule::BypassPath => 2,
            Rule::ValidSession => 3,
            Rule::ForcedExternalSso => 4,
            Rule::AdminPath => 5,
            Rule::Netmasks => 6,
            Rule::NoNetmasks => 7,
        }
    }

    /// A short name, as `portero explain` prints it.
    pub fn name(self) -> &'static str {
        match self {
            Rule::ReservedPath => "reserved path",
            Rule::BypassPath => "bypass path",
            Rule::ValidSession => "valid session",
            Rule::ForcedExternalSso => "forced external SSO",
            Rule::AdminPath => "admin path",
            Rule::Netmasks => "tenant with netmasks",
            Rule::NoNetmasks => "tenant without netmasks",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {} ({})", self.number(), self.name())
    }
}

/// Why someone gets the panel's classic login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassicReason {
    /// The client is outside every netmask of the tenant.
    OutsideNetmasks,
    /// A super-admin identified themselves (break-glass).
    SuperAdmin,
    /// Someone the IdP does not manage identified themselves.
    ClassicUser,
}

/// What to do with the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Portero answers the reserved path itself.
    Answer,
    /// Forward without identity headers (a bypass path).
    ForwardBypass,
    /// Forward with the session's identity headers.
    ForwardIdentity,
    /// Signed in, but no membership in this account: a 403 page.
    Forbidden,
    /// Signed in, no account picked yet: send to `/.portero/accounts`.
    PickAccount,
    /// Signed in, but the membership source cannot answer now: a 503 page
    /// (never someone else's access, never a refusal, never a loop).
    MembersUnavailable,
    /// Forward without identity headers to the panel's own login.
    Classic(ClassicReason),
    /// `302` to `/.portero/login?return_to=…`.
    SignInPage,
    /// Someone must sign in, but the request carried a sign-in cookie twice:
    /// a page that says how to clear them (a sign-in would not help).
    CookieConflict,
    /// `302` to this identity provider now.
    Sso(Idp),
    /// Someone must sign in but the tenant has no identity provider: an error page.
    NoIdp,
    /// Someone must sign in but the client cannot be sent to a page (not a
    /// browser, or a forward-auth proxy that passes no redirect or page): `401`.
    Unauthorized,
}

/// The decision: what to do, the rule that chose it, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// The rule that applied.
    pub rule: Rule,
    /// Why, in words an operator reads.
    pub reason: &'static str,
}

/// One line of the rule chain: a rule, whether it applied, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The rule looked at.
    pub rule: Rule,
    /// Whether it decided the request.
    pub applied: bool,
    /// Why it did or did not.
    pub note: &'static str,
}

/// Decides one request. Pure: same policy and facts, same decision.
///
/// ```
/// use portero_policy::*;
/// let policy = TenantPolicy {
///     sso_mode: SsoMode::AutoRedirect,
///     netmasks: NetmaskSet::new(["10.0.0.0/8".parse().unwrap()]),
///     super_admins: Default::default(),
///     classic_users: Default::default(),
///     superadmin_bypass: true,
///     admin_paths: PathPrefixes::new(["/admin".to_string()]),
///     bypass_paths: PathPrefixes::default(),
///     forced_external: false,
///     default_idp: Some(Idp::Saml),
/// };
/// let facts = Facts {
///     path: "/",
///     client_ip: "10.1.2.3".parse().unwrap(),
///     accepts_html: true,
///     session: SessionFact::None,
///     identified_as: None,
///     forward_auth: None,
///     cookie_conflict: false,
/// };
/// let d = decide(&policy, &facts);
/// assert_eq!(d.action, Action::Sso(Idp::Saml));
/// assert_eq!(d.rule, Rule::Netmasks);
/// ```
pub fn decide(policy: &TenantPolicy, facts: &Facts<'_>) -> Decision {
    run(policy, facts, &mut |_| {})
}

/// Decides one request and records the rule chain that led there.
pub fn decide_traced(policy: &TenantPolicy, facts: &Facts<'_>, trace: &mut Vec<Step>) -> Decision {
    run(policy, facts, &mut |s| trace.push(s))
}

fn run<F: FnMut(Step)>(p: &TenantPolicy, f: &Facts<'_>, trace: &mut F) -> Decision {
    let d = rules(p, f, trace);
    match d.action {
        Action::SignInPage | Action::Sso(_) if f.cookie_conflict => Decision {
            action: Action::CookieConflict,
            rule: d.rule,
            reason: "someone must sign in, but a sign-in cookie came twice (perhaps planted by a sibling site): signing in again would not help while both stay",
        },
        _ => d,
    }
}

fn rules<F: FnMut(Step)>(p: &TenantPolicy, f: &Facts<'_>, trace: &mut F) -> Decision {
    let mut pass = |rule, note| {
        trace(Step {
            rule,
            applied: false,
            note,
        })
    };

    // 1. Reserved path.
    if is_reserved(f.path) {
        return applied(
            trace,
            Action::Answer,
            Rule::ReservedPath,
            "the path is under /.portero/",
        );
    }
    pass(Rule::ReservedPath, "not a /.portero/ path");

    // 2. Bypass path.
    if p.bypass_paths.matches(f.path) {
        return applied(
            trace,
            Action::ForwardBypass,
            Rule::BypassPath,
            "the path is under one of the tenant's bypass_paths: forwarded without identity",
        );
    }
    pass(Rule::BypassPath, "not under any bypass_paths");

    // 3. Valid session.
    match f.session {
        SessionFact::Member => {
            return applied(
                trace,
                Action::ForwardIdentity,
                Rule::ValidSession,
                "a valid session of a member of this account: forwarded with identity headers",
            )
        }
        SessionFact::NotMember => {
            return applied(
                trace,
                Action::Forbidden,
                Rule::ValidSession,
                "a valid session, but the user has no membership in this account",
            )
        }
        SessionFact::NoAccountChosen => {
            return applied(
                trace,
                Action::PickAccount,
                Rule::ValidSession,
                "a valid session, but no account is picked yet",
            )
        }
        SessionFact::MembershipUnknown => {
            return applied(
                trace,
                Action::MembersUnavailable,
                Rule::ValidSession,
                "a valid session, but the membership source cannot answer now",
            )
        }
        SessionFact::None => pass(Rule::ValidSession, "no valid session"),
    }

    let admin_path = p.admin_paths.matches(f.path);
    let identified = f.identified_as;
    let super_admin = p.superadmin_bypass && identified.is_some_and(|e| p.super_admins.contains(e));
    let classic_user = identified.is_some_and(|e| p.classic_users.contains(e));

    // 4. Forced external SSO: overrides every login method but rule 5's break-glass.
    let forced_exempt = p.forced_external && p.superadmin_bypass && admin_path;
    if p.forced_external && !forced_exempt {
        return sent_to(
            trace,
            f,
            Some(Idp::External),
            Rule::ForcedExternalSso,
            "forced external SSO: everyone goes to the external sign-in page",
        );
    }
    pass(
        Rule::ForcedExternalSso,
        if forced_exempt {
            "forced external SSO, but this is an admin path and superadmin_bypass is on: rule 5 first"
        } else {
            "external SSO is not forced"
        },
    );

    // 5. Admin paths: identifier first; super-admins get the classic login.
    if admin_path {
        match identified {
            None => {
                if !f.follows_redirects() {
                    return applied(
                        trace,
                        Action::Unauthorized,
                        Rule::AdminPath,
                        "an admin path needs the identifier-first page, and the client is not a browser",
                    );
                }
                return applied(
                    trace,
                    Action::SignInPage,
                    Rule::AdminPath,
                    "an admin path: the identifier-first page asks who this is",
                );
            }
            Some(_) if super_admin => return applied(
                trace,
                Action::Classic(ClassicReason::SuperAdmin),
                Rule::AdminPath,
                "a super-admin on an admin path: the panel's classic login, whatever the netmask",
            ),
            Some(_) if classic_user => {
                return applied(
                    trace,
                    Action::Classic(ClassicReason::ClassicUser),
                    Rule::AdminPath,
                    "a user the IdP does not manage: the panel's classic login",
                )
            }
            Some(_) if forced_exempt => {
                return sent_to(
                    trace,
                    f,
                    Some(Idp::External),
                    Rule::ForcedExternalSso,
                    "not a super-admin, and external SSO is forced",
                )
            }
            Some(_) => pass(
                Rule::AdminPath,
                "an admin path, but not a super-admin: rules 6 and 7 decide",
            ),
        }
    } else {
        pass(Rule::AdminPath, "not under any admin_paths");
    }

    // 6. Tenant with netmasks.
    if !p.netmasks.is_empty() {
        if classic_user {
            return applied(
                trace,
                Action::Classic(ClassicReason::ClassicUser),
                Rule::Netmasks,
                "a user the IdP does not manage: the panel's classic login",
            );
        }
        if p.netmasks.contains(f.client_ip) {
            return sent_to(
                trace,
                f,
                p.default_idp,
                Rule::Netmasks,
                "the client address is inside a netmask of the tenant: sent to SSO",
            )
            .with_mode(p.sso_mode, f);
        }
        return applied(
            trace,
            Action::Classic(ClassicReason::OutsideNetmasks),
            Rule::Netmasks,
            "the client address is outside every netmask of the tenant: the panel's classic login",
        );
    }
    pass(Rule::Netmasks, "the tenant has no netmasks");

    // 7. Tenant without netmasks.
    if super_admin {
        return applied(
            trace,
            Action::Classic(ClassicReason::SuperAdmin),
            Rule::NoNetmasks,
            "a super-admin who identified themselves: the panel's classic login",
        );
    }
    if classic_user {
        return applied(
            trace,
            Action::Classic(ClassicReason::ClassicUser),
            Rule::NoNetmasks,
            "a user the IdP does not manage: the panel's classic login",
        );
    }
    sent_to(
        trace,
        f,
        p.default_idp,
        Rule::NoNetmasks,
        "no netmasks: everyone is sent to SSO",
    )
    .with_mode(p.sso_mode, f)
}

fn applied<F: FnMut(Step)>(
    trace: &mut F,
    action: Action,
    rule: Rule,
    reason: &'static str,
) -> Decision {
    trace(Step {
        rule,
        applied: true,
        note: reason,
    });
    Decision {
        action,
        rule,
        reason,
    }
}

/// "Sent to SSO": a 401 for clients that cannot follow a redirect, an
/// error page without an IdP (a 401 for forward-auth, whose proxy passes
/// no such page on), straight to the IdP once the visitor identified, else
/// per `sso_mode` (applied by [`Decision::with_mode`] so the forced rule
/// can skip it).
fn sent_to<F: FnMut(Step)>(
    trace: &mut F,
    f: &Facts<'_>,
    idp: Option<Idp>,
    rule: Rule,
    reason: &'static str,
) -> Decision {
    let action = if !f.follows_redirects() {
        Action::Unauthorized
    } else {
        match idp {
            None if f.forward_auth.is_some() => Action::Unauthorized,
            None => Action::NoIdp,
            Some(idp) => Action::Sso(idp),
        }
    };
    applied(trace, action, rule, reason)
}

impl Decision {
    /// Shows the sign-in page instead of going straight to the IdP, where
    /// the tenant's `sso_mode` asks for one and the visitor has not
    /// identified yet.
    fn with_mode(self, mode: SsoMode, f: &Facts<'_>) -> Decision {
        match self.action {
            Action::Sso(_) if mode != SsoMode::AutoRedirect && f.identified_as.is_none() => {
                Decision {
                    action: Action::SignInPage,
                    ..self
                }
            }
            _ => self,
        }
    }
}
