//! `/.portero/invitations?token=…`: an invited person accepts or rejects an
//! invitation (tenants on the embedded store). Accepting needs a session as
//! the invited e-mail; the link works once. The same `POST` takes an `id`
//! instead of a `token` from the accounts page, where a signed-in person
//! sees the invitations addressed to their e-mail ([`pending_for`]).

use super::i18n::{tr, trf};
use super::pages::escape;
use super::{read_form, read_query, tenant_page, to_sign_in_page, Reply};
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

/// The pending invitations addressed to the session's e-mail on a store
/// tenant (`None` on other tenants, or when the store cannot be read).
pub async fn pending_for(
    state: &State,
    tenant: &Tenant,
    session: &crate::session::SessionClaims,
) -> Option<Vec<crate::store::Invitation>> {
    let store = store(state, tenant)?;
    match store
        .store
        .pending_for(&tenant.name, session.email(), state.now())
        .await
    {
        Ok(list) => Some(list),
        Err(e) => {
            tracing::error!("membership store: {e}");
            None
        }
    }
}

/// An Accept or Reject button for the invitation `id` (the accounts page).
pub fn decide_by_id(lang: super::i18n::Lang, id: &str, decision: &str, label: &str) -> String {
    let class = if decision == "accept" {
        ""
    } else {
        " class=\"secondary\""
    };
    format!(
        "<form class=\"inline\" method=\"post\" action=\"/.portero/invitations\"><input type=\"hidden\" name=\"id\" value=\"{}\"><input type=\"hidden\" name=\"decision\" value=\"{}\"><button{class} type=\"submit\">{}</button></form>",
        escape(id),
        escape(decision),
        escape(tr(lang, label))
    )
}

/// `GET`: what the invitation offers, with Accept and Reject.
pub async fn show(state: &State, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
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
        .await
    {
        Err(e) if e.is_unreachable() => super::directory_unavailable(tenant, seen.lang),
        Err(e) => tenant_page(
            tenant,
            seen.lang,
            410,
            "Invitation not usable",
            &format!("{e}."),
            &[("/.portero/accounts", "Your accounts")],
        ),
        Ok(inv) => {
            // Accept and Reject side by side, as on the accounts page.
            let form = |decision: &str, label: &str, class: &str| {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"/.portero/invitations\"><input type=\"hidden\" name=\"token\" value=\"{}\"><input type=\"hidden\" name=\"decision\" value=\"{decision}\"><button{class} type=\"submit\">{}</button></form>",
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
                        &escape(&inv.permissions_in_words(seen.lang))
                    ]
                ),
                form("accept", "Accept", ""),
                form("reject", "Reject", " class=\"secondary\"")
            );
            Reply::html(
                200,
                super::pages::page(&tenant.brand(), seen.lang, "Invitation", &body),
            )
        }
    }
}

/// `POST`: accept (as the invited e-mail) or reject (`decision` = accept
/// or reject) the invitation named by `token` (its link) or by `id` (the
/// accounts page's list of the invitations addressed to the signed-in
/// person; by id, only that person may accept or reject it — anyone else
/// is refused as if it did not exist). Either way one store transaction
/// checks and changes it, then the same audit line and snapshot reload.
pub async fn decide(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    let Some(store) = store(state, tenant) else {
        return super::not_found(tenant, seen.lang);
    };
    let Some(session) = &seen.session else {
        return super::unauthorized(tenant);
    };
    if let Err(refused) = super::fields::from_this_site(tenant, seen, &[]) {
        return refused;
    }
    let form = match read_form(tenant, seen) {
        Ok(f) => f,
        Err(bad) => return bad,
    };
    let accept = form.get("decision") == Some("accept");
    let now = state.now();
    let (email, tenant_name) = (session.email(), tenant.name.as_str());
    let result = match (form.get("token"), form.get("id"), accept) {
        (Some(token), None, true) => store.store.accept(tenant_name, token, email, now).await,
        (Some(token), None, false) => store.store.reject(tenant_name, token, now).await,
        (None, Some(id), true) => store.store.accept_by_id(tenant_name, id, email, now).await,
        (None, Some(id), false) => store.store.reject_by_id(tenant_name, id, email, now).await,
        _ => {
            return tenant_page(
                tenant,
                seen.lang,
                400,
                "Bad request",
                "The form must name one invitation, by its link or by its id.",
                &[("/.portero/accounts", "Your accounts")],
            )
        }
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
            if let Err(e) = store.reload_tenant(cfg, &tenant.name).await {
                tracing::error!("membership store: {e}");
            }
            let message = if accept {
                let labels = inv.permissions_in_words(seen.lang);
                trf(
                    seen.lang,
                    "You are now a member of {} ({}).",
                    &[&inv.account, &labels],
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
        Err(e) if e.is_unreachable() => {
            tracing::error!("membership store: {e}");
            super::directory_unavailable(tenant, seen.lang)
        }
        Err(e) => {
            state.audit(
                &tenant.name,
                Event::Membership,
                Some(session.email()),
                Some(seen.client_ip),
                &format!("invitation refused: {e}"),
            );
            // By id, someone else's invitation is refused as a missing one.
            let (status, title) = match e {
                crate::store::StoreError::NotFound(_) => (403, "Not allowed"),
                _ => (409, "Invitation not usable"),
            };
            tenant_page(
                tenant,
                seen.lang,
                status,
                title,
                &format!("{e}."),
                &[("/.portero/accounts", "Your accounts")],
            )
        }
    }
}
