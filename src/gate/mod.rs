//! The way of one request: facts → [`portero_policy::decide`] → a
//! [`Verdict`]: forward to the panel (with or without identity headers),
//! a reserved path for Portero to answer, or one of the refusals and
//! sign-in redirects, each with the policy's rule and reason. The gate
//! renders nothing: [`crate::web::respond`] turns a verdict into a reply.
//! It awaits what it must ask itself (the panel's membership endpoint).

use crate::audit::Event;
use crate::config::{Config, Tenant};
use crate::facts::{self, Authority, BadHost, BadPath};
pub use crate::identity::IdentityHeaders;
use crate::identity::{AssertionClaims, Identity, SignedFor};
use crate::lang::Lang;
use crate::members::{self, Source};
use crate::membership::panel::PanelEndpoint;
use crate::membership::{AccountRule, Membership};
use crate::session::{ClassicClaims, Refusal, SessionClaims};
use crate::state::State;
use portero_policy::{Action, Decision, Facts, ForwardAuth, Idp, SessionFact};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

mod session;
pub use session::{entering, entering_from, session_fact, Entering, SessionView};
use session::{read_classic, read_session, refused_cookie};

/// What the gate reads of a request. Borrowed from the proxy's request
/// header; tests build one by hand.
#[derive(Debug, Clone, Default)]
pub struct RequestView<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path as sent (no query).
    pub path: &'a str,
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// The `Host` header as sent (or the HTTP/2 `:authority` when there is
    /// no `Host`), port included; empty when neither.
    pub authority: &'a str,
    /// The host the request target itself names: an absolute-form target's
    /// authority, or HTTP/2 `:authority`. It must agree with `authority`.
    pub target_authority: Option<&'a str>,
    /// Whether the request carried more than one `Host` header.
    pub duplicate_host: bool,
    /// Whether the client used TLS: Portero's TLS listener, or a trusted
    /// proxy's `X-Forwarded-Proto: https` (the scheme of the pages,
    /// cookies and origin checks).
    pub tls: bool,
    /// The TCP peer.
    pub peer: Option<IpAddr>,
    /// Every `X-Forwarded-For` value.
    pub forwarded_for: Vec<&'a str>,
    /// `Accept`.
    pub accept: Option<&'a str>,
    /// `X-Requested-With`.
    pub requested_with: Option<&'a str>,
    /// Every `Cookie` header value.
    pub cookies: Vec<&'a str>,
    /// `Origin`, checked on POSTs to Portero's own forms.
    pub origin: Option<&'a str>,
    /// `Referer`, checked on those POSTs when there is no `Origin`.
    pub referer: Option<&'a str>,
    /// `X-Forwarded-Uri` (Traefik) for forward-auth.
    pub forwarded_uri: Option<&'a str>,
    /// `X-Original-URI` (nginx `auth_request`) for forward-auth.
    pub original_uri: Option<&'a str>,
    /// `X-Forwarded-Host`: the host a forward-auth sub-request asks about
    /// (Traefik sends its own address as `Host`).
    pub forwarded_host: Option<&'a str>,
    /// Whether the request carried more than one `X-Forwarded-Host`.
    pub duplicate_forwarded_host: bool,
    /// `Accept-Language` (the language of Portero's pages).
    pub accept_language: Option<&'a str>,
    /// The body, read only for POSTs to reserved paths.
    pub body: &'a [u8],
    /// `Content-Type` (a form body must be URL-encoded UTF-8).
    pub content_type: Option<&'a str>,
}

/// What the gate concluded.
#[derive(Debug)]
pub enum Outcome {
    /// The `Host` is missing, repeated, malformed or disagrees with the target.
    BadHost(BadHost),
    /// No tenant serves this host.
    UnknownHost,
    /// The path is refused before any rule.
    BadPath(BadPath),
    /// Rule 1: a reserved path; Portero answers it.
    Reserved,
    /// Forward to the tenant's panel; `identity` is `None` for bypass paths
    /// and the classic login.
    Forward {
        /// Headers that say who this is.
        identity: Option<IdentityHeaders>,
    },
    /// Signed in, but not a member of the account entered.
    Forbidden {
        /// The session's e-mail.
        user: String,
        /// The account entered.
        account: String,
    },
    /// The membership source cannot answer now.
    MembersUnavailable,
    /// A tenant with an account picker, and no account chosen yet.
    PickAccount,
    /// The request carried a session or classic-login cookie twice (one may
    /// be planted): signing in again would not help.
    CookieConflict,
    /// To the sign-in page.
    SignInPage,
    /// Straight to an identity provider.
    Sso(Idp),
    /// Single sign-on is required but no provider is configured.
    NoIdp,
    /// Refused (a network that may not sign in here).
    Unauthorized,
    /// A contradiction the code rules out; refused rather than forwarded.
    InternalError,
}

/// The gate's verdict on one request, with what the layers above need to
/// carry it out.
#[derive(Debug)]
pub struct Verdict<'r> {
    /// The tenant's index in the configuration, when the host is known.
    pub tenant: Option<usize>,
    /// Whether the TCP peer is a trusted proxy.
    pub peer_trusted: bool,
    /// The language of the pages for this request.
    pub lang: Lang,
    /// The client address the rules used, once the host is known.
    pub client_ip: Option<IpAddr>,
    /// The request's facts, once its host and path are judged.
    pub seen: Option<Seen<'r>>,
    /// The policy's decision (rule and reason), when the rules ran.
    pub decision: Option<Decision>,
    /// A label for metrics and logs.
    pub label: &'static str,
    /// What to do.
    pub outcome: Outcome,
}

impl Verdict<'_> {
    /// The request's host in its one normalised spelling (what the panel
    /// receives as `Host` and `X-Forwarded-Host`), once the host is known.
    pub fn authority(&self) -> Option<&Authority> {
        self.seen.as_ref().map(|s| &s.authority)
    }

    /// The rule that decided, for logs (`-` before the rules ran).
    pub fn rule(&self) -> &'static str {
        self.decision.as_ref().map_or("-", |d| d.rule.name())
    }

    /// Why, for logs (`-` before the rules ran).
    pub fn reason(&self) -> &'static str {
        self.decision.as_ref().map_or("-", |d| d.reason)
    }
}

/// A request's facts as the handlers of reserved paths need them.
#[derive(Debug)]
pub struct Seen<'r> {
    /// The request.
    pub req: &'r RequestView<'r>,
    /// The tenant's index.
    pub tenant_index: usize,
    /// The host and port, normalised ([`Authority`]).
    pub authority: Authority,
    /// The path the rules match on (decoded once; borrowed when nothing was encoded).
    pub path: Cow<'r, str>,
    /// The client address.
    pub client_ip: IpAddr,
    /// Whether the peer is a trusted proxy.
    pub peer_trusted: bool,
    /// Whether the client is a browser (`Accept` names `text/html`).
    pub accepts_html: bool,
    /// `Some` when this is the request a forward-auth sub-request judges
    /// (see [`crate::web`]'s `/.portero/auth`).
    pub forward_auth: Option<ForwardAuth>,
    /// The session, when one is valid.
    pub session: Option<Arc<SessionClaims>>,
    /// The e-mail kept in the classic-login cookie.
    pub identified_as: Option<String>,
    /// The request carried a session or classic-login cookie twice (one
    /// may be planted): neither was believed.
    pub cookie_conflict: bool,
    /// The language of the pages (the tenant's, else the browser's).
    pub lang: Lang,
}

impl Seen<'_> {
    /// The host, lower-case without port.
    pub fn host(&self) -> &str {
        self.authority.host()
    }

    /// `https` or `http`, as the client reached us.
    pub fn scheme(&self) -> &'static str {
        if self.req.tls {
            "https"
        } else {
            "http"
        }
    }

    /// The path and query as sent, for `return_to`.
    pub fn path_and_query(&self) -> String {
        match self.req.query {
            Some(q) => format!("{}?{}", self.req.path, q),
            None => self.req.path.to_string(),
        }
    }

    /// This host's origin, `scheme://authority` (normalised).
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme(), self.authority)
    }

    /// Whether the client can be sent to a page by a redirect
    /// ([`portero_policy::follows_redirects`]).
    pub fn follows_redirects(&self) -> bool {
        portero_policy::follows_redirects(self.accepts_html, self.forward_auth)
    }

    /// The facts the policy decides this request on, with the session's
    /// fact ([`session_fact`]).
    pub fn facts(&self, session: SessionFact) -> Facts<'_> {
        Facts {
            path: &self.path,
            client_ip: self.client_ip,
            accepts_html: self.accepts_html,
            session,
            identified_as: self.identified_as.as_deref(),
            forward_auth: self.forward_auth,
            cookie_conflict: self.cookie_conflict,
        }
    }
}

/// Runs the whole gate for one request.
pub async fn evaluate<'r>(state: &State, cfg: &Config, req: &'r RequestView<'r>) -> Verdict<'r> {
    let peer = req
        .peer
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
        .to_canonical();
    let peer_trusted = cfg.server.trusted_proxies.contains(peer);
    let mut v = Verdict {
        tenant: None,
        peer_trusted,
        lang: Lang::from_accept_language(req.accept_language),
        client_ip: None,
        seen: None,
        decision: None,
        label: "unknown_host",
        outcome: Outcome::UnknownHost,
    };
    let (sent, target, duplicate) = host_judged(req, peer_trusted);
    let authority = match facts::request_authority(sent, target, duplicate) {
        Ok(a) => a,
        Err(bad) => {
            v.label = "bad_host";
            v.outcome = Outcome::BadHost(bad);
            return v;
        }
    };
    let Some(&tenant_index) = cfg.hosts.lookup(authority.host()) else {
        return v;
    };
    let Some(tenant) = cfg.tenant(tenant_index) else {
        return v;
    };
    v.tenant = Some(tenant_index);
    v.lang = tenant.language.unwrap_or(v.lang);
    let client_ip = facts::client_ip(peer, &req.forwarded_for, &cfg.server.trusted_proxies);
    v.client_ip = Some(client_ip);
    let path = match judged_path(tenant, req.path) {
        Ok(p) => p,
        Err(bad) => {
            v.label = "bad_path";
            v.outcome = Outcome::BadPath(bad);
            return v;
        }
    };
    let now = state.now();
    let (session_cookie, classic_cookie) = crate::session::own_cookie_values(
        &req.cookies,
        cfg.session.session_name(req.tls),
        cfg.session.classic_name(req.tls),
    );
    let session = read_session(state, cfg, tenant, session_cookie, client_ip, now);
    let identified_as = read_classic(cfg, tenant, classic_cookie, now);
    let cookie_conflict = matches!(session, Err(Refusal::Ambiguous)) || identified_as.is_err();
    if identified_as.is_err() {
        refused_cookie(state, tenant, client_ip, Refusal::Ambiguous);
    }
    let seen = Seen {
        req,
        tenant_index,
        authority,
        path,
        client_ip,
        peer_trusted,
        accepts_html: facts::accepts_html(req.accept, req.requested_with),
        forward_auth: None,
        session: session.ok(),
        identified_as: identified_as.ok().flatten(),
        cookie_conflict,
        lang: v.lang,
    };
    let ruling = rule_on(state, cfg, tenant, &seen).await;
    v.label = ruling.label;
    v.decision = Some(ruling.decision);
    v.outcome = ruling.outcome;
    v.seen = Some(seen);
    v
}

/// The host a request is judged by, with the target's authority and
/// whether it came twice: its `Host`, except on a forward-auth
/// sub-request from a trusted proxy that names the asked-about host in
/// `X-Forwarded-Host` (Traefik addresses Portero itself in `Host`; nginx
/// and Caddy send both alike). The target then names Portero, not the host
/// asked about, and is not compared.
fn host_judged<'r>(req: &RequestView<'r>, peer_trusted: bool) -> (&'r str, Option<&'r str>, bool) {
    match req.forwarded_host {
        Some(host) if peer_trusted && req.path.trim_end_matches('/') == FORWARD_AUTH_PATH => {
            (host, None, req.duplicate_forwarded_host)
        }
        _ => (req.authority, req.target_authority, req.duplicate_host),
    }
}

/// The forward-auth endpoint ([`crate::web`]'s `/.portero/auth`).
pub const FORWARD_AUTH_PATH: &str = "/.portero/auth";

/// The path the rules judge ([`facts::decision_path`]), refused as well
/// when its `;` path parameters would move it under other rules of this
/// tenant: with them dropped (Tomcat, Jetty, Spring) or kept (most other
/// servers) it must be the same bypass, admin or reserved path, or not.
pub fn judged_path<'p>(tenant: &Tenant, raw: &'p str) -> Result<Cow<'p, str>, BadPath> {
    let path = facts::decision_path(raw)?;
    if let Some(dropped) = facts::without_path_parameters(&path) {
        if !tenant.policy.routes_alike(&path, &dropped) {
            return Err(BadPath::AmbiguousParameters);
        }
    }
    Ok(path)
}

/// Rules 1–7 applied to a request whose facts are known.
#[derive(Debug)]
pub struct Ruling {
    /// A label for metrics and logs.
    pub label: &'static str,
    /// The policy's decision.
    pub decision: Decision,
    /// The session's fact it was decided on.
    pub session: SessionFact,
    /// What to do.
    pub outcome: Outcome,
}

/// Rules 1–7 for a request whose facts are known. A session entering an
/// account whose membership comes from the panel's endpoint waits for
/// that endpoint first (once; then it is in the cache).
pub async fn rule_on(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Ruling {
    let mut account = seen
        .session
        .as_ref()
        .map(|s| entering(state, tenant, seen, s));
    let mut asked_panel = false;
    if let (Some(Entering::Fetch(endpoint)), Some(s)) = (&account, &seen.session) {
        asked_panel = true;
        let answered = endpoint
            .fetch(&cfg.server.outbound, s.user(), state.now())
            .await;
        state
            .metrics
            .member_fetches
            .with_label_values(&[tenant.name.as_str(), if answered { "ok" } else { "failed" }])
            .inc();
        account = match entering(state, tenant, seen, s) {
            // Still not known: the endpoint failed and nothing is cached.
            Entering::Fetch(_) => Some(Entering::Unavailable),
            known => Some(known),
        };
    }
    let ruling = ruling_for(state, cfg, tenant, seen, account);
    if matches!(ruling.outcome, Outcome::Forward { identity: Some(_) })
        && matches!(tenant.members, crate::membership::MemberSource::Panel(_))
    {
        state.metrics.panel_members(!asked_panel).inc();
    }
    ruling
}

fn ruling_for(
    state: &State,
    cfg: &Config,
    tenant: &Tenant,
    seen: &Seen<'_>,
    entering: Option<Entering>,
) -> Ruling {
    let facts = seen.facts(session_fact(entering.as_ref()));
    let decision = portero_policy::decide(&tenant.policy, &facts);
    let (label, outcome) = match decision.action {
        Action::Answer => ("portero", Outcome::Reserved),
        Action::ForwardBypass => ("bypass", Outcome::Forward { identity: None }),
        Action::Classic(_) => ("classic", Outcome::Forward { identity: None }),
        Action::ForwardIdentity => match (&seen.session, entering) {
            (
                Some(claims),
                Some(Entering::Member {
                    membership: m,
                    name,
                }),
            ) => {
                // The membership's content is part of the key: a change of
                // permissions, impersonation or name signs afresh at once.
                let signed_for = SignedFor {
                    tenant: tenant.generation,
                    sid: claims.sid(),
                    user: claims.user(),
                    account: &m.account,
                    permissions: m.permissions,
                    impersonate: m.impersonate.as_deref(),
                    name: name.as_deref().or(claims.name()),
                };
                let (headers, reused) =
                    cfg.signed
                        .get_or_sign_counted(signed_for, state.now(), |now| {
                            identity_headers(cfg, tenant, claims, &m, name.as_deref(), now)
                        });
                state.metrics.signed_identity(reused).inc();
                (
                    "forward_identity",
                    Outcome::Forward {
                        identity: Some(headers),
                    },
                )
            }
            // Unreachable by construction; refuse rather than forward unsigned.
            _ => ("internal_error", Outcome::InternalError),
        },
        Action::Forbidden => {
            let account = match entering {
                Some(Entering::NotMember(a)) => a,
                _ => String::new(),
            };
            let user = seen
                .session
                .as_ref()
                .map(|s| s.email().to_string())
                .unwrap_or_default();
            ("forbidden", Outcome::Forbidden { user, account })
        }
        Action::PickAccount => ("pick_account", Outcome::PickAccount),
        Action::MembersUnavailable => ("members_unavailable", Outcome::MembersUnavailable),
        Action::CookieConflict => ("cookie_conflict", Outcome::CookieConflict),
        Action::SignInPage => ("sign_in", Outcome::SignInPage),
        Action::Sso(idp) => ("sso", Outcome::Sso(idp)),
        Action::NoIdp => ("no_idp", Outcome::NoIdp),
        Action::Unauthorized => ("unauthorized", Outcome::Unauthorized),
    };
    Ruling {
        label,
        decision,
        session: facts.session,
        outcome,
    }
}

/// Builds the identity headers and signs the assertion for a member (the
/// hot path reuses them through [`Config::signed`]). `chosen_name`, the
/// directory's name that wins over the session's ([`Entering::Member`]),
/// is the display name when given; else the session's.
pub fn identity_headers(
    cfg: &Config,
    tenant: &Tenant,
    s: &SessionClaims,
    m: &Membership,
    chosen_name: Option<&str>,
    now: u64,
) -> IdentityHeaders {
    let name = chosen_name.or(s.name());
    let claims = AssertionClaims {
        iss: "portero",
        aud: &tenant.name,
        sub: s.user(),
        email: s.email(),
        name,
        tenant: &tenant.name,
        account: &m.account,
        permissions: m.permissions.iter().map(|p| p.as_str()).collect(),
        impersonate: m.impersonate.as_deref(),
        auth: s.method().as_str(),
        iat: now,
        exp: now + cfg.assertion.ttl,
    };
    let assertion = cfg.assertion.sign(&claims).unwrap_or_default();
    Arc::from(tenant.headers.pairs(&Identity {
        user: s.user(),
        email: s.email(),
        name,
        tenant: &tenant.name,
        account: &m.account,
        permissions: &m.permissions_header,
        impersonate: m.impersonate.as_deref(),
        auth: s.method().as_str(),
        assertion: &assertion,
    }))
}
