//! `/.portero/invitations?token=…`: an invited person accepts or rejects an
//! invitation (tenants on the embedded store). Accepting needs a session as
//! the invited e-mail; the link works once.

use super::i18n::{tr, trf};
use super::pages::escape;
use super::{read_form, read_query, same_origin, tenant_page, to_sign_in_page, Reply};
use crate::audit::Event;
use crate::config::{Config, Tenant};
use crate::gate::Seen;
use crate::membership::MemberSource;
use crate::state::State;

fn store<'s>(state: &'s State, tenant: &Tenant) -> Option<&'s crate::members::StoreHandle> {
    matches!(tenant.members, MemberSource::Store)
        .then_some(state.store.as_ref())
        .flatten()
}

/// `GET`: what the invitation offers, with Accept and Reject.
pub fn show(state: &State, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    let Some(store) = store(state, tenant) else {
        return super::not_found(tenant, seen.lang);
    };
    let token = match read_query(tenant, seen) {
        Ok(q) => q.owned("token").unwrap_or_default(),
        Err(bad) => return bad,
    };
    if seen.session.is_none() {
        return to_sign_in_page(&seen.path_and_query());
    }
    match store
        .store
        .invitation_by_token(&tenant.name, &token, state.now())
    {
        Err(e) => tenant_page(
            tenant,
            seen.lang,
            410,
            "Invitation not usable",
            &format!("{e}."),
            &[("/.portero/accounts", "Your accounts")],
        ),
        Ok(inv) => {
            let form = |decision: &str, label: &str| {
                format!(
                    "<form method=\"post\" action=\"/.portero/invitations\"><input type=\"hidden\" name=\"token\" value=\"{}\"><input type=\"hidden\" name=\"decision\" value=\"{decision}\"><button type=\"submit\">{}</button></form>",
                    escape(&token),
                    escape(tr(seen.lang, label))
                )
            };
            let strong = |s: &str| format!("<strong>{}</strong>", escape(s));
            let body = format!(
                "<p>{}</p>{}{}",
                trf(
                    seen.lang,
                    "{} invites {} into {} with: {}.",
                    &[
                        &escape(&inv.invited_by),
                        &strong(&inv.email),
                        &strong(&inv.account),
                        &escape(&inv.permissions)
                    ]
                ),
                form("accept", "Accept"),
                form("reject", "Reject")
            );
            Reply::html(
                200,
                super::pages::page(&tenant.brand(), seen.lang, "Invitation", &body),
            )
        }
    }
}

/// `POST`: accept (as the invited e-mail) or reject.
pub fn decide(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    let Some(store) = store(state, tenant) else {
        return super::not_found(tenant, seen.lang);
    };
    let Some(session) = &seen.session else {
        return super::unauthorized(tenant);
    };
    if !same_origin(seen) {
        return tenant_page(
            tenant,
            seen.lang,
            403,
            "Not allowed",
            "This form must be sent from this site.",
            &[],
        );
    }
    let form = match read_form(tenant, seen) {
        Ok(f) => f,
        Err(bad) => return bad,
    };
    let token = form.owned("token").unwrap_or_default();
    let accept = form.get("decision") == Some("accept");
    let now = state.now();
    let result = if accept {
        store
            .store
            .accept(&tenant.name, &token, session.email(), now)
    } else {
        store.store.reject(&tenant.name, &token, now)
    };
    match result {
        Ok(inv) => {
            let what = if accept { "accepted" } else { "rejected" };
            state.audit(
                &tenant.name,
                Event::Membership,
                Some(session.email()),
                Some(seen.client_ip),
                &format!("invitation {} to {} {what}", inv.id, inv.account),
            );
            if let Err(e) = store.reload_tenant(cfg, &tenant.name) {
                tracing::error!("membership store: {e}");
            }
            let message = if accept {
                trf(
                    seen.lang,
                    "You are now a member of {} ({}).",
                    &[&inv.account, &inv.permissions],
                )
            } else {
                "The invitation was rejected.".to_string()
            };
            tenant_page(
                tenant,
                seen.lang,
                200,
                "Invitation",
                &message,
                &[("/.portero/accounts", "Your accounts")],
            )
        }
        Err(e) => {
            state.audit(
                &tenant.name,
                Event::Membership,
                Some(session.email()),
                Some(seen.client_ip),
                &format!("invitation refused: {e}"),
            );
            tenant_page(
                tenant,
                seen.lang,
                409,
                "Invitation not usable",
                &format!("{e}."),
                &[("/.portero/accounts", "Your accounts")],
            )
        }
    }
}
