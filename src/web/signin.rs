//! Signing in and out: the identifier-first page, SSO starts, the external
//! SSO hand-back, and logout.

use super::idp_label;
use super::pages::{self, query_encode, SignInForm, SsoButton};
use super::{no_idp, read_form, read_query, return_to, same_origin, tenant_page, to_idp, Reply};
use crate::audit::Event;
use crate::auth::external_jwt::{random_state, ExternalSso, Refused, Started};
use crate::auth::{normalize_email, AuthMethod, OnceId, VerifiedLogin};
use crate::config::{Config, Tenant};
use crate::facts;
use crate::gate::Seen;
use crate::session::{
    classic_cookie, clear_cookie, session_cookie, ClassicClaims, Ending, SessionClaims,
};
use crate::state::State;
use portero_policy::{decide, Action, ClassicReason, Facts, Idp, Rule, SessionFact, SsoMode};

/// `GET /.portero/login?return_to=…`: the sign-in page.
pub fn login_page(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    let query = match read_query(tenant, seen) {
        Ok(q) => q,
        Err(bad) => return bad,
    };
    let return_to = return_to::sanitize(query.get("return_to"), cfg, seen.tenant_index).to_string();
    if seen.session.is_some() {
        return Reply::redirect(&return_to);
    }
    let target = target_path(&return_to);
    let d = decide(&tenant.policy, &facts_for(seen, &target, None));
    if d.rule == Rule::ForcedExternalSso {
        return to_idp(state, tenant, seen, Idp::External, &return_to, None);
    }
    render(tenant, &return_to, &target, "", None, 200)
}

/// `POST /.portero/login` with `email` and `return_to`: routes by the e-mail.
pub fn login_submit(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    if !same_origin(seen) {
        return cross_site(tenant);
    }
    let form = match read_form(tenant, seen) {
        Ok(f) => f,
        Err(bad) => return bad,
    };
    let return_to = return_to::sanitize(form.get("return_to"), cfg, seen.tenant_index).to_string();
    let target = target_path(&return_to);
    let typed = form.owned("email").unwrap_or_default();
    let Some(email) = normalize_email(&typed) else {
        return render(
            tenant,
            &return_to,
            &target,
            &typed,
            Some("Enter a valid e-mail address."),
            400,
        );
    };
    let d = decide(&tenant.policy, &facts_for(seen, &target, Some(&email)));
    match d.action {
        Action::Classic(reason) => {
            let (event, why) = match reason {
                ClassicReason::SuperAdmin => (
                    Event::SuperadminBypass,
                    "super-admin identified on the sign-in page",
                ),
                ClassicReason::ClassicUser => (
                    Event::ClassicLogin,
                    "classic user identified on the sign-in page",
                ),
                ClassicReason::OutsideNetmasks => {
                    (Event::ClassicLogin, "client outside the tenant's netmasks")
                }
            };
            state.audit(&tenant.name, event, Some(&email), Some(seen.client_ip), why);
            let now = state.now();
            let claims = ClassicClaims {
                tenant: tenant.name.clone(),
                email,
                expires: now + cfg.session.classic_ttl,
            };
            let Some(sealed) = claims.seal(&cfg.session.sealer) else {
                return Reply::html(500, super::internal_error_page());
            };
            Reply::redirect(&return_to).cookie(&classic_cookie(
                cfg.session.classic_name(seen.req.tls),
                &sealed,
                seen.req.tls,
                cfg.session.classic_ttl,
            ))
        }
        Action::Sso(idp) => to_idp(state, tenant, seen, idp, &return_to, Some(&email)),
        Action::SignInPage => match tenant.policy.default_idp {
            Some(idp) => to_idp(state, tenant, seen, idp, &return_to, Some(&email)),
            None => no_idp(tenant),
        },
        Action::NoIdp => no_idp(tenant),
        Action::Answer => own_page_sign_in(state, tenant, seen, &return_to, &email),
        _ => Reply::redirect(&return_to),
    }
}

/// The e-mail was typed on the way to one of Portero's own pages (an
/// invitation link, the accounts page): they need a session, which only SSO
/// makes, so the visitor goes to the tenant's IdP and comes back — never
/// back to the page that sent them here (a loop). The classic login is no
/// way into these pages.
fn own_page_sign_in(
    state: &State,
    tenant: &Tenant,
    seen: &Seen<'_>,
    return_to: &str,
    email: &str,
) -> Reply {
    let idp = if tenant.policy.forced_external {
        Some(Idp::External)
    } else {
        tenant.policy.default_idp
    };
    match idp {
        Some(idp) => to_idp(state, tenant, seen, idp, return_to, Some(email)),
        None => no_idp(tenant),
    }
}

/// `GET /.portero/sso/{saml,oidc,external}?return_to=…`: start SSO now.
pub fn start_sso(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>, idp: Idp) -> Reply {
    if !tenant.idps.contains(&idp) {
        return super::not_configured(tenant, idp);
    }
    let query = match read_query(tenant, seen) {
        Ok(q) => q,
        Err(bad) => return bad,
    };
    let hint = query.get("login_hint").and_then(normalize_email);
    let return_to = return_to::sanitize(query.get("return_to"), cfg, seen.tenant_index);
    // Forced external SSO overrides every other login method, SSO buttons included.
    let idp = if tenant.policy.forced_external {
        Idp::External
    } else {
        idp
    };
    to_idp(state, tenant, seen, idp, return_to, hint.as_deref())
}

/// The cookie that binds a started external sign-in to its browser.
pub const JWT_FLOW_COOKIE: &str = "portero_jwt";

/// How long a started external sign-in waits for the hand-back.
const EXTERNAL_PENDING_FOR: std::time::Duration = std::time::Duration::from_secs(600);

/// `302` to the tenant's external sign-in page with `return_to` (absolute,
/// so the page knows the host to hand back to) and `state`, remembering
/// the sign-in server-side and binding it to this browser by a cookie.
pub fn to_external(
    tenant: &Tenant,
    ext: &ExternalSso,
    seen: &Seen<'_>,
    return_to: &str,
    login_hint: Option<&str>,
) -> Reply {
    let Some(flow) = random_state() else {
        return Reply::html(500, super::internal_error_page());
    };
    let absolute = if return_to.starts_with('/') {
        format!("{}{}", seen.origin(), return_to)
    } else {
        return_to.to_string()
    };
    let mut url = ext.redirect_url(&absolute, &flow);
    if let Some(hint) = login_hint {
        url.push_str("&login_hint=");
        url.push_str(&query_encode(hint));
    }
    let started = Started {
        tenant: tenant.name.clone(),
        state: flow.clone(),
        return_to: return_to.to_string(),
    };
    // The hand-back is a top-level GET redirect: SameSite=Lax cookies go with it.
    let secure = if seen.req.tls { "; Secure" } else { "" };
    Reply::redirect(&url)
        .cookie(&format!(
            "{JWT_FLOW_COOKIE}={flow}; Path=/.portero/jwt; Max-Age=600; HttpOnly; SameSite=Lax{secure}"
        ))
        .remember(
            format!("ext:{flow}"),
            &started,
            EXTERNAL_PENDING_FOR,
            seen.client_ip,
        )
}

/// `GET /.portero/jwt/callback?jwt=…&return_to=…&state=…`: the external
/// page's hand-back. The token is verified here; the started sign-in it
/// belongs to is taken out and its `jti` claimed in the one-time store
/// (which may be Redis) by [`finish_jwt`].
pub fn jwt_callback(
    state: &State,
    cfg: &Config,
    tenant: &Tenant,
    seen: &Seen<'_>,
) -> Result<JwtSignIn, Reply> {
    let Some(ext) = &tenant.external_sso else {
        return Err(start_sso(state, cfg, tenant, seen, Idp::External));
    };
    let query = read_query(tenant, seen)?;
    let return_to = return_to::sanitize(query.get("return_to"), cfg, seen.tenant_index).to_string();
    let token = query.owned("jwt").unwrap_or_default();
    let visitor = Visitor::of(seen);
    match ext.verify(&tenant.name, &token, state.now()) {
        Err(refused) => {
            Err(refuse_jwt(state, tenant, visitor, &return_to, &refused).cookie(&clear_jwt_flow()))
        }
        Ok((login, once)) => Ok(JwtSignIn {
            tenant: tenant.name.clone(),
            login,
            once,
            return_to,
            flow: query.owned("state").filter(|s| !s.is_empty()),
            flow_cookies: crate::session::find_cookie_values(
                seen.req.cookies.iter().copied(),
                JWT_FLOW_COOKIE,
            )
            .map(str::to_string)
            .collect(),
            visitor,
        }),
    }
}

/// A verified hand-back token whose started sign-in is yet to be found and
/// whose `jti` is yet to be claimed.
#[derive(Debug)]
pub struct JwtSignIn {
    tenant: String,
    login: VerifiedLogin,
    once: OnceId,
    /// The `return_to` handed back (sanitised), used only for an
    /// unsolicited hand-back the tenant allows.
    return_to: String,
    /// The `state` handed back, when the page returns it.
    flow: Option<String>,
    /// The browser's started sign-ins (cookie values).
    flow_cookies: Vec<String>,
    visitor: Visitor,
}

/// Takes out the sign-in this browser started (by the `state` handed back,
/// or, for a page that does not return it, by the browser's cookie),
/// checks it is this tenant's and this browser's, claims the token's `jti`
/// (a replay is refused; a store that cannot be reached refuses too), then
/// signs in and goes where the started sign-in said.
pub async fn finish_jwt(state: &State, cfg: &Config, job: JwtSignIn) -> Reply {
    let Some((index, tenant)) = cfg.tenant_and_index(&job.tenant) else {
        return Reply::html(500, super::internal_error_page());
    };
    let Some(ext) = &tenant.external_sso else {
        return super::not_configured(tenant, Idp::External);
    };
    let lang = job.visitor.lang;
    let store_down = |e| {
        super::i18n::scope(lang, || {
            super::shared_store_down(state, tenant, "external SSO token not checked", &e)
        })
    };
    let id = job.flow.as_ref().or(job.flow_cookies.last());
    let started = match id {
        Some(id) => match state.onetime.take_started::<Started>("ext", id).await {
            Ok(s) => s,
            Err(e) => return store_down(e),
        },
        None => None,
    };
    let bound = bound_return_to(&job, tenant, ext.allow_idp_initiated, started);
    let first = match &bound {
        Ok(_) => Some(state.onetime.first_use(&job.once.key, job.once.ttl).await),
        Err(_) => None,
    };
    super::i18n::scope(lang, || {
        let reply = match (bound, first) {
            (Err(refused), _) => refuse_jwt(state, tenant, job.visitor, &job.return_to, &refused),
            (Ok(back), Some(Ok(true))) => {
                let back = return_to::sanitize(Some(&back), cfg, index);
                complete(
                    state,
                    cfg,
                    tenant,
                    job.visitor,
                    &job.login,
                    back,
                    "external SSO (jwt)",
                )
            }
            (Ok(_), Some(Err(e))) => {
                super::shared_store_down(state, tenant, "external SSO token not checked", &e)
            }
            (Ok(_), _) => refuse_jwt(
                state,
                tenant,
                job.visitor,
                &job.return_to,
                &Refused::Replayed,
            ),
        };
        reply.cookie(&clear_jwt_flow())
    })
}

/// Where a hand-back leads, if it is bound to a sign-in this browser
/// started for this tenant (or is an unsolicited one the tenant allows).
fn bound_return_to(
    job: &JwtSignIn,
    tenant: &Tenant,
    allow_idp_initiated: bool,
    started: Option<Started>,
) -> Result<String, Refused> {
    match started {
        Some(s) if s.tenant != tenant.name => Err(Refused::SignInOfAnotherTenant),
        Some(s) if !job.flow_cookies.contains(&s.state) => Err(Refused::StateNotThisBrowser),
        Some(s) => Ok(s.return_to),
        // A `state` that names nothing is never unsolicited.
        None if job.flow.is_some() => Err(Refused::UnknownOrUsedSignIn),
        None if allow_idp_initiated => Ok(job.return_to.clone()),
        None if !job.flow_cookies.is_empty() => Err(Refused::UnknownOrUsedSignIn),
        None => Err(Refused::NotStartedHere),
    }
}

/// Ends the browser's started external sign-in.
fn clear_jwt_flow() -> String {
    format!("{JWT_FLOW_COOKIE}=; Path=/.portero/jwt; Max-Age=0; HttpOnly")
}

/// Refuses a hand-back token: metric, audit line, 401 page with the reason.
fn refuse_jwt(
    state: &State,
    tenant: &Tenant,
    visitor: Visitor,
    return_to: &str,
    refused: &Refused,
) -> Reply {
    state.metrics.refused("external_jwt", refused.as_str());
    let reason = format!("external SSO token refused: {refused}");
    state.audit(
        &tenant.name,
        Event::RefusedAssertion,
        None,
        Some(visitor.client_ip),
        &reason,
    );
    let retry = format!(
        "/.portero/sso/external?return_to={}",
        query_encode(return_to)
    );
    tenant_page(
        tenant,
        401,
        "Sign-in refused",
        &super::i18n::trf(
            "The sign-in could not be completed: {}. Nothing was signed in.",
            &[&refused.to_string()],
        ),
        &[(&retry, "Try again")],
    )
}

/// A verified sign-in, whatever the protocol: a session cookie, an audit
/// line, a metric, and the way back to `return_to`.
pub fn complete(
    state: &State,
    cfg: &Config,
    tenant: &Tenant,
    visitor: Visitor,
    login: &VerifiedLogin,
    return_to: &str,
    how: &str,
) -> Reply {
    provision(state, cfg, tenant, login);
    let claims = SessionClaims::issue(login, state.now(), None);
    let Some(sealed) = claims.seal(&cfg.session.sealer) else {
        return Reply::html(500, super::internal_error_page());
    };
    state
        .metrics
        .sign_ins
        .with_label_values(&[&tenant.name, login.method().as_str()])
        .inc();
    state.audit(
        &tenant.name,
        Event::SignIn,
        Some(login.email()),
        Some(visitor.client_ip),
        how,
    );
    let reauth = tenant.reauth.or(cfg.session.reauth);
    Reply::redirect(return_to)
        .cookie(&session_cookie(
            cfg.session.session_name(visitor.tls),
            &sealed,
            visitor.tls,
            reauth,
        ))
        .cookie(&clear_cookie(
            cfg.session.classic_name(visitor.tls),
            visitor.tls,
        ))
}

/// Just-in-time provisioning (`provision = true`, tenants on the embedded
/// store): the first sign-in through an IdP creates the user (e-mail, name,
/// username, roles); with `refresh_profile`, each one refreshes them. A store that
/// cannot be written does not stop the sign-in (it is logged).
fn provision(state: &State, cfg: &Config, tenant: &Tenant, login: &VerifiedLogin) {
    let (true, crate::members::MemberSource::Store, Some(store)) =
        (tenant.provision, &tenant.members, state.store.as_ref())
    else {
        return;
    };
    let profile = crate::store::Profile {
        email: login.email(),
        name: login.name(),
        username: login.username(),
        roles: login.roles(),
    };
    match store
        .store
        .provision(&tenant.name, &profile, state.now(), tenant.refresh_profile)
    {
        Ok(created) => {
            if created {
                state.audit(
                    &tenant.name,
                    Event::Membership,
                    Some(login.email()),
                    None,
                    "user created at first sign-in (provisioning)",
                );
            }
            if created || tenant.refresh_profile {
                if let Err(e) = store.reload_tenant(cfg, &tenant.name) {
                    tracing::error!("membership store: {e}");
                }
            }
        }
        Err(e) => tracing::error!(tenant = %tenant.name, "provisioning {}: {e}", login.email()),
    }
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
    pub lang: super::i18n::Lang,
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

/// `/.portero/logout`: ends the session server-side (its cookie, or any
/// copy of it, is refused from now on, on every node) and any classic-login
/// choice. The ending is told to the other nodes before the answer goes out
/// ([`finish_logout`]).
pub fn logout(
    state: &State,
    cfg: &Config,
    tenant: &Tenant,
    seen: &Seen<'_>,
) -> Result<Logout, Reply> {
    audit_sign_out(state, tenant, seen, "logout");
    // A SAML session of a tenant with single logout also ends at the IdP,
    // which sends the browser back to /.portero/saml/slo.
    // An OpenID Connect one goes to the provider's end-session endpoint,
    // which sends it back here.
    let at_idp = seen.session.as_ref().and_then(|s| match s.method {
        AuthMethod::Saml => {
            let sp = tenant.saml.as_ref().filter(|sp| sp.single_logout)?;
            sp.logout_url(&seen.origin(), &s.email, state.now(), "signed-out")
        }
        AuthMethod::Oidc => {
            let rp = tenant.oidc.as_ref().filter(|rp| rp.single_logout)?;
            rp.logout_url(&format!("{}/.portero/logout", seen.origin()))
        }
        AuthMethod::Jwt => None,
    });
    let (reply, local_only) = match at_idp {
        Some(url) => {
            super::saml::trace_redirect(state, tenant, "LogoutRequest sent", &url);
            (Reply::redirect(&url), None)
        }
        None => (signed_out_page(tenant), Some(signed_out_here_only(tenant))),
    };
    let clear = |r| clear_session_cookies(r, cfg, seen);
    match ending_of(cfg, tenant, seen) {
        Some(ending) => Ok(Logout {
            tenant: tenant.name.clone(),
            user: seen
                .session
                .as_ref()
                .map(|s| s.user.clone())
                .unwrap_or_default(),
            ending,
            reply: clear(reply),
            local_only: local_only.map(clear),
            visitor: Visitor::of(seen),
        }),
        None => Err(clear(reply)),
    }
}

/// A logout whose ending is yet to be told to the other nodes.
#[derive(Debug)]
pub struct Logout {
    tenant: String,
    user: String,
    ending: Ending,
    reply: Reply,
    local_only: Option<Reply>,
    visitor: Visitor,
}

/// What ends the request's session, if it has one: that session, until it
/// would have expired.
pub fn ending_of(cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Option<Ending> {
    let s = seen.session.as_ref()?;
    Some(Ending::Session {
        tenant: tenant.name.clone(),
        sid: s.sid.clone(),
        user: s.user.clone(),
        until: s.expires_at(tenant.reauth.or(cfg.session.reauth)),
    })
}

/// Ends the session (at once on this node), tells the other nodes, then
/// answers. When Redis cannot be reached the session is still ended here
/// (and the other nodes are told as soon as it answers): the log, the audit
/// line and the page say so.
pub async fn finish_logout(state: &State, job: Logout) -> Reply {
    match state.end_sessions(&job.ending).await {
        Ok(()) => job.reply,
        Err(e) => {
            tracing::error!(tenant = %job.tenant, "logout: {e}");
            state.audit(
                &job.tenant,
                Event::SignOut,
                Some(&job.user),
                Some(job.visitor.client_ip),
                &format!("logout: {e}"),
            );
            job.local_only.unwrap_or(job.reply)
        }
    }
}

/// The logout page when the other nodes could not be told yet.
fn signed_out_here_only(tenant: &Tenant) -> Reply {
    tenant_page(
        tenant,
        200,
        "You are signed out",
        "Your session has ended on this server. The other servers are told as soon as they can be reached (usually within seconds).",
        &[("/.portero/login?return_to=%2F", "Sign in again")],
    )
}

/// Audits the end of this request's session, if it had one.
pub fn audit_sign_out(state: &State, tenant: &Tenant, seen: &Seen<'_>, how: &str) {
    if let Some(s) = &seen.session {
        state.audit(
            &tenant.name,
            Event::SignOut,
            Some(&s.user),
            Some(seen.client_ip),
            how,
        );
    }
}

/// The logout landing page.
pub fn signed_out_page(tenant: &Tenant) -> Reply {
    tenant_page(
        tenant,
        200,
        "You are signed out",
        "Your session has ended.",
        &[("/.portero/login?return_to=%2F", "Sign in again")],
    )
}

/// Adds the cookies that end Portero's session and classic-login choice
/// (the names of this kind of listener; on TLS the plain names too, left
/// from before `__Host-` names or from the plain listener).
pub fn clear_session_cookies(reply: Reply, cfg: &Config, seen: &Seen<'_>) -> Reply {
    let tls = seen.req.tls;
    let reply = reply
        .cookie(&clear_cookie(cfg.session.session_name(tls), tls))
        .cookie(&clear_cookie(cfg.session.classic_name(tls), tls));
    if tls {
        reply
            .cookie(&clear_cookie(&cfg.session.cookie_name, tls))
            .cookie(&clear_cookie(&cfg.session.classic_cookie_name, tls))
    } else {
        reply
    }
}

fn facts_for<'a>(seen: &Seen<'_>, path: &'a str, identified_as: Option<&'a str>) -> Facts<'a> {
    Facts {
        path,
        client_ip: seen.client_ip,
        accepts_html: true,
        session: SessionFact::None,
        identified_as,
    }
}

/// The path a `return_to` leads to, as the rules match it.
fn target_path(return_to: &str) -> String {
    let path = if return_to.starts_with('/') {
        return_to
            .split(['?', '#'])
            .next()
            .unwrap_or("/")
            .to_string()
    } else {
        url::Url::parse(return_to)
            .map(|u| u.path().to_string())
            .unwrap_or_else(|_| "/".to_string())
    };
    facts::decision_path(&path)
        .map(|p| p.into_owned())
        .unwrap_or_else(|_| "/".to_string())
}

fn render(
    tenant: &Tenant,
    return_to: &str,
    target: &str,
    email: &str,
    error: Option<&str>,
    status: u16,
) -> Reply {
    let p = &tenant.policy;
    let on_admin_path = p.admin_paths.matches(target);
    let idps: Vec<Idp> = if p.forced_external {
        vec![Idp::External]
    } else {
        tenant.idps.clone()
    };
    let form = SignInForm {
        email_field: p.sso_mode != SsoMode::SsoButtonsOnly || on_admin_path || idps.is_empty(),
        email,
        return_to,
        buttons: idps
            .iter()
            .map(|&idp| SsoButton {
                href: format!(
                    "/.portero/sso/{}?return_to={}",
                    idp.as_str(),
                    query_encode(return_to)
                ),
                label: idp_label(idp).to_string(),
            })
            .collect(),
        error,
    };
    Reply::html(status, pages::sign_in(&tenant.brand(), &form))
}

fn cross_site(tenant: &Tenant) -> Reply {
    tenant_page(
        tenant,
        403,
        "Form sent from another site",
        "This form was sent from another web site, so it was not acted on.",
        &[("/.portero/login", "Sign in")],
    )
}
