//! Membership administration, shared by `portero accounts` and the admin
//! API: one [`Change`] applied to the store as an actor (a member, bound by
//! the rules of README's "Accounts and permissions") or as the operator,
//! with the audit line that says who did what.

use crate::identity::Permissions;
use crate::store::{parse_permissions, Invitation, Store, StoreError};

/// How long an invitation link works, in seconds (7 days).
pub const INVITATION_TTL: u64 = 7 * 24 * 3600;

/// One change to a tenant's memberships.
#[derive(Debug, Clone)]
pub enum Change {
    /// Adds (or sets) a member directly — the operator's way to seed an account.
    Add {
        /// The account.
        account: String,
        /// The user's e-mail.
        user: String,
        /// What they hold.
        permissions: Permissions,
    },
    /// Sets a member's permissions.
    Set {
        /// The account.
        account: String,
        /// The member.
        user: String,
        /// What they will hold.
        permissions: Permissions,
    },
    /// Removes a member.
    Remove {
        /// The account.
        account: String,
        /// The member.
        user: String,
    },
    /// Invites someone.
    Invite {
        /// The account.
        account: String,
        /// Who.
        email: String,
        /// What they will hold.
        permissions: Permissions,
    },
    /// Sends an invitation again (a new link; the old one stops working).
    Resend {
        /// The invitation.
        id: String,
    },
    /// Cancels an invitation.
    Cancel {
        /// The invitation.
        id: String,
    },
    /// Makes `account` a client account of `reseller` (operator).
    Reseller {
        /// The client account.
        account: String,
        /// Its reseller.
        reseller: String,
    },
    /// Sets the panel login a member acts as (operator).
    Impersonate {
        /// The account.
        account: String,
        /// The member.
        user: String,
        /// The panel's login name (`None`: none).
        login: Option<String>,
    },
}

/// What a change did: a sentence for people and the audit log, and the
/// invitation (with its one-time token) when one was made or re-sent.
#[derive(Debug)]
pub struct Done {
    /// What happened.
    pub summary: String,
    /// The invitation and its token.
    pub invitation: Option<(Invitation, String)>,
}

/// Reads a change from named fields (the admin API's form, the command
/// line's options): `action` is add, set, remove, invite, resend, cancel,
/// reseller or impersonate.
pub fn parse(action: &str, field: &dyn Fn(&str) -> Option<String>) -> Result<Change, String> {
    let need = |name: &str| {
        field(name)
            .filter(|v| !v.trim().is_empty())
            .ok_or(format!("`{action}` needs `{name}`"))
    };
    let email = |name: &str| -> Result<String, String> {
        let raw = need(name)?;
        crate::auth::normalize_email(&raw).ok_or(format!("`{raw}` is not an e-mail address"))
    };
    let account = || need("account").map(|a| a.trim().to_ascii_lowercase());
    let perms = || need("permissions").and_then(|p| parse_permissions(&p));
    Ok(match action {
        "add" => Change::Add { account: account()?, user: email("user")?, permissions: perms()? },
        "set" => Change::Set { account: account()?, user: email("user")?, permissions: perms()? },
        "remove" => Change::Remove { account: account()?, user: email("user")? },
        "invite" => Change::Invite { account: account()?, email: email("email")?, permissions: perms()? },
        "resend" => Change::Resend { id: need("id")? },
        "cancel" => Change::Cancel { id: need("id")? },
        "reseller" => Change::Reseller { account: account()?, reseller: need("reseller")?.trim().to_ascii_lowercase() },
        "impersonate" => Change::Impersonate {
            account: account()?,
            user: email("user")?,
            login: field("login").filter(|l| !l.trim().is_empty()),
        },
        other => return Err(format!("unknown action `{other}` (add, set, remove, invite, resend, cancel, reseller, impersonate)")),
    })
}

/// Why an `actor` (admin API) or `--as` (command line) was refused: it is
/// never taken for the operator instead.
#[derive(Debug, thiserror::Error)]
pub enum BadActor {
    /// Given, but not an e-mail address (`mallory`, empty).
    #[error("`{0}` is not an e-mail address; give the member's e-mail, or leave it out to act as the operator")]
    NotEmail(String),
    /// An e-mail, but of nobody who is a member of the tenant.
    #[error("{0} is not a member of any account of this tenant")]
    NotMember(String),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who acts on a change: `None` when no actor is given (the operator);
/// when one is given, exactly one e-mail of a member of `tenant`, or an
/// error — an unparsable or unknown actor is never the operator.
pub async fn resolve_actor(
    store: &Store,
    tenant: &str,
    given: Option<&str>,
) -> Result<Option<String>, BadActor> {
    let Some(raw) = given else {
        return Ok(None);
    };
    let email =
        crate::auth::normalize_email(raw).ok_or_else(|| BadActor::NotEmail(raw.to_string()))?;
    if !store.is_member(tenant, &email).await? {
        return Err(BadActor::NotMember(email));
    }
    Ok(Some(email))
}

/// Applies `change` to `tenant` as `actor` (`None`: the operator).
pub async fn apply(
    store: &Store,
    tenant: &str,
    actor: Option<&str>,
    change: &Change,
    now: u64,
) -> Result<Done, StoreError> {
    let operator_only = |what: &str| {
        if actor.is_some() {
            Err(StoreError::Invitation(format!(
                "only the operator may {what}; members invite"
            )))
        } else {
            Ok(())
        }
    };
    let done = |summary: String| Done {
        summary,
        invitation: None,
    };
    Ok(match change {
        Change::Add {
            account,
            user,
            permissions,
        } => {
            operator_only("add members directly")?;
            store
                .add_member(tenant, account, user, *permissions, now)
                .await?;
            done(format!(
                "{user} is a member of {account} with {permissions}"
            ))
        }
        Change::Set {
            account,
            user,
            permissions,
        } => {
            let before = store
                .set_permissions(tenant, actor, account, user, *permissions)
                .await?;
            done(format!("{user} in {account}: {before} → {permissions}"))
        }
        Change::Remove { account, user } => {
            store.remove_member(tenant, actor, account, user).await?;
            done(format!("{user} removed from {account}"))
        }
        Change::Invite {
            account,
            email,
            permissions,
        } => {
            let (inv, token) = store
                .invite(
                    tenant,
                    actor,
                    account,
                    email,
                    *permissions,
                    now,
                    INVITATION_TTL,
                )
                .await?;
            Done {
                summary: format!(
                    "{email} invited to {account} with {permissions} (invitation {})",
                    inv.id
                ),
                invitation: Some((inv, token)),
            }
        }
        Change::Resend { id } => {
            let (inv, token) = store.resend(tenant, actor, id, now, INVITATION_TTL).await?;
            Done {
                summary: format!(
                    "invitation {id} for {} re-sent; the old link no longer works",
                    inv.email
                ),
                invitation: Some((inv, token)),
            }
        }
        Change::Cancel { id } => {
            let inv = store.cancel(tenant, actor, id, now).await?;
            done(format!("invitation {id} for {} cancelled", inv.email))
        }
        Change::Reseller { account, reseller } => {
            operator_only("set resellers")?;
            store.put_account(tenant, account, Some(reseller)).await?;
            done(format!("{account} is a client account of {reseller}"))
        }
        Change::Impersonate {
            account,
            user,
            login,
        } => {
            operator_only("map panel logins")?;
            store
                .set_impersonate(tenant, account, user, login.as_deref())
                .await?;
            done(match login {
                Some(l) => format!("{user} acts as {l} in {account}"),
                None => format!("{user} acts as themselves in {account}"),
            })
        }
    })
}

/// The path of an invitation link (on any of the tenant's hosts).
pub fn invitation_path(token: &str) -> String {
    format!("/.portero/invitations?token={token}")
}
