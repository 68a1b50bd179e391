//! The pages and answers that refuse or explain: not found, forbidden,
//! unavailable, unknown host, and the page every one of them is built on
//! ([`tenant_page`]).

use super::i18n::{tr, trf, Lang};
use super::{pages, Reply};
use crate::config::Tenant;
use crate::state::State;
use portero_policy::Idp;

/// No such page under `/.portero/`.
pub fn not_found(tenant: &Tenant, lang: Lang) -> Reply {
    tenant_page(
        tenant,
        lang,
        404,
        "Not found",
        "There is no page at this address.",
        &[("/", "Home")],
    )
}

/// The request carried Portero's session (or classic-login) cookie twice,
/// so neither is believed; signing in again would not help while the other
/// one (perhaps planted by a sibling site) is still in the browser.
pub fn cookie_conflict(tenant: &Tenant, lang: Lang) -> Reply {
    tenant_page(
        tenant,
        lang,
        400,
        "Conflicting sign-in cookies",
        &trf(
            lang,
            "Your browser sent two sign-in cookies for {}; one of them may have been set by another site under the same domain, so neither is trusted. Remove this site's cookies in your browser (or use a private window), then sign in again.",
            &[&tenant.display_name],
        ),
        &[],
    )
}

/// A page in the tenant's look, in `lang`: title, one sentence, links that
/// lead on.
pub fn tenant_page(
    tenant: &Tenant,
    lang: Lang,
    status: u16,
    title: &str,
    message: &str,
    links: &[(&str, &str)],
) -> Reply {
    Reply::html(
        status,
        pages::error(&tenant.brand(), lang, title, message, links),
    )
}

/// The tenant has no such identity provider.
pub fn not_configured(tenant: &Tenant, lang: Lang, idp: Idp) -> Reply {
    let msg = trf(
        lang,
        "{} has no {} configured.",
        &[&tenant.display_name, tr(lang, idp_label(idp))],
    );
    tenant_page(
        tenant,
        lang,
        404,
        "Not configured",
        &msg,
        &[("/.portero/login", "Sign in")],
    )
}

/// The page for an identity provider that cannot be used now (down, or
/// its metadata or discovery never fetched): names the way in that never
/// depends on it (README, "Faults").
pub fn idp_unavailable(tenant: &Tenant, lang: Lang, idp: Idp) -> Reply {
    let message = trf(
        lang,
        "{} cannot be reached right now, so {} cannot sign you in with it right now. {}",
        &[
            tr(lang, idp_label(idp)),
            &tenant.display_name,
            &classic_way_in(tenant, lang),
        ],
    );
    tenant_page(
        tenant,
        lang,
        503,
        "Single sign-on unavailable",
        &message,
        &[],
    )
}

/// The tenant has no identity provider for someone who must use one.
pub fn no_idp(tenant: &Tenant, lang: Lang) -> Reply {
    let message = trf(
        lang,
        "{} is not configured, so {} cannot sign you in with it. {}",
        &[
            tr(lang, "Company sign-in"),
            &tenant.display_name,
            &classic_way_in(tenant, lang),
        ],
    );
    tenant_page(
        tenant,
        lang,
        503,
        "Single sign-on unavailable",
        &message,
        &[],
    )
}

/// How super-admins and classic users still get in when SSO cannot be used.
fn classic_way_in(tenant: &Tenant, lang: Lang) -> String {
    match tenant.policy.admin_paths.as_slice().first() {
        Some(admin) if tenant.policy.superadmin_bypass => trf(
            lang,
            "Administrators of this panel can still sign in with the panel's own login at {} (enter your e-mail first).",
            &[admin],
        ),
        _ => tr(lang, "People the panel's own login is kept for can still sign in with their e-mail on the sign-in page.").to_string(),
    }
}

/// The panel has no user for the login a member is mapped to act as: say
/// so, and how to fix it (not a 500, not a loop).
pub fn unknown_impersonation(tenant: &Tenant, lang: Lang, login: &str) -> Reply {
    tenant_page(
        tenant,
        lang,
        409,
        "Unknown panel user",
        &trf(
            lang,
            "Your access to {} is set up to act as the panel user “{}”, which the panel does not have. An administrator can fix this: create that user in the panel, or change the mapping (`impersonate` in the configuration, or `portero accounts {} impersonate --account … --user … --login …`).",
            &[&tenant.display_name, login, &tenant.name],
        ),
        &[("/.portero/accounts", "Your accounts"), ("/.portero/logout", "Sign out")],
    )
}

/// The membership source (the panel's endpoint) cannot answer: a clear
/// page, never someone else's access, never a loop.
pub fn members_unavailable(tenant: &Tenant, lang: Lang) -> Reply {
    tenant_page(
        tenant,
        lang,
        503,
        "Accounts cannot be checked right now",
        &trf(
            lang,
            "{} cannot check which accounts you may enter at the moment. Please try again in a minute.",
            &[&tenant.display_name],
        ),
        &[("/", "Try again")],
    )
}

/// The directory's database cannot be reached, so a change (joining,
/// leaving, inviting, a name) was not made: a clear 503, nothing lost.
/// Signed-in people keep entering their accounts (from the last snapshot).
pub fn directory_unavailable(tenant: &Tenant, lang: Lang) -> Reply {
    tenant_page(
        tenant,
        lang,
        503,
        "Changes cannot be saved right now",
        &trf(
            lang,
            "{} cannot reach its directory at the moment, so nothing was changed. You can keep working in your accounts. Please try again in a minute.",
            &[&tenant.display_name],
        ),
        &[("/.portero/accounts", "Your accounts")],
    )
    .header("retry-after", "30")
}

/// The one-time store (Redis) could not be asked while `what` (a sign-in
/// step): logged, counted, and the visitor gets [`sign_in_unavailable`].
pub fn shared_store_down(
    state: &State,
    tenant: &Tenant,
    lang: Lang,
    what: &str,
    e: &crate::onetime::Unavailable,
) -> Reply {
    tracing::error!(tenant = %tenant.name, "{what}: {e}");
    state
        .metrics
        .refused("shared_store_unavailable", "unreachable");
    sign_in_unavailable(tenant, lang)
}

/// The one-time store (Redis) cannot be reached: no sign-in can start or
/// finish (fail closed); sessions already made keep working.
pub fn sign_in_unavailable(tenant: &Tenant, lang: Lang) -> Reply {
    tenant_page(
        tenant,
        lang,
        503,
        "Signing in is not possible right now",
        &trf(
            lang,
            "{} cannot check sign-ins at the moment, so nothing was signed in. If you are already signed in, you can keep working. Please try again in a minute.",
            &[&tenant.display_name],
        ),
        &[("/", "Try again")],
    )
    .header("retry-after", "30")
}

/// Signed in, but not a member of the account entered.
pub fn forbidden(tenant: &Tenant, lang: Lang, user: &str, account: &str) -> Reply {
    let message = trf(
        lang,
        "You are signed in as {}, but you have no access to the account {}. Choose one of your accounts, or sign out and sign in as someone else.",
        &[user, account],
    );
    tenant_page(
        tenant,
        lang,
        403,
        "No access to this account",
        &message,
        &[
            ("/.portero/accounts", "Your accounts"),
            ("/.portero/logout", "Sign out"),
        ],
    )
}

/// An API or XHR client that must sign in first.
pub fn unauthorized(tenant: &Tenant) -> Reply {
    Reply::text(401, "Sign-in required.\n").header(
        "www-authenticate",
        &format!(
            "Portero realm=\"{}\", login=\"/.portero/login\"",
            tenant.name.replace('"', "")
        ),
    )
}

/// A host no tenant serves.
pub fn unknown_host(lang: Lang) -> Reply {
    Reply::html(
        421,
        pages::error(
            &pages::Brand::default(),
            lang,
            tr(lang, "Unknown host"),
            tr(
                lang,
                "This address is not served here. Check the address you typed.",
            ),
            &[],
        ),
    )
}

/// The request's host cannot be read as one host name (400): it is never
/// looked up, forwarded or guessed at.
pub fn bad_host(lang: Lang, message: &str) -> Reply {
    Reply::html(
        400,
        pages::error(
            &pages::Brand::default(),
            lang,
            tr(lang, "Bad request"),
            tr(lang, message),
            &[],
        ),
    )
}

/// The panel could not be reached.
pub fn upstream_down(tenant: Option<&Tenant>, lang: Lang) -> Reply {
    let brand = tenant.map(Tenant::brand).unwrap_or_default();
    Reply::html(
        502,
        pages::error(
            &brand,
            lang,
            tr(lang, "The panel is not answering"),
            tr(lang, "The control panel could not be reached. This is usually short: try again in a minute."),
            &[("", tr(lang, "Try again"))],
        ),
    )
}

/// Something went wrong inside Portero (the page, in `lang`).
pub fn internal_error_page(lang: Lang) -> String {
    pages::error(
        &pages::Brand::default(),
        lang,
        tr(lang, "Something went wrong"),
        tr(lang, "This request could not be handled. Please try again."),
        &[],
    )
}

/// Where "sent to SSO" leads for one identity provider.
pub fn idp_label(idp: Idp) -> &'static str {
    match idp {
        Idp::Saml => "SAML single sign-on",
        Idp::Oidc => "OpenID Connect single sign-on",
        Idp::External => "Company sign-in",
    }
}
