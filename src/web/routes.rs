//! Which handler answers: [`respond`] turns the gate's verdict into a
//! reply, and the reserved `/.portero/` paths are routed here (rule 1).

use super::fields::{bad_fields, check_fields};
use super::i18n::Lang;
use super::refusals::*;
use super::start::{keep_started, to_idp, to_sign_in_page};
use super::{
    accounts, external, flow, forward_auth, invitations, oidc, pages, profile, saml, signin, team,
    Reply,
};
use crate::config::{Config, Tenant};
use crate::gate::{Outcome, Seen, Verdict};
use crate::state::State;
use portero_policy::Idp;

/// Turns the gate's verdict into the reply Portero sends (for every
/// outcome but a forward, which the proxy carries out), the started
/// sign-in a reply carries kept first ([`keep_started`]).
pub async fn respond(state: &State, cfg: &Config, verdict: &Verdict<'_>) -> Reply {
    let tenant = verdict.tenant.and_then(|i| cfg.tenant(i));
    let reply = match (&verdict.outcome, tenant, &verdict.seen) {
        (Outcome::Reserved, Some(tenant), Some(seen)) => reserved(state, cfg, tenant, seen).await,
        (outcome, _, seen) => render(state, tenant, seen.as_ref(), outcome, verdict.lang),
    };
    keep_started(state, cfg, tenant, verdict.lang, reply).await
}

/// The page, redirect or refusal for an outcome of the rules (not a
/// reserved path, not a forward), its pages in `lang`.
pub(super) fn render(
    state: &State,
    tenant: Option<&Tenant>,
    seen: Option<&Seen<'_>>,
    outcome: &Outcome,
    lang: Lang,
) -> Reply {
    match outcome {
        Outcome::BadHost(bad) => return bad_host(lang, bad.message()),
        Outcome::UnknownHost => return unknown_host(lang),
        _ => {}
    }
    let Some(tenant) = tenant else {
        return unknown_host(lang);
    };
    if let Outcome::BadPath(bad) = outcome {
        return tenant_page(
            tenant,
            lang,
            400,
            "Bad request",
            bad.message(),
            &[("/", "Home")],
        );
    }
    let Some(seen) = seen else {
        return Reply::html(500, internal_error_page(lang));
    };
    match outcome {
        Outcome::Forbidden { user, account } => forbidden(tenant, lang, user, account),
        Outcome::MembersUnavailable => members_unavailable(tenant, lang),
        Outcome::PickAccount if seen.follows_redirects() => Reply::redirect(&format!(
            "/.portero/accounts?return_to={}",
            pages::query_encode(&seen.path_and_query())
        )),
        Outcome::PickAccount => Reply::text(
            403,
            "No account chosen yet: choose one at /.portero/accounts\n",
        ),
        Outcome::CookieConflict => cookie_conflict(tenant, lang),
        Outcome::SignInPage => to_sign_in_page(&seen.path_and_query()),
        Outcome::Sso(idp) => to_idp(state, tenant, seen, *idp, &seen.path_and_query(), None),
        Outcome::NoIdp => no_idp(tenant, lang),
        Outcome::Unauthorized => unauthorized(tenant),
        Outcome::BadHost(_)
        | Outcome::UnknownHost
        | Outcome::BadPath(_)
        | Outcome::Reserved
        | Outcome::Forward { .. }
        | Outcome::InternalError => Reply::html(500, internal_error_page(lang)),
    }
}

/// Rule 1: answers a reserved path. The ends of a sign-in (the OpenID
/// Connect callback, the SAML ACS, the external SSO hand-back) and a logout
/// read the request first, then wait on the one-time store (which may be
/// Redis) and, for the first, on the provider.
async fn reserved(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    if let Err(bad) = check_fields(seen) {
        return bad_fields(tenant, seen, &bad);
    }
    match (seen.path.trim_end_matches('/'), seen.req.method) {
        ("/.portero/oidc/callback", "GET" | "HEAD") => {
            flow::answer::<oidc::Oidc>(state, cfg, tenant, seen).await
        }
        ("/.portero/saml/acs", "POST") => {
            flow::answer::<saml::Saml>(state, cfg, tenant, seen).await
        }
        ("/.portero/jwt/callback", "GET" | "HEAD") => {
            flow::answer::<external::External>(state, cfg, tenant, seen).await
        }
        ("/.portero/logout", "GET" | "HEAD" | "POST") => {
            match signin::logout(state, cfg, tenant, seen) {
                Ok(job) => signin::finish_logout(state, job).await,
                Err(reply) => reply,
            }
        }
        ("/.portero/auth", _) => forward_auth::forward_auth(state, cfg, tenant, seen).await,
        (team::PATH, "POST") => team::change(state, cfg, tenant, seen).await,
        // The pages that read the store (which may be a database away).
        ("/.portero/accounts", "GET" | "HEAD") => accounts::list(state, cfg, tenant, seen).await,
        (team::PATH, "GET" | "HEAD") => team::show(state, tenant, seen).await,
        ("/.portero/invitations", "GET" | "HEAD") => invitations::show(state, tenant, seen).await,
        ("/.portero/invitations", "POST") => invitations::decide(state, cfg, tenant, seen).await,
        (profile::PATH, "GET" | "HEAD") => profile::show(state, tenant, seen).await,
        (profile::PATH, "POST") => profile::save(state, cfg, tenant, seen).await,
        _ => reserved_page(state, cfg, tenant, seen),
    }
}

/// Every other reserved path (its pages in the request's language).
fn reserved_page(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    /// What a reserved path does with a method.
    enum Method {
        Read,
        Post,
        Other,
    }
    let method = match seen.req.method {
        "GET" | "HEAD" => Method::Read,
        "POST" => Method::Post,
        _ => Method::Other,
    };
    use Method::{Post, Read};
    match (seen.path.trim_end_matches('/'), method) {
        ("/.portero/login", Read) => signin::login_page(state, cfg, tenant, seen),
        ("/.portero/login", Post) => signin::login_submit(state, cfg, tenant, seen),
        ("/.portero/sso/external", Read) => {
            signin::start_sso(state, cfg, tenant, seen, Idp::External)
        }
        ("/.portero/sso/saml", Read) => signin::start_sso(state, cfg, tenant, seen, Idp::Saml),
        ("/.portero/sso/oidc", Read) => signin::start_sso(state, cfg, tenant, seen, Idp::Oidc),
        ("/.portero/saml/metadata", Read) => saml::metadata(tenant, seen),
        ("/.portero/saml/slo", Read) => saml::slo(state, cfg, tenant, seen),
        ("/.portero/accounts", Post) => accounts::choose(state, cfg, tenant, seen),
        (team::LEAVE, Read) => team::confirm_leave(state, tenant, seen),
        ("/.portero/jwks.json", Read) => Reply::with_body(
            200,
            "application/json",
            cfg.assertion.jwks_json().to_string(),
        )
        .header("cache-control", "public, max-age=300"),
        ("/.portero/assets/portero.css", Read) => {
            Reply::with_body(200, "text/css; charset=utf-8", pages::BASE_CSS)
                .header("cache-control", "public, max-age=3600")
        }
        ("/.portero/assets/logo", Read) => match &tenant.logo {
            Some((bytes, kind)) => Reply::with_body(200, kind, bytes.clone())
                .header("cache-control", "public, max-age=3600")
                .header("x-content-type-options", "nosniff")
                .header(
                    "content-security-policy",
                    "default-src 'none'; style-src 'unsafe-inline'",
                ),
            None => not_found(tenant, seen.lang),
        },
        ("/.portero/assets/tenant.css", Read) => Reply::with_body(
            200,
            "text/css; charset=utf-8",
            tenant.css.clone().unwrap_or_default(),
        )
        .header("cache-control", "public, max-age=300"),
        (path, _) => match KNOWN.iter().find(|(known, _)| *known == path) {
            Some((_, allow)) => tenant_page(
                tenant,
                seen.lang,
                405,
                "Method not allowed",
                "This address does not take that method.",
                &[],
            )
            .header("allow", allow),
            None => not_found(tenant, seen.lang),
        },
    }
}

/// The reserved paths that exist, with the methods they take (a request
/// with another method gets 405 and this `Allow`, rather than 404).
/// `/.portero/auth` takes every method. docs/reserved-paths.md lists them.
const KNOWN: [(&str, &str); 19] = [
    (team::PATH, "GET, HEAD, POST"),
    (team::LEAVE, "GET, HEAD"),
    (profile::PATH, "GET, HEAD, POST"),
    ("/.portero/login", "GET, HEAD, POST"),
    ("/.portero/sso/external", "GET, HEAD"),
    ("/.portero/sso/saml", "GET, HEAD"),
    ("/.portero/sso/oidc", "GET, HEAD"),
    ("/.portero/jwt/callback", "GET, HEAD"),
    ("/.portero/oidc/callback", "GET, HEAD"),
    ("/.portero/saml/acs", "POST"),
    ("/.portero/saml/metadata", "GET, HEAD"),
    ("/.portero/saml/slo", "GET, HEAD"),
    ("/.portero/accounts", "GET, HEAD, POST"),
    ("/.portero/invitations", "GET, HEAD, POST"),
    ("/.portero/logout", "GET, HEAD, POST"),
    ("/.portero/jwks.json", "GET, HEAD"),
    ("/.portero/assets/portero.css", "GET, HEAD"),
    ("/.portero/assets/tenant.css", "GET, HEAD"),
    ("/.portero/assets/logo", "GET, HEAD"),
];
