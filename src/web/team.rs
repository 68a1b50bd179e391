//! `/.portero/accounts/members`: the people of one account, for its
//! members who may invite (or hold `admin`): who takes part and with
//! which permissions, the invitations still pending, inviting someone,
//! changing or removing a member; and leaving an account, for any member.
//! Every change goes through [`crate::members::change::carry_out`], the
//! same path as the admin API, so the same rules refuse the same things.

use super::i18n::{tr, trf, Lang};
use super::pages::{self, escape, query_encode};
use super::{read_form, read_query, tenant_page, to_sign_in_page, unauthorized, Reply};
use crate::config::{Config, Tenant};
use crate::gate::Seen;
use crate::identity::{Permission, Permissions};
use crate::members::admin::Change;
use crate::members::change::{carry_out, Asker, Mailed};
use crate::membership::MemberSource;
use crate::session::SessionClaims;
use crate::state::State;
use crate::store::StoreError;
use std::fmt::Write;

/// The page's path.
pub const PATH: &str = "/.portero/accounts/members";
/// The leave confirmation's path.
pub const LEAVE: &str = "/.portero/accounts/leave";

/// A signed-in member of a store tenant, or the reply that says why not.
fn member<'s>(
    state: &State,
    tenant: &Tenant,
    seen: &'s Seen<'_>,
) -> Result<&'s SessionClaims, Reply> {
    if !matches!(tenant.members, MemberSource::Store) || state.store.is_none() {
        return Err(super::not_found(tenant, seen.lang));
    }
    match &seen.session {
        Some(s) => Ok(s),
        None if seen.accepts_html => Err(to_sign_in_page(&seen.path_and_query())),
        None => Err(unauthorized(tenant)),
    }
}

/// What `user` holds in `account` now (from the store itself, not a snapshot).
fn held(state: &State, tenant: &Tenant, user: &str, account: &str) -> Option<Permissions> {
    let dir = state.store.as_ref()?.get(&tenant.name)?;
    dir.direct(user, account).map(|m| m.permissions)
}

fn back_links(lang: Lang, account: &str) -> String {
    format!(
        "<p><a class=\"button secondary\" href=\"{PATH}?account={}\">{}</a> <a class=\"button secondary\" href=\"/.portero/accounts\">{}</a></p>",
        escape(&query_encode(account)),
        escape(tr(lang, "Members")),
        escape(tr(lang, "Your accounts"))
    )
}

/// The signed-in member, the account the query names (`?account=…`) and
/// what they hold in it; or the reply that says why not (sign in first,
/// not a member of it).
fn member_of_asked<'s>(
    state: &State,
    tenant: &Tenant,
    seen: &'s Seen<'_>,
) -> Result<(&'s SessionClaims, String, Permissions), Reply> {
    let s = member(state, tenant, seen)?;
    let account = read_query(tenant, seen)?
        .owned("account")
        .unwrap_or_default();
    match held(state, tenant, s.user(), &account) {
        Some(mine) => Ok((s, account, mine)),
        None => Err(super::forbidden(tenant, seen.lang, s.email(), &account)),
    }
}

/// `GET ?account=…`: the account's members, invitations and the invite form.
pub async fn show(state: &State, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    let (s, account, mine) = match member_of_asked(state, tenant, seen) {
        Ok(found) => found,
        Err(r) => return r,
    };
    let lang = seen.lang;
    if !mine.has(Permission::Invite) {
        return tenant_page(
            tenant,
            lang,
            403,
            "Not allowed",
            "Only members who may invite see and change who takes part in this account.",
            &[("/.portero/accounts", "Your accounts")],
        );
    }
    let (Some(handle), Some(dir)) = (
        state.store.as_ref(),
        state.store.as_ref().and_then(|h| h.get(&tenant.name)),
    ) else {
        return super::members_unavailable(tenant, lang);
    };
    let invitations = match handle
        .store
        .invitations(&tenant.name, &account, state.now())
        .await
    {
        Ok(list) => list,
        Err(e) => {
            tracing::error!("membership store: {e}");
            return super::directory_unavailable(tenant, lang);
        }
    };
    let acct = escape(&account);
    let mut body = String::new();
    let _ = write!(
        body,
        "<p>{}</p><table class=\"members\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
        trf(lang, "People who take part in {}.", &[&format!("<strong>{acct}</strong>")]),
        escape(tr(lang, "Member")),
        escape(tr(lang, "Permissions")),
        escape(tr(lang, "Since"))
    );
    for (user, m) in dir.members_of(&account) {
        let who = match dir.name(user) {
            Some(n) => format!(
                "{}<br><span class=\"muted\">{}</span>",
                escape(n),
                escape(user)
            ),
            None => escape(user),
        };
        let you = if user == s.user() {
            format!(
                " <span class=\"muted\">({})</span>",
                escape(tr(lang, "you"))
            )
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<tr><td>{who}{you}</td><td>{}</td><td>{}</td><td><details><summary>{}</summary>\
             <form method=\"post\" action=\"{PATH}\"><input type=\"hidden\" name=\"action\" value=\"set\">\
             <input type=\"hidden\" name=\"account\" value=\"{acct}\"><input type=\"hidden\" name=\"user\" value=\"{}\">{}\
             <button type=\"submit\">{}</button></form>\
             <form method=\"post\" action=\"{PATH}\"><input type=\"hidden\" name=\"action\" value=\"remove\">\
             <input type=\"hidden\" name=\"account\" value=\"{acct}\"><input type=\"hidden\" name=\"user\" value=\"{}\">\
             <button class=\"secondary\" type=\"submit\">{}</button></form></details></td></tr>",
            escape(&m.permissions.labels(lang)),
            since(m.since),
            escape(tr(lang, "Change")),
            escape(user),
            choices(lang, mine, Some(m.permissions)),
            escape(tr(lang, "Save permissions")),
            escape(user),
            escape(tr(lang, "Remove from the account")),
        );
    }
    body.push_str("</tbody></table>");
    let pending: Vec<_> = invitations
        .iter()
        .filter(|i| i.state == "pending")
        .collect();
    if !pending.is_empty() {
        let _ = write!(
            body,
            "<h2>{}</h2><ul class=\"invitations\">",
            escape(tr(lang, "Invitations pending"))
        );
        for inv in pending {
            let perms = inv.permissions_in_words(lang);
            let form = |action: &str, label: &str, class: &str| {
                format!(
                    "<form class=\"inline\" method=\"post\" action=\"{PATH}\"><input type=\"hidden\" name=\"action\" value=\"{action}\">\
                     <input type=\"hidden\" name=\"account\" value=\"{acct}\"><input type=\"hidden\" name=\"id\" value=\"{}\">\
                     <button class=\"{class}\" type=\"submit\">{}</button></form>",
                    escape(&inv.id),
                    escape(tr(lang, label))
                )
            };
            let _ = write!(
                body,
                "<li><strong>{}</strong> — {}<br><span class=\"muted\">{}</span> {}{}</li>",
                escape(&inv.email),
                escape(&perms),
                escape(&trf(
                    lang,
                    "Invited by {}; the link works until {}.",
                    &[&inv.invited_by, &crate::mail::utc_date(inv.expires_at)]
                )),
                form("resend", "Send again", ""),
                form("cancel", "Cancel", "secondary"),
            );
        }
        body.push_str("</ul>");
    }
    let _ = write!(
        body,
        "<h2>{}</h2><form method=\"post\" action=\"{PATH}\"><input type=\"hidden\" name=\"action\" value=\"invite\">\
         <input type=\"hidden\" name=\"account\" value=\"{acct}\">\
         <label for=\"email\">{}</label><input id=\"email\" type=\"email\" name=\"email\" required autocomplete=\"off\">\
         <details><summary>{}</summary><p class=\"muted\">{}</p>{}</details>\
         <button type=\"submit\">{}</button></form>",
        escape(tr(lang, "Invite someone")),
        escape(tr(lang, "E-mail address")),
        escape(tr(lang, "Choose permissions")),
        escape(&if mine.has(Permission::Admin) {
            tr(lang, "Without a choice, the invited person gets Administrator (everything).")
                .to_string()
        } else {
            trf(
                lang,
                "Without a choice, the invited person gets what you hold: {}.",
                &[&mine.labels(lang)],
            )
        }),
        choices(lang, mine, None),
        escape(tr(lang, "Send invitation")),
    );
    let _ = write!(
        body,
        "<p><a class=\"button secondary\" href=\"/.portero/accounts\">{}</a></p>",
        escape(tr(lang, "Your accounts"))
    );
    Reply::html(200, pages::page(&tenant.brand(), lang, "Members", &body))
}

/// When a member joined, as a date (`—` for memberships from before the
/// store kept it, and for the operator's configuration).
fn since(at: u64) -> String {
    if at == 0 {
        "—".into()
    } else {
        escape(&crate::mail::utc_date(at))
    }
}

/// One checkbox per permission (`p_<name>`), with its description; those
/// the actor does not hold are disabled, with why.
fn choices(lang: Lang, mine: Permissions, checked: Option<Permissions>) -> String {
    let mut out = String::from("<ul class=\"choices\">");
    for p in Permission::ALL {
        let on = checked.is_some_and(|c| c.has(p));
        let may = mine.has(p);
        let why = if may {
            String::new()
        } else {
            format!(
                "<br><span class=\"muted\">{}</span>",
                escape(tr(
                    lang,
                    "You do not hold this permission, so you cannot grant or remove it."
                ))
            )
        };
        let _ = write!(
            out,
            "<li><label class=\"choice\"><input type=\"checkbox\" name=\"p_{}\" value=\"1\"{}{}> {}</label>\
             <span class=\"muted\">{}</span>{why}</li>",
            p.as_str(),
            if on { " checked" } else { "" },
            if may { "" } else { " disabled" },
            escape(p.label(lang)),
            escape(p.description(lang)),
        );
    }
    out.push_str("</ul>");
    out
}

/// The permissions ticked on a form (`None`: none ticked).
fn ticked(form: &super::Fields) -> Option<Permissions> {
    let set = Permissions::of(
        Permission::ALL
            .into_iter()
            .filter(|p| form.get(&format!("p_{}", p.as_str())).is_some()),
    );
    (!set.is_empty()).then_some(set)
}

/// `GET ?account=…`: "leave this account?" with a confirming button.
pub fn confirm_leave(state: &State, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    let (_, account, _) = match member_of_asked(state, tenant, seen) {
        Ok(found) => found,
        Err(r) => return r,
    };
    let lang = seen.lang;
    let body = format!(
        "<p>{}</p><form method=\"post\" action=\"{PATH}\"><input type=\"hidden\" name=\"action\" value=\"leave\">\
         <input type=\"hidden\" name=\"account\" value=\"{}\"><button type=\"submit\">{}</button> \
         <a class=\"button secondary\" href=\"/.portero/accounts\">{}</a></form>",
        escape(&trf(
            lang,
            "Leave {}? You will no longer enter it; another member can invite you again.",
            &[&account]
        )),
        escape(&account),
        escape(tr(lang, "Leave the account")),
        escape(tr(lang, "Stay")),
    );
    Reply::html(
        200,
        pages::page(&tenant.brand(), lang, "Leave the account", &body),
    )
}

/// `POST`: one change (`action` = invite, set, remove, resend, cancel,
/// leave) to `account`, as the signed-in member.
pub async fn change(state: &State, cfg: &Config, tenant: &Tenant, seen: &Seen<'_>) -> Reply {
    let s = match member(state, tenant, seen) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = seen.lang;
    if let Err(refused) = super::fields::from_this_site(tenant, seen, &[]) {
        return refused;
    }
    let form = match read_form(tenant, seen) {
        Ok(f) => f,
        Err(bad) => return bad,
    };
    let account = form
        .owned("account")
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let action = form.get("action").unwrap_or("");
    // Only a member acts on an account (the store checks it again, in the
    // transaction that makes the change).
    let Some(mine) = held(state, tenant, s.user(), &account) else {
        return super::forbidden(tenant, lang, s.email(), &account);
    };
    let change = match action {
        "leave" => Ok(Change::Remove {
            account: account.clone(),
            user: s.user().to_string(),
        }),
        "invite" | "set" => {
            // An invitation with nothing ticked offers what the inviter
            // holds (Administrator for an administrator): all they may grant.
            let permissions = ticked(&form).or_else(|| (action == "invite").then_some(mine));
            let field = |name: &str| match name {
                "permissions" => permissions.map(|p| p.header_value()),
                "account" => Some(account.clone()),
                other => form.owned(other),
            };
            crate::members::admin::parse(action, &field)
        }
        "remove" | "resend" | "cancel" => {
            let field = |name: &str| match name {
                "account" => Some(account.clone()),
                other => form.owned(other),
            };
            crate::members::admin::parse(action, &field)
        }
        other => Err(format!("unknown action `{other}`")),
    };
    let change = match change {
        Ok(c) => c,
        Err(e) => {
            return tenant_page(
                tenant,
                lang,
                400,
                "Nothing was changed",
                &format!("{e}."),
                &[],
            )
        }
    };
    // Resending or cancelling names an invitation: it must be this account's.
    if let Change::Resend { id } | Change::Cancel { id } = &change {
        let of_this = match state.store.as_ref() {
            Some(h) => h
                .store
                .invitation(&tenant.name, id, state.now())
                .await
                .ok()
                .filter(|i| i.account == account),
            None => None,
        };
        if of_this.is_none() {
            return super::forbidden(tenant, lang, s.email(), &account);
        }
    }
    let asker = Asker {
        actor: Some(s.user()),
        via: "accounts page",
        client: Some(seen.client_ip),
        lang,
    };
    let origin = seen.origin();
    match carry_out(state, cfg, tenant, asker, &change, Some(&origin)).await {
        Ok(done) => done_page(tenant, lang, &account, action, &done),
        Err(e) => refused_page(tenant, lang, &account, action, &e),
    }
}

fn done_page(
    tenant: &Tenant,
    lang: Lang,
    account: &str,
    action: &str,
    done: &crate::members::change::Carried,
) -> Reply {
    let mut body = String::new();
    if action == "leave" {
        let _ = write!(
            body,
            "<p>{}</p><p><a class=\"button\" href=\"/.portero/accounts\">{}</a></p>",
            escape(&trf(
                lang,
                "You left {}. Another member can invite you again.",
                &[account]
            )),
            escape(tr(lang, "Your accounts"))
        );
        return Reply::html(
            200,
            pages::page(&tenant.brand(), lang, "Account left", &body),
        );
    }
    let _ = write!(body, "<p>{}</p>", escape(tr(lang, "Done.")));
    if let (Some(inv), Some(link)) = (&done.invitation, &done.link) {
        let said = match &done.mailed {
            Mailed::Sent => trf(lang, "An invitation was sent to {}.", &[&inv.email]),
            Mailed::Failed(e) => trf(
                lang,
                "The invitation for {} is kept, but its mail could not be sent ({}). Pass on this link yourself:",
                &[&inv.email, e],
            ),
            Mailed::NotConfigured | Mailed::NoInvitation => trf(
                lang,
                "The invitation for {} is ready. Pass on this link:",
                &[&inv.email],
            ),
        };
        let _ = write!(body, "<p>{}</p>", escape(&said));
        if done.mailed != Mailed::Sent {
            let _ = write!(body, "<p><code class=\"link\">{}</code></p>", escape(link));
        }
    } else {
        let _ = write!(body, "<p class=\"muted\">{}</p>", escape(&done.summary));
    }
    body.push_str(&back_links(lang, account));
    Reply::html(200, pages::page(&tenant.brand(), lang, "Members", &body))
}

fn refused_page(tenant: &Tenant, lang: Lang, account: &str, action: &str, e: &StoreError) -> Reply {
    if e.is_unreachable() {
        return super::directory_unavailable(tenant, lang);
    }
    use crate::store::rules::RuleError;
    let (status, message) = match e {
        StoreError::Rule(RuleError::LastMember) if action == "leave" => (
            409,
            tr(lang, "An account cannot be left empty: you are its last member. Invite someone else first, then leave.").to_string(),
        ),
        StoreError::Rule(RuleError::LastMember) => (
            409,
            tr(lang, "An account never loses its last member.").to_string(),
        ),
        StoreError::Rule(RuleError::NotAMember) => (
            403,
            tr(lang, "You are not a member of this account.").to_string(),
        ),
        StoreError::Rule(RuleError::NoInvite) => (
            403,
            tr(lang, "Inviting needs the Invite permission.").to_string(),
        ),
        StoreError::Rule(RuleError::BeyondOwn(which)) => (
            403,
            trf(
                lang,
                "You can only grant or remove permissions you hold yourself, and you do not hold: {}.",
                &[&labels_of(lang, which)],
            ),
        ),
        StoreError::Rule(RuleError::NoPermissions) => (
            400,
            tr(lang, "Choose at least one permission.").to_string(),
        ),
        StoreError::NotFound(what) | StoreError::Invitation(what) => (409, format!("{what}.")),
        _ => (500, tr(lang, "The change could not be saved; nothing was changed. Please try again.").to_string()),
    };
    let members = format!("{PATH}?account={}", query_encode(account));
    let links = [
        (members.as_str(), "Members"),
        ("/.portero/accounts", "Your accounts"),
    ];
    // Leaving leads back to the accounts; the members page is only for
    // those who may invite.
    let links = if action == "leave" || matches!(e, StoreError::Rule(RuleError::NoInvite)) {
        &links[1..]
    } else {
        &links[..]
    };
    tenant_page(tenant, lang, status, "Nothing was changed", &message, links)
}

/// `technical,commercial` in words.
fn labels_of(lang: Lang, list: &str) -> String {
    list.split(',')
        .filter_map(Permission::parse)
        .map(|p| p.label(lang))
        .collect::<Vec<_>>()
        .join(", ")
}
