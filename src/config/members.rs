//! Where a tenant's memberships come from: `membership = …`, the static
//! `[[tenant.member]]` list, `[[tenant.client_account]]`,
//! `[tenant.panel_members]` and `[tenant.roles]`.

use super::context::Ctx;
use super::raw::RawTenant;
use crate::auth::normalize_email;
use crate::identity::{Permission, Permissions};
use crate::membership::panel::PanelEndpoint;
use crate::membership::roles::RoleMap;
use crate::membership::MemberSource;
use crate::membership::{AccountRule, Directory, Membership};
use std::sync::Arc;

/// A tenant's memberships: its source (`None` after an error) and its
/// reseller client accounts, (client, reseller).
pub(super) fn compile(
    cx: &mut Ctx<'_>,
    raw: &RawTenant,
    account_rule: Option<&AccountRule>,
    w: &str,
) -> (Option<MemberSource>, Vec<(String, String)>) {
    let mut directory = static_members(cx, raw, account_rule, w);
    let client_accounts = client_accounts(cx, raw, w);
    for (client, reseller) in &client_accounts {
        directory.set_reseller(client, reseller);
    }
    directory.sublogin_keeps_sublogin = raw.sublogin_keeps_sublogin.unwrap_or(false);
    let source = compile_members(cx, raw, directory, account_rule, w);
    (source, client_accounts)
}

/// `[[tenant.member]]`: each user's permissions in one account (read
/// whatever `membership` says, so that mistakes are found either way).
fn static_members(
    cx: &mut Ctx<'_>,
    raw: &RawTenant,
    account_rule: Option<&AccountRule>,
    w: &str,
) -> Directory {
    let mut directory = Directory::default();
    for m in &raw.member {
        let Some(user) = normalize_email(m.user.get_ref()) else {
            cx.err(
                m.user.span(),
                format!(
                    "{w} member: `{}` is not an e-mail address",
                    m.user.get_ref()
                ),
            );
            continue;
        };
        let mut perms = Vec::new();
        for p in m.permissions.get_ref() {
            match Permission::parse(p.get_ref()) {
                Some(p) => perms.push(p),
                None => cx.err(
                    p.span(),
                    format!("{w} member {user}: `{}` is not a permission (admin, commercial, invite, sublogin, technical)", p.get_ref()),
                ),
            }
        }
        if m.permissions.get_ref().is_empty() {
            cx.err(
                m.permissions.span(),
                format!("{w} member {user}: permissions is empty"),
            );
        }
        let account = m.account.get_ref().trim().to_ascii_lowercase();
        if account.is_empty() {
            cx.err(
                m.account.span(),
                format!("{w} member {user}: account is empty"),
            );
        }
        if let Some(AccountRule::Fixed(fixed)) = account_rule {
            if *fixed != account {
                cx.warn(
                    m.account.span(),
                    format!("{w} member {user}: account `{account}` is never entered: this tenant always enters `{fixed}`"),
                );
            }
        }
        if directory.membership(&user, &account).is_some() {
            cx.err(
                m.user.span(),
                format!("{w}: {user} is listed twice for account {account}"),
            );
        }
        let permissions = Permissions::of(perms);
        directory.add(
            &user,
            m.name.clone(),
            Membership {
                account,
                permissions,
                permissions_header: permissions.header_value().into(),
                impersonate: m.impersonate.as_ref().map(|i| i.get_ref().clone()),
                since: 0,
            },
        );
    }
    directory
}

/// `[[tenant.client_account]]`: a reseller's client accounts, lowercase.
fn client_accounts(cx: &mut Ctx<'_>, raw: &RawTenant, w: &str) -> Vec<(String, String)> {
    raw.client_account
        .iter()
        .map(|c| {
            let (name, reseller) = (
                c.name.get_ref().trim().to_ascii_lowercase(),
                c.reseller.get_ref().trim().to_ascii_lowercase(),
            );
            if name.is_empty() || reseller.is_empty() || name == reseller {
                cx.err(
                    c.name.span(),
                    format!("{w} client_account: name and reseller must be two accounts"),
                );
            }
            (name, reseller)
        })
        .collect()
}

/// `membership = …` and what it needs: `static` (the `[[tenant.member]]`
/// list; the default when there is one), `store` (the default otherwise),
/// `panel` (`[tenant.panel_members]`) or `idp` (`[tenant.roles]` and the
/// IdP's role attribute).
fn compile_members(
    cx: &mut Ctx<'_>,
    raw: &RawTenant,
    directory: Directory,
    account_rule: Option<&AccountRule>,
    w: &str,
) -> Option<MemberSource> {
    let default = if raw.member.is_empty() {
        "store"
    } else {
        "static"
    };
    let (kind, span) = match &raw.membership {
        Some(m) => (m.get_ref().as_str(), m.span()),
        None => (default, raw.name.span()),
    };
    if kind != "static" && !raw.member.is_empty() {
        cx.err(
            span.clone(),
            format!("{w}: [[tenant.member]] entries are only read with membership = \"static\""),
        );
    }
    if kind != "panel" && raw.panel_members.is_some() {
        cx.warn(
            span.clone(),
            format!("{w}: [tenant.panel_members] is only read with membership = \"panel\""),
        );
    }
    if kind != "idp" && raw.roles.is_some() {
        cx.warn(
            span.clone(),
            format!("{w}: [tenant.roles] is only read with membership = \"idp\""),
        );
    }
    match kind {
        "static" => Some(MemberSource::Static(directory)),
        "store" => Some(MemberSource::Store),
        "panel" => {
            let Some(p) = &raw.panel_members else {
                cx.err(
                    span,
                    format!(
                        "{w}: membership = \"panel\" needs [tenant.panel_members] with its url"
                    ),
                );
                return None;
            };
            let p = p.get_ref();
            if let Err(e) = crate::outbound::check_url(p.url.get_ref()) {
                cx.err(p.url.span(), format!("{w}: panel_members.url: {e}"));
            }
            let token = p
                .token
                .as_ref()
                .and_then(|t| cx.secret(t, &format!("{w} panel_members.token")));
            let ttl = cx.duration(&p.ttl, 60, &format!("{w} panel_members.ttl"));
            let negative = cx.duration(
                &p.negative_ttl,
                30,
                &format!("{w} panel_members.negative_ttl"),
            );
            let stale = cx.duration(&p.stale_for, 600, &format!("{w} panel_members.stale_for"));
            Some(MemberSource::Panel(Arc::new(PanelEndpoint::new(
                p.url.get_ref(),
                token,
                ttl,
                negative,
                stale,
            ))))
        }
        "idp" => {
            let mut map = RoleMap::default();
            let roles_named = raw.saml.as_ref().is_some_and(|s| {
                s.get_ref()
                    .attributes
                    .as_ref()
                    .is_some_and(|a| a.roles.is_some())
            }) || raw.oidc.as_ref().is_some_and(|o| {
                o.get_ref()
                    .claims
                    .as_ref()
                    .is_some_and(|c| c.roles.is_some())
            });
            if !roles_named {
                cx.err(span.clone(), format!("{w}: membership = \"idp\" needs the role attribute named: roles in [tenant.saml.attributes] or [tenant.oidc.claims]"));
            }
            map.account = match account_rule {
                Some(AccountRule::Fixed(a)) => Some(a.clone()),
                _ => None,
            };
            if let Some(r) = &raw.roles {
                if let Some(a) = &r.account {
                    map.account = Some(a.get_ref().trim().to_ascii_lowercase());
                }
                if let Some(list) = &r.whitelabel_admin {
                    map.whitelabel_admin =
                        cx.permission_list(list, &format!("{w} roles.whitelabel_admin"));
                }
                if let Some(list) = &r.whitelabel_manager {
                    map.whitelabel_manager =
                        cx.permission_list(list, &format!("{w} roles.whitelabel_manager"));
                }
            }
            Some(MemberSource::Idp(map))
        }
        other => {
            cx.err(
                span,
                format!("{w}: membership `{other}` is not one of store, static, panel, idp"),
            );
            None
        }
    }
}
