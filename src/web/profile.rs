//! `/.portero/profile`: the signed-in person's own page: their name and
//! e-mail, how they signed in, and the accounts they take part in. On a
//! tenant whose people are kept in the embedded store they may set the
//! display name the panel receives (`X-Portero-Name`); with
//! `lock_provisioned_fields`, a name the identity provider gave at
//! provisioning is shown read-only instead. Other tenants get the page
//! read-only.
//!
//! The name that goes out: the one the person set here, else the identity
//! provider's (in the session), else the directory's (see
//! [`crate::gate::Entering::Member`]).

use super::i18n::{tr, trf, Lang};
use super::pages::{self, escape};
use super::{read_form, tenant_page, to_sign_in_page, unauthorized, Reply};
use crate::audit::Event;
use crate::auth::AuthMethod;
use crate::config::{Config, Tenant};
use crate::gate::Seen;
use crate::members::{self, Source, StoreHandle};
use crate::membership::MemberSource;
use crate::session::SessionClaims;
use crate::state::State;
use crate::store::Person;
use std::fmt::Write;

/// The page's path.
pub const PATH: &str = "/.portero/profile";

/// The longest display name one may set, in characters.
pub const NAME_MAX: usize = 100;

/// The store, on a tenant whose people it keeps.
fn store<'s>(state: &'s State, tenant: &Tenant) -> Option<&'s StoreHandle> {
    matches!(tenant.members, MemberSource::Store)
        .then_some(state.store.as_ref())
        .flatten()
}

/// What the store keeps about the person, and whether their name is the
/// identity provider's to manage (`lock_provisioned_fields` and a name
/// from provisioning). `Err` when the store cannot be read.
async fn person(
    store: &StoreHandle,
    tenant: &Tenant,
    s: &SessionClaims,
) -> Result<(Person, bool), ()> {
    match store.store.person(&tenant.name, s.user()).await {
        Ok(p) => {
            let p = p.unwrap_or_default();
            let locked = tenant.lock_provisioned_fields && p.provisioned_name.is_some();
            Ok((p, locked))
        }
        Err(e) => {
            tracing::error!("membership store: {e}");
            Err(())
        }
    }
}

/// `GET`: the profile.
pub async fn show(state: &State, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    let Some(s) = &seen.session else {
        return if seen.accepts_html {
            to_sign_in_page(&seen.path_and_query())
        } else {
            unauthorized(tenant)
        };
    };
    render(state, tenant, seen, s, None).await
}

/// `POST` with `name`: sets the display name (empty: back to the
/// identity provider's), on store tenants whose name is not locked.
pub async fn save(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    let lang = seen.lang;
    let Some(s) = &seen.session else {
        return unauthorized(tenant);
    };
    let back = [(PATH, "Your profile")];
    if let Err(refused) = super::fields::from_this_site(tenant, seen, &back) {
        return refused;
    }
    let Some(store) = store(state, tenant) else {
        return tenant_page(
            tenant,
            lang,
            403,
            "Not allowed",
            "Your details cannot be changed on this page.",
            &back,
        );
    };
    let form = match read_form(tenant, seen) {
        Ok(f) => f,
        Err(bad) => return bad,
    };
    let Ok((_, locked)) = person(store, tenant, s).await else {
        return super::directory_unavailable(tenant, lang);
    };
    let audit = |reason: &str| {
        state.audit(
            &tenant.name,
            Event::Profile,
            Some(s.email()),
            Some(seen.client_ip),
            reason,
        )
    };
    if locked {
        audit("display name not changed: it is managed by the identity provider (lock_provisioned_fields)");
        return tenant_page(
            tenant,
            lang,
            403,
            "Not allowed",
            "Your name is managed by your sign-in provider, so it cannot be changed here.",
            &back,
        );
    }
    let name = form.get("name").unwrap_or("").trim();
    if name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return tenant_page(
            tenant,
            lang,
            400,
            "Nothing was changed",
            "A name may have at most 100 characters, and no line breaks or other control characters.",
            &back,
        );
    }
    let own = (!name.is_empty()).then_some(name);
    if let Err(e) = store
        .store
        .set_own_name(&tenant.name, s.user(), own, state.now())
        .await
    {
        tracing::error!("membership store: {e}");
        if e.is_unreachable() {
            return super::directory_unavailable(tenant, lang);
        }
        return tenant_page(
            tenant,
            lang,
            500,
            "Nothing was changed",
            "The change could not be saved; nothing was changed. Please try again.",
            &back,
        );
    }
    match own {
        Some(n) => audit(&format!("display name set to {n:?} (profile page)")),
        None => audit("display name cleared: the identity provider's is used (profile page)"),
    }
    // The gate reads names from the snapshot: the next request carries it.
    if let Err(e) = store.reload_tenant(cfg, &tenant.name).await {
        tracing::error!("membership store: {e}");
    }
    render(
        state,
        tenant,
        seen,
        s,
        Some(tr(lang, "Your name was saved.")),
    )
    .await
}

/// The page, with a notice above it after a save.
async fn render(
    state: &State,
    tenant: &Tenant,
    seen: &Seen<'_>,
    s: &SessionClaims,
    notice: Option<&str>,
) -> Reply {
    let lang = seen.lang;
    let store = store(state, tenant);
    let (person, locked) = match store {
        None => (None, false),
        Some(st) => match person(st, tenant, s).await {
            Ok((p, locked)) => (Some(p), locked),
            // The database is down: what the snapshot knows.
            Err(()) => {
                let Some(d) = st.get(&tenant.name) else {
                    return super::directory_unavailable(tenant, lang);
                };
                let p = Person {
                    provisioned_name: d.name(s.user()).map(str::to_string),
                    own_name: d.own_name(s.user()).map(str::to_string),
                };
                let locked = tenant.lock_provisioned_fields && p.provisioned_name.is_some();
                (Some(p), locked)
            }
        },
    };
    let source = members::resolve(state.store.as_ref(), tenant, s, state.now());
    let dir = match &source {
        Source::Ready(d) => Some(d),
        Source::Fetch(_) | Source::Unavailable => None,
    };
    let own = person
        .as_ref()
        .filter(|_| !locked)
        .and_then(|p| p.own_name.as_deref());
    let provider_name = s.name().or(dir.and_then(|d| d.name(s.user())));
    let shown = own.or(provider_name);
    let mut body = String::new();
    if let Some(n) = notice {
        let _ = write!(
            body,
            "<p class=\"notice\" role=\"status\">{}</p>",
            escape(n)
        );
    }
    let _ = write!(
        body,
        "<dl class=\"profile\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>",
        escape(tr(lang, "Name")),
        escape(shown.unwrap_or(tr(lang, "(not given)"))),
        escape(tr(lang, "E-mail")),
        escape(s.email()),
        escape(tr(lang, "Sign-in method")),
        escape(tr(lang, method_label(s.method()))),
    );
    match (store.is_some(), locked) {
        (true, false) => {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"{PATH}\"><label for=\"name\">{}</label>\
                 <input id=\"name\" type=\"text\" name=\"name\" value=\"{}\" placeholder=\"{}\" maxlength=\"{NAME_MAX}\" autocomplete=\"name\">\
                 <p class=\"muted\">{}</p><button type=\"submit\">{}</button></form>",
                escape(tr(lang, "Display name")),
                escape(own.unwrap_or("")),
                escape(s.name().unwrap_or("")),
                escape(tr(
                    lang,
                    "What the panel shows as your name. Leave it empty to use the name your sign-in provider gives."
                )),
                escape(tr(lang, "Save")),
            );
        }
        (true, true) => {
            let _ = write!(
                body,
                "<p class=\"muted\">{}</p>",
                escape(tr(
                    lang,
                    "Your name is managed by your sign-in provider, so it cannot be changed here."
                ))
            );
        }
        (false, _) => {
            let _ = write!(
                body,
                "<p class=\"muted\">{}</p>",
                escape(tr(lang, "Your details cannot be changed on this page."))
            );
        }
    }
    let _ = write!(body, "<h2>{}</h2>", escape(tr(lang, "Your accounts")));
    if let Some(dir) = dir {
        body.push_str(&accounts(lang, tenant, s, dir));
    }
    let _ = write!(
        body,
        "<p><a class=\"button secondary\" href=\"/.portero/accounts\">{}</a> <a class=\"button secondary\" href=\"/.portero/logout\">{}</a></p>",
        escape(tr(lang, "Your accounts")),
        escape(tr(lang, "Sign out"))
    );
    Reply::html(
        200,
        pages::page(&tenant.brand(), lang, "Your profile", &body),
    )
}

/// The accounts the person may enter, each a link to the accounts page.
fn accounts(
    lang: Lang,
    tenant: &Tenant,
    s: &SessionClaims,
    dir: &crate::membership::Directory,
) -> String {
    let memberships = dir.memberships(s.user());
    if memberships.is_empty() {
        return format!(
            "<p>{}</p>",
            escape(&trf(
                lang,
                "You take part in no account of {} yet.",
                &[&tenant.display_name]
            ))
        );
    }
    let mut out = String::from("<ul class=\"accounts\">");
    for m in &memberships {
        let mut about = m.permissions.labels(lang);
        if dir.direct(s.user(), &m.account).is_none() {
            if let Some(reseller) = dir.reseller(&m.account) {
                let _ = write!(about, " · {}", trf(lang, "through {}", &[reseller]));
            }
        }
        let current = if s.account() == Some(m.account.as_str()) {
            format!(" {}", escape(tr(lang, "(current)")))
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<li><a href=\"/.portero/accounts\">{}</a>{current} <span class=\"muted\">{}</span></li>",
            escape(&m.account),
            escape(&about)
        );
    }
    out.push_str("</ul>");
    out
}

/// How the session was made, in words.
fn method_label(method: AuthMethod) -> &'static str {
    match method {
        AuthMethod::Saml => "SAML single sign-on",
        AuthMethod::Oidc => "OpenID Connect single sign-on",
        AuthMethod::Jwt => "External sign-in page",
    }
}
