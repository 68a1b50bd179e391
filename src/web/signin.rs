//! Signing in and out: the identifier-first page, SSO starts, and logout
//! (the ends of a sign-in are [`super::flow`]'s).

use super::flow::Visitor;
use super::i18n::Lang;
use super::idp_label;
use super::pages::{self, query_encode, SignInForm, SsoButton};
use super::{no_idp, read_form, read_query, return_to, same_origin, tenant_page, to_idp, Reply};
use crate::audit::Event;
use crate::auth::{normalize_email, AuthMethod};
use crate::config::{Config, Tenant};
use crate::facts;
use crate::gate::Seen;
use crate::session::{classic_cookie, clear_cookie, ClassicClaims, Ending};
use crate::state::State;
use portero_policy::{
    decide, sign_in_options, sso_destination, Action, ClassicReason, Facts, Idp, SessionFact,
    SignInOptions,
};

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
    let options = sign_in_options(
        &tenant.policy,
        &tenant.idps,
        &facts_for(seen, &target, None),
    );
    if let Some(idp) = options.straight_to {
        return to_idp(state, tenant, seen, idp, &return_to, None);
    }
    render_options(tenant, seen.lang, &options, &return_to, "", None, 200)
}

/// `POST /.portero/login` with `email` and `return_to`: routes by the e-mail.
pub fn login_submit(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    if !same_origin(seen) {
        return cross_site(tenant, seen.lang);
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
            seen,
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
                return Reply::html(500, super::internal_error_page(seen.lang));
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
            None => no_idp(tenant, seen.lang),
        },
        Action::NoIdp => no_idp(tenant, seen.lang),
        Action::CookieConflict => super::cookie_conflict(tenant, seen.lang),
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
    match sso_destination(&tenant.policy, None) {
        Some(idp) => to_idp(state, tenant, seen, idp, return_to, Some(email)),
        None => no_idp(tenant, seen.lang),
    }
}

/// `GET /.portero/sso/{saml,oidc,external}?return_to=…`: start SSO now.
pub fn start_sso(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>, idp: Idp) -> Reply {
    if !tenant.idps.contains(&idp) {
        return super::not_configured(tenant, seen.lang, idp);
    }
    let query = match read_query(tenant, seen) {
        Ok(q) => q,
        Err(bad) => return bad,
    };
    let hint = query.get("login_hint").and_then(normalize_email);
    let return_to = return_to::sanitize(query.get("return_to"), cfg, seen.tenant_index);
    // Forced external SSO overrides every other login method, SSO buttons included.
    match sso_destination(&tenant.policy, Some(idp)) {
        Some(idp) => to_idp(state, tenant, seen, idp, return_to, hint.as_deref()),
        None => no_idp(tenant, seen.lang),
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
    let at_idp = seen.session.as_ref().and_then(|s| match s.method() {
        AuthMethod::Saml => {
            let sp = tenant.saml.as_ref().filter(|sp| sp.single_logout)?;
            sp.logout_url(&seen.origin(), s.email(), state.now(), "signed-out")
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
        None => (
            signed_out_page(tenant, seen.lang),
            Some(signed_out_here_only(tenant, seen.lang)),
        ),
    };
    let clear = |r| clear_session_cookies(r, cfg, seen);
    match ending_of(cfg, tenant, seen) {
        Some(ending) => Ok(Logout {
            tenant: tenant.name.clone(),
            user: seen
                .session
                .as_ref()
                .map(|s| s.user().to_string())
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
        sid: s.sid().to_string(),
        user: s.user().to_string(),
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
fn signed_out_here_only(tenant: &Tenant, lang: Lang) -> Reply {
    tenant_page(
        tenant,
        lang,
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
            Some(s.user()),
            Some(seen.client_ip),
            how,
        );
    }
}

/// The logout landing page, in `lang`.
pub fn signed_out_page(tenant: &Tenant, lang: Lang) -> Reply {
    tenant_page(
        tenant,
        lang,
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
        forward_auth: None,
        cookie_conflict: seen.cookie_conflict,
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

/// The sign-in page again (an e-mail that is not one), with what the
/// policy offers for the request it was sent from.
fn render(
    seen: &Seen<'_>,
    tenant: &Tenant,
    return_to: &str,
    target: &str,
    email: &str,
    error: Option<&str>,
    status: u16,
) -> Reply {
    let options = sign_in_options(&tenant.policy, &tenant.idps, &facts_for(seen, target, None));
    render_options(tenant, seen.lang, &options, return_to, email, error, status)
}

/// The sign-in page, in `lang`, with the field and buttons the policy
/// offers ([`sign_in_options`]).
fn render_options(
    tenant: &Tenant,
    lang: Lang,
    options: &SignInOptions,
    return_to: &str,
    email: &str,
    error: Option<&str>,
    status: u16,
) -> Reply {
    let form = SignInForm {
        email_field: options.email_field,
        email,
        return_to,
        buttons: options
            .idps
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
    Reply::html(status, pages::sign_in(&tenant.brand(), lang, &form))
}

fn cross_site(tenant: &Tenant, lang: Lang) -> Reply {
    tenant_page(
        tenant,
        lang,
        403,
        "Form sent from another site",
        "This form was sent from another web site, so it was not acted on.",
        &[("/.portero/login", "Sign in")],
    )
}
