//! `/.portero/accounts`: the accounts a user takes part in (those entered
//! through a reseller marked so), the invitations addressed to them, and
//! (on reseller tenants with `account_picker`) choosing the one to enter.

use super::i18n::Lang;
use super::i18n::{tr, trf};
use super::pages::{self, escape};
use super::{
    read_form, read_query, return_to, same_origin, tenant_page, to_sign_in_page, unauthorized,
    Reply,
};
use crate::config::{Config, Tenant};
use crate::gate::Seen;
use crate::identity::{Permission, Permissions};
use crate::members::{self, Source};
use crate::membership::{AccountRule, MemberSource};
use crate::session::{session_cookie, SessionClaims};
use crate::state::State;
use crate::store::Invitation;
use std::fmt::Write;

/// `GET`: lists the user's accounts and the invitations addressed to them.
/// On a picker tenant, someone the gate sent here to choose (a `GET` with
/// `return_to`, no account chosen yet) who has exactly one account and no
/// pending invitation is taken straight into it, as [`choose`] would.
pub async fn list(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    let Some(s) = &seen.session else {
        return must_sign_in(tenant, seen);
    };
    let Source::Ready(dir) = members::resolve(state.store.as_ref(), tenant, s, state.now()) else {
        return super::members_unavailable(tenant, seen.lang);
    };
    let query = match read_query(tenant, seen) {
        Ok(q) => q,
        Err(bad) => return bad,
    };
    let return_to = return_to::sanitize(query.get("return_to"), cfg, seen.tenant_index);
    let lang = seen.lang;
    let memberships = dir.memberships(s.user());
    let store_tenant = matches!(tenant.members, MemberSource::Store) && state.store.is_some();
    let invitations = if store_tenant {
        super::invitations::pending_for(state, tenant, s).await
    } else {
        Some(Vec::new())
    };
    if let ([only], Some([]), true) = (
        memberships.as_slice(),
        invitations.as_deref(),
        straight_in(tenant, seen, s, query.get("return_to").is_some()),
    ) {
        return enter(state, cfg, tenant, seen, s, &only.account, return_to);
    }
    let strong = format!("<strong>{}</strong>", escape(s.email()));
    let mut body = format!("<p>{}</p>", trf(lang, "Signed in as {}.", &[&strong]));
    if let Some(list) = invitations.filter(|l| !l.is_empty()) {
        body.push_str(&received(lang, &list));
    }
    if memberships.is_empty() {
        let _ = write!(
            body,
            "<p>{}</p>",
            escape(&trf(
                lang,
                "You take part in no account of {} yet.",
                &[&tenant.display_name]
            ))
        );
    } else {
        body.push_str("<ul class=\"accounts\">");
        for m in &memberships {
            let direct = dir.direct(s.user(), &m.account);
            let mut perms = escape(&m.permissions.labels(lang));
            if direct.is_none() {
                if let Some(reseller) = dir.reseller(&m.account) {
                    let _ = write!(
                        perms,
                        " · {}",
                        escape(&trf(lang, "through {}", &[reseller]))
                    );
                }
            }
            let actions = if store_tenant {
                actions(lang, direct.map(|d| d.permissions), &m.account)
            } else {
                String::new()
            };
            let account = escape(&m.account);
            match &tenant.account_rule {
                AccountRule::Picker => {
                    let current = if s.account() == Some(m.account.as_str()) {
                        format!(" {}", tr(lang, "(current)"))
                    } else {
                        String::new()
                    };
                    let enter = escape(&trf(lang, "Enter {}", &[&m.account]));
                    let _ = write!(
                        body,
                        "<li><form method=\"post\" action=\"/.portero/accounts\">\
                         <input type=\"hidden\" name=\"account\" value=\"{account}\">\
                         <input type=\"hidden\" name=\"return_to\" value=\"{}\">\
                         <button type=\"submit\">{enter}</button>{current} <span class=\"muted\">{perms}</span></form>{actions}</li>",
                        escape(return_to)
                    );
                }
                AccountRule::FromHost { prefix, suffix } => {
                    let port = seen
                        .authority
                        .port()
                        .map(|p| format!(":{p}"))
                        .unwrap_or_default();
                    let href = format!("{}://{prefix}{}{suffix}{port}/", seen.scheme(), m.account);
                    let _ = write!(body, "<li><a href=\"{}\">{account}</a> <span class=\"muted\">{perms}</span>{actions}</li>", escape(&href));
                }
                AccountRule::Fixed(here) => {
                    let note = if here == &m.account {
                        format!(" — {}", escape(tr(lang, "this panel")))
                    } else {
                        String::new()
                    };
                    let _ = write!(
                        body,
                        "<li>{account}{note} <span class=\"muted\">{perms}</span>{actions}</li>"
                    );
                }
            }
        }
        body.push_str("</ul>");
    }
    let _ = write!(
        body,
        "<p><a class=\"button secondary\" href=\"/.portero/profile\">{}</a> <a class=\"button secondary\" href=\"/.portero/logout\">{}</a></p>",
        escape(tr(lang, "Your profile")),
        escape(tr(lang, "Sign out"))
    );
    Reply::html(
        200,
        pages::page(&tenant.brand(), lang, "Your accounts", &body),
    )
}

/// Whether this visit is one the gate sent to choose an account, on a
/// picker tenant, which may be answered by entering it at once: a `GET`
/// with `return_to`, by a session with no account chosen yet.
fn straight_in(tenant: &Tenant, seen: &Seen<'_>, s: &SessionClaims, sent: bool) -> bool {
    sent && seen.req.method == "GET"
        && matches!(tenant.account_rule, AccountRule::Picker)
        && s.account().is_none()
}

/// The invitations addressed to the signed-in person, each with its
/// account, permissions in words, inviter, end date, Accept and Reject.
fn received(lang: Lang, list: &[Invitation]) -> String {
    let mut out = format!(
        "<h2>{}</h2><ul class=\"invitations\">",
        escape(tr(lang, "Invitations for you"))
    );
    for inv in list {
        let perms = inv.permissions_in_words(lang);
        let _ = write!(
            out,
            "<li><strong>{}</strong> — {}<br><span class=\"muted\">{}</span> {}{}</li>",
            escape(&inv.account),
            escape(&perms),
            escape(&trf(
                lang,
                "Invited by {}; you can accept until {}.",
                &[&inv.invited_by, &crate::mail::utc_date(inv.expires_at)]
            )),
            super::invitations::decide_by_id(lang, &inv.id, "accept", "Accept"),
            super::invitations::decide_by_id(lang, &inv.id, "reject", "Reject"),
        );
    }
    out.push_str("</ul>");
    out
}

/// `POST` with `account` and `return_to`: enters that account (picker tenants).
pub fn choose(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    let Some(s) = &seen.session else {
        return must_sign_in(tenant, seen);
    };
    if !same_origin(seen) || !matches!(tenant.account_rule, AccountRule::Picker) {
        return tenant_page(
            tenant,
            seen.lang,
            403,
            "Not allowed",
            "Accounts cannot be chosen here.",
            &[("/.portero/accounts", "Your accounts")],
        );
    }
    let form = match read_form(tenant, seen) {
        Ok(f) => f,
        Err(bad) => return bad,
    };
    let account = form.owned("account").unwrap_or_default();
    let Source::Ready(dir) = members::resolve(state.store.as_ref(), tenant, s, state.now()) else {
        return super::members_unavailable(tenant, seen.lang);
    };
    if dir.membership(s.user(), &account).is_none() {
        return super::forbidden(tenant, seen.lang, s.email(), &account);
    }
    let return_to = return_to::sanitize(form.get("return_to"), cfg, seen.tenant_index);
    enter(state, cfg, tenant, seen, s, &account, return_to)
}

/// Enters `account` (a membership already checked): the session sealed
/// again with it, for what is left of its life, and back to `return_to`.
fn enter(
    state: &State,
    cfg: &Config,
    tenant: &Tenant,
    seen: &Seen<'_>,
    s: &SessionClaims,
    account: &str,
    return_to: &str,
) -> Reply {
    let chosen = s.with_account(account.to_string());
    let Some(sealed) = chosen.seal(&cfg.session.sealer) else {
        return Reply::html(500, super::internal_error_page(seen.lang));
    };
    let reauth = tenant.reauth.or(cfg.session.reauth);
    let left = reauth.map(|r| r.saturating_sub(state.now().saturating_sub(s.issued_at())));
    Reply::redirect(return_to).cookie(&session_cookie(
        cfg.session.session_name(seen.req.tls),
        &sealed,
        seen.req.tls,
        left,
    ))
}

/// The links to an account's members page (for those who may invite)
/// and to leaving it (for its direct members).
fn actions(lang: Lang, direct: Option<Permissions>, account: &str) -> String {
    let Some(held) = direct else {
        return String::new();
    };
    let q = escape(&pages::query_encode(account));
    let mut out = String::from(" <span class=\"actions\">");
    if held.has(Permission::Invite) {
        let _ = write!(
            out,
            "<a href=\"{}?account={q}\">{}</a> · ",
            super::team::PATH,
            escape(tr(lang, "Members"))
        );
    }
    let _ = write!(
        out,
        "<a href=\"{}?account={q}\">{}</a></span>",
        super::team::LEAVE,
        escape(tr(lang, "Leave"))
    );
    out
}

fn must_sign_in(tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    if seen.accepts_html {
        to_sign_in_page(&format!(
            "/.portero/accounts{}",
            seen.req.query.map(|q| format!("?{q}")).unwrap_or_default()
        ))
    } else {
        unauthorized(tenant)
    }
}
