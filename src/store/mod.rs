//! The embedded store: a SQLite file under `[server].data_dir` holding each
//! tenant's accounts (and their resellers), users, memberships and
//! invitations. Created on first start; the schema is migrated by version
//! (`PRAGMA user_version`).
//!
//! Requests never read it: each tenant's memberships are loaded into a
//! [`Directory`] snapshot, loaded again after every change (and when
//! another process, such as `portero accounts`, changed the file). Every
//! change runs in one `BEGIN IMMEDIATE` transaction that also checks the
//! rules of [`rules`], so two administrators acting at once cannot both
//! remove an account's last two members.

pub mod rules;

use crate::identity::{Directory, Membership, Permission, Permissions};
use rules::{Actor, RuleError};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The schema, one step per version; never edit a released step, add one.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, users, memberships, invitations.
    "CREATE TABLE accounts (
        tenant TEXT NOT NULL, name TEXT NOT NULL, reseller TEXT,
        PRIMARY KEY (tenant, name));
     CREATE TABLE users (
        tenant TEXT NOT NULL, email TEXT NOT NULL, name TEXT, username TEXT, roles TEXT,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, email));
     CREATE TABLE members (
        tenant TEXT NOT NULL, account TEXT NOT NULL, user TEXT NOT NULL,
        permissions INTEGER NOT NULL, impersonate TEXT,
        PRIMARY KEY (tenant, account, user));
     CREATE INDEX members_by_user ON members (tenant, user);
     CREATE TABLE invitations (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, account TEXT NOT NULL,
        email TEXT NOT NULL, permissions INTEGER NOT NULL, invited_by TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE, expires_at INTEGER NOT NULL,
        state TEXT NOT NULL, created_at INTEGER NOT NULL);",
];

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule of CONTRACT §7 refuses the change.
    #[error("{0}")]
    Rule(#[from] RuleError),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The invitation cannot be used (used, cancelled, rejected, expired, or
    /// for another e-mail).
    #[error("{0}")]
    Invitation(String),
    /// The database.
    #[error("store: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A file written by a newer Portero.
    #[error("the store {0} has schema version {1}, newer than this Portero knows ({2})")]
    TooNew(PathBuf, i64, usize),
}

/// What an IdP says about a person, for provisioning.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    /// The e-mail (the user's key).
    pub email: &'a str,
    /// The display name.
    pub name: Option<&'a str>,
    /// The username (the tenant's username attribute or claim).
    pub username: Option<&'a str>,
    /// The roles.
    pub roles: &'a [String],
}

/// An invitation, as listed (the token itself is shown only once).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Invitation {
    /// Its id (stable across re-sends).
    pub id: String,
    /// The account it lets one into.
    pub account: String,
    /// Who is invited.
    pub email: String,
    /// What they will hold.
    pub permissions: String,
    /// Who invited (an e-mail, or `operator`).
    pub invited_by: String,
    /// `pending`, `accepted`, `rejected`, `cancelled` (or `expired`).
    pub state: String,
    /// When the current link stops working (Unix seconds).
    pub expires_at: u64,
}

/// The store file.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn random_token() -> Result<String, StoreError> {
    use base64::Engine;
    let mut bytes = [0u8; 24];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| StoreError::Invitation(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn hash_token(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn perms(bits: i64) -> Permissions {
    Permissions::from_bits(u8::try_from(bits).unwrap_or(0))
}

impl Store {
    /// Opens (creating if needed) the store file and brings its schema up
    /// to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len();
        if version > known as i64 {
            return Err(StoreError::TooNew(path.to_path_buf(), version, known));
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (i, step) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(step)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Changes when any connection (this process or another) commits.
    pub fn data_version(&self) -> u64 {
        self.conn()
            .pragma_query_value(None, "data_version", |r| r.get::<_, i64>(0))
            .map(|v| v as u64)
            .unwrap_or(0)
    }

    /// A tenant's memberships, resellers and user names, for lookups
    /// without I/O.
    pub fn directory(&self, tenant: &str) -> Result<Directory, StoreError> {
        let conn = self.conn();
        let mut dir = Directory::default();
        let mut q = conn.prepare(
            "SELECT name, reseller FROM accounts WHERE tenant = ?1 AND reseller IS NOT NULL",
        )?;
        for row in q.query_map(params![tenant], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })? {
            let (account, reseller) = row?;
            dir.set_reseller(&account, &reseller);
        }
        let mut q = conn.prepare(
            "SELECT m.user, m.account, m.permissions, m.impersonate, u.name
             FROM members m LEFT JOIN users u ON u.tenant = m.tenant AND u.email = m.user
             WHERE m.tenant = ?1 ORDER BY m.user, m.account",
        )?;
        let rows = q.query_map(params![tenant], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        for row in rows {
            let (user, account, bits, impersonate, name) = row?;
            let permissions = perms(bits);
            dir.add(
                &user,
                name,
                Membership {
                    account,
                    permissions,
                    permissions_header: permissions.header_value().into(),
                    impersonate,
                },
            );
        }
        Ok(dir)
    }

    /// Adds an account (with its reseller, for client accounts), or
    /// changes its reseller.
    pub fn put_account(
        &self,
        tenant: &str,
        account: &str,
        reseller: Option<&str>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO accounts (tenant, name, reseller) VALUES (?1, ?2, ?3)
             ON CONFLICT (tenant, name) DO UPDATE SET reseller = excluded.reseller",
            params![tenant, account, reseller],
        )?;
        Ok(())
    }

    /// Runs `f` in one immediate (write-locked) transaction.
    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Adds a member directly (the operator's way to seed an account; members
    /// add others by invitation). An existing member's permissions are
    /// replaced.
    pub fn add_member(
        &self,
        tenant: &str,
        account: &str,
        user: &str,
        permissions: Permissions,
        now: u64,
    ) -> Result<(), StoreError> {
        if permissions.is_empty() {
            return Err(RuleError::NoPermissions.into());
        }
        self.write(|tx| {
            ensure_account(tx, tenant, account)?;
            ensure_user(tx, tenant, user, now)?;
            tx.execute(
                "INSERT INTO members (tenant, account, user, permissions) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, account, user) DO UPDATE SET permissions = excluded.permissions",
                params![tenant, account, user, permissions.bits() as i64],
            )?;
            Ok(())
        })
    }

    /// Changes a member's permissions, as `actor` (`None`: the operator).
    pub fn set_permissions(
        &self,
        tenant: &str,
        actor: Option<&str>,
        account: &str,
        user: &str,
        after: Permissions,
    ) -> Result<Permissions, StoreError> {
        self.write(|tx| {
            let who = actor_in(tx, tenant, account, actor)?;
            let before = member_perms(tx, tenant, account, user)?
                .ok_or_else(|| StoreError::NotFound(format!("{user} is not a member of {account}")))?;
            rules::may_change(who, before, after)?;
            tx.execute(
                "UPDATE members SET permissions = ?4 WHERE tenant = ?1 AND account = ?2 AND user = ?3",
                params![tenant, account, user, after.bits() as i64],
            )?;
            Ok(before)
        })
    }

    /// Removes a member, as `actor` (`None`: the operator). An account never
    /// loses its last member.
    pub fn remove_member(
        &self,
        tenant: &str,
        actor: Option<&str>,
        account: &str,
        user: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let who = actor_in(tx, tenant, account, actor)?;
            let theirs = member_perms(tx, tenant, account, user)?.ok_or_else(|| {
                StoreError::NotFound(format!("{user} is not a member of {account}"))
            })?;
            let members: i64 = tx.query_row(
                "SELECT COUNT(*) FROM members WHERE tenant = ?1 AND account = ?2",
                params![tenant, account],
                |r| r.get(0),
            )?;
            rules::may_remove(who, theirs, members.max(0) as usize)?;
            tx.execute(
                "DELETE FROM members WHERE tenant = ?1 AND account = ?2 AND user = ?3",
                params![tenant, account, user],
            )?;
            Ok(())
        })
    }

    /// Sets (or clears) the panel login a member acts as.
    pub fn set_impersonate(
        &self,
        tenant: &str,
        account: &str,
        user: &str,
        login: Option<&str>,
    ) -> Result<(), StoreError> {
        let n = self.conn().execute(
            "UPDATE members SET impersonate = ?4 WHERE tenant = ?1 AND account = ?2 AND user = ?3",
            params![tenant, account, user, login],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "{user} is not a member of {account}"
            )));
        }
        Ok(())
    }

    /// Invites `email` into `account` with `grant`, as `actor`; returns the
    /// invitation and its one-time token (valid `ttl` seconds).
    #[allow(clippy::too_many_arguments)]
    pub fn invite(
        &self,
        tenant: &str,
        actor: Option<&str>,
        account: &str,
        email: &str,
        grant: Permissions,
        now: u64,
        ttl: u64,
    ) -> Result<(Invitation, String), StoreError> {
        let token = random_token()?;
        let id = random_token()?;
        self.write(|tx| {
            let who = actor_in(tx, tenant, account, actor)?;
            rules::may_invite(who, grant)?;
            ensure_account(tx, tenant, account)?;
            tx.execute(
                "INSERT INTO invitations (id, tenant, account, email, permissions, invited_by, token_hash, expires_at, state, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9)",
                params![id, tenant, account, email, grant.bits() as i64, actor.unwrap_or("operator"), hash_token(&token), (now + ttl) as i64, now as i64],
            )?;
            Ok(())
        })?;
        Ok((self.invitation(tenant, &id, now)?, token))
    }

    /// One invitation by id.
    pub fn invitation(&self, tenant: &str, id: &str, now: u64) -> Result<Invitation, StoreError> {
        self.conn()
            .query_row(
                "SELECT id, account, email, permissions, invited_by, state, expires_at FROM invitations WHERE tenant = ?1 AND id = ?2",
                params![tenant, id],
                |r| row_invitation(r, now),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound("no such invitation".into()))
    }

    /// The invitation a token opens, if it is still usable.
    pub fn invitation_by_token(
        &self,
        tenant: &str,
        token: &str,
        now: u64,
    ) -> Result<Invitation, StoreError> {
        let inv = self
            .conn()
            .query_row(
                "SELECT id, account, email, permissions, invited_by, state, expires_at FROM invitations WHERE tenant = ?1 AND token_hash = ?2",
                params![tenant, hash_token(token)],
                |r| row_invitation(r, now),
            )
            .optional()?
            .ok_or_else(|| StoreError::Invitation("this invitation link is not valid (it may have been re-sent or cancelled)".into()))?;
        usable(&inv)?;
        Ok(inv)
    }

    /// Every invitation of an account.
    pub fn invitations(
        &self,
        tenant: &str,
        account: &str,
        now: u64,
    ) -> Result<Vec<Invitation>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT id, account, email, permissions, invited_by, state, expires_at FROM invitations
             WHERE tenant = ?1 AND account = ?2 ORDER BY created_at",
        )?;
        let out = q
            .query_map(params![tenant, account], |r| row_invitation(r, now))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    /// Accepts an invitation as the signed-in `email`: they become a member
    /// (or gain the invited permissions) and the link stops working.
    pub fn accept(
        &self,
        tenant: &str,
        token: &str,
        email: &str,
        now: u64,
    ) -> Result<Invitation, StoreError> {
        let inv = self.invitation_by_token(tenant, token, now)?;
        if !inv.email.eq_ignore_ascii_case(email) {
            return Err(StoreError::Invitation(format!(
                "this invitation is for {}; sign in as that person to accept it",
                inv.email
            )));
        }
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE invitations SET state = 'accepted' WHERE tenant = ?1 AND token_hash = ?2 AND state = 'pending'",
                params![tenant, hash_token(token)],
            )?;
            if n == 0 {
                return Err(StoreError::Invitation("this invitation was already used".into()));
            }
            let grant: i64 = tx.query_row(
                "SELECT permissions FROM invitations WHERE tenant = ?1 AND token_hash = ?2",
                params![tenant, hash_token(token)],
                |r| r.get(0),
            )?;
            ensure_user(tx, tenant, &inv.email, now)?;
            tx.execute(
                "INSERT INTO members (tenant, account, user, permissions) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, account, user) DO UPDATE SET permissions = permissions | excluded.permissions",
                params![tenant, inv.account, inv.email, grant],
            )?;
            Ok(())
        })?;
        self.invitation(tenant, &inv.id, now)
    }

    /// Rejects an invitation (by its link); the link stops working.
    pub fn reject(&self, tenant: &str, token: &str, now: u64) -> Result<Invitation, StoreError> {
        let inv = self.invitation_by_token(tenant, token, now)?;
        self.set_state(tenant, &inv.id, None, "rejected")?;
        self.invitation(tenant, &inv.id, now)
    }

    /// Cancels a pending invitation, as `actor` (who must be allowed to
    /// invite with its permissions); its link stops working.
    pub fn cancel(
        &self,
        tenant: &str,
        actor: Option<&str>,
        id: &str,
        now: u64,
    ) -> Result<Invitation, StoreError> {
        self.set_state(tenant, id, Some(actor), "cancelled")?;
        self.invitation(tenant, id, now)
    }

    /// Re-sends a pending invitation: a new link valid `ttl` seconds; the
    /// old link stops working.
    pub fn resend(
        &self,
        tenant: &str,
        actor: Option<&str>,
        id: &str,
        now: u64,
        ttl: u64,
    ) -> Result<(Invitation, String), StoreError> {
        let token = random_token()?;
        self.write(|tx| {
            let (account, grant, state) = invitation_row(tx, tenant, id)?;
            if state != "pending" {
                return Err(StoreError::Invitation(format!("the invitation is {state}")));
            }
            rules::may_invite(actor_in(tx, tenant, &account, actor)?, grant)?;
            tx.execute(
                "UPDATE invitations SET token_hash = ?3, expires_at = ?4 WHERE tenant = ?1 AND id = ?2",
                params![tenant, id, hash_token(&token), (now + ttl) as i64],
            )?;
            Ok(())
        })?;
        Ok((self.invitation(tenant, id, now)?, token))
    }

    fn set_state(
        &self,
        tenant: &str,
        id: &str,
        actor: Option<Option<&str>>,
        state: &str,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            let (account, grant, current) = invitation_row(tx, tenant, id)?;
            if current != "pending" {
                return Err(StoreError::Invitation(format!(
                    "the invitation is {current}"
                )));
            }
            if let Some(actor) = actor {
                rules::may_invite(actor_in(tx, tenant, &account, actor)?, grant)?;
            }
            tx.execute(
                "UPDATE invitations SET state = ?3 WHERE tenant = ?1 AND id = ?2",
                params![tenant, id, state],
            )?;
            Ok(())
        })
    }

    /// Records a user signing in through an IdP: created on the first
    /// sign-in; name and roles refreshed when `refresh`. Returns whether the
    /// user was created.
    pub fn provision(
        &self,
        tenant: &str,
        profile: &Profile<'_>,
        now: u64,
        refresh: bool,
    ) -> Result<bool, StoreError> {
        let roles = profile.roles.join("\n");
        let (email, name, username) = (profile.email, profile.name, profile.username);
        self.write(|tx| {
            let created = tx.execute(
                "INSERT INTO users (tenant, email, name, username, roles, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (tenant, email) DO NOTHING",
                params![tenant, email, name, username, roles, now as i64],
            )? == 1;
            if !created && refresh {
                tx.execute(
                    "UPDATE users SET name = COALESCE(?3, name), username = COALESCE(?4, username),
                     roles = ?5, updated_at = ?6 WHERE tenant = ?1 AND email = ?2",
                    params![tenant, email, name, username, roles, now as i64],
                )?;
            }
            Ok(created)
        })
    }

    /// A stored user's username (from the IdP's username attribute).
    pub fn username(&self, tenant: &str, email: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT username FROM users WHERE tenant = ?1 AND email = ?2",
                params![tenant, email],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Whether `email` is a member of any account of the tenant.
    pub fn is_member(&self, tenant: &str, email: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM members WHERE tenant = ?1 AND user = ?2 LIMIT 1",
                params![tenant, email],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Whether the tenant knows `account`: recorded as an account, or with
    /// a member or an invitation.
    pub fn has_account(&self, tenant: &str, account: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM accounts WHERE tenant = ?1 AND name = ?2
                 UNION ALL SELECT 1 FROM members WHERE tenant = ?1 AND account = ?2
                 UNION ALL SELECT 1 FROM invitations WHERE tenant = ?1 AND account = ?2
                 LIMIT 1",
                params![tenant, account],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Whether the user is known to the store.
    pub fn has_user(&self, tenant: &str, email: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM users WHERE tenant = ?1 AND email = ?2",
                params![tenant, email],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

fn row_invitation(r: &rusqlite::Row<'_>, now: u64) -> rusqlite::Result<Invitation> {
    let state: String = r.get(5)?;
    let expires_at = r.get::<_, i64>(6)?.max(0) as u64;
    let state = if state == "pending" && now >= expires_at {
        "expired".to_string()
    } else {
        state
    };
    Ok(Invitation {
        id: r.get(0)?,
        account: r.get(1)?,
        email: r.get(2)?,
        permissions: perms(r.get(3)?).header_value(),
        invited_by: r.get(4)?,
        state,
        expires_at,
    })
}

fn usable(inv: &Invitation) -> Result<(), StoreError> {
    match inv.state.as_str() {
        "pending" => Ok(()),
        "expired" => Err(StoreError::Invitation(
            "this invitation has expired; ask for it to be re-sent".into(),
        )),
        other => Err(StoreError::Invitation(format!(
            "this invitation was {other}"
        ))),
    }
}

fn invitation_row(
    tx: &rusqlite::Transaction<'_>,
    tenant: &str,
    id: &str,
) -> Result<(String, Permissions, String), StoreError> {
    tx.query_row(
        "SELECT account, permissions, state FROM invitations WHERE tenant = ?1 AND id = ?2",
        params![tenant, id],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                perms(r.get(1)?),
                r.get::<_, String>(2)?,
            ))
        },
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound("no such invitation".into()))
}

fn member_perms(
    tx: &rusqlite::Transaction<'_>,
    tenant: &str,
    account: &str,
    user: &str,
) -> Result<Option<Permissions>, StoreError> {
    Ok(tx
        .query_row(
            "SELECT permissions FROM members WHERE tenant = ?1 AND account = ?2 AND user = ?3",
            params![tenant, account, user],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .map(perms))
}

/// The actor as the rules see them: the operator, or a member with what
/// they hold in this account.
fn actor_in(
    tx: &rusqlite::Transaction<'_>,
    tenant: &str,
    account: &str,
    actor: Option<&str>,
) -> Result<Actor, StoreError> {
    Ok(match actor {
        None => Actor::Operator,
        Some(user) => Actor::Member(member_perms(tx, tenant, account, user)?),
    })
}

fn ensure_account(
    tx: &rusqlite::Transaction<'_>,
    tenant: &str,
    account: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO accounts (tenant, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![tenant, account],
    )?;
    Ok(())
}

fn ensure_user(
    tx: &rusqlite::Transaction<'_>,
    tenant: &str,
    email: &str,
    now: u64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO users (tenant, email, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) ON CONFLICT DO NOTHING",
        params![tenant, email, now as i64],
    )?;
    Ok(())
}

/// Parses a comma list of permission names.
pub fn parse_permissions(list: &str) -> Result<Permissions, String> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        out.push(Permission::parse(name).ok_or_else(|| {
            format!("`{name}` is not a permission (admin, commercial, invite, sublogin, technical)")
        })?);
    }
    Ok(Permissions::of(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("portero.db")).unwrap();
        (dir, s)
    }

    #[test]
    fn created_and_migrated_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/portero.db");
        Store::open(&path)
            .unwrap()
            .add_member("t", "a.test", "ana@a.test", Permissions::of([Admin]), 1)
            .unwrap();
        let again = Store::open(&path).unwrap();
        assert!(again
            .directory("t")
            .unwrap()
            .membership("ana@a.test", "a.test")
            .is_some());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(Store::open(&path), Err(StoreError::TooNew(..))));
    }

    #[test]
    fn invitations_accept_once_and_links_stop_working() {
        let (_d, s) = store();
        s.add_member(
            "t",
            "a.test",
            "boss@a.test",
            Permissions::of([Invite, Technical]),
            1,
        )
        .unwrap();
        // Beyond what the inviter holds.
        let e = s.invite(
            "t",
            Some("boss@a.test"),
            "a.test",
            "x@a.test",
            Permissions::of([Commercial]),
            10,
            100,
        );
        assert!(matches!(e, Err(StoreError::Rule(RuleError::BeyondOwn(_)))));
        let (inv, token) = s
            .invite(
                "t",
                Some("boss@a.test"),
                "a.test",
                "new@a.test",
                Permissions::of([Technical]),
                10,
                100,
            )
            .unwrap();
        assert_eq!(inv.state, "pending");
        // Someone else cannot accept it.
        assert!(s.accept("t", &token, "other@a.test", 20).is_err());
        // Re-sent: the old link stops working, the new one works once.
        let (_, token2) = s
            .resend("t", Some("boss@a.test"), &inv.id, 30, 100)
            .unwrap();
        assert!(s.accept("t", &token, "new@a.test", 40).is_err());
        assert_eq!(
            s.accept("t", &token2, "new@a.test", 40).unwrap().state,
            "accepted"
        );
        assert!(s.accept("t", &token2, "new@a.test", 41).is_err());
        let d = s.directory("t").unwrap();
        assert_eq!(
            d.membership("new@a.test", "a.test").unwrap().permissions,
            Permissions::of([Technical])
        );
        // Cancelled and expired links.
        let (inv, token) = s
            .invite(
                "t",
                None,
                "a.test",
                "c@a.test",
                Permissions::of([Technical]),
                50,
                100,
            )
            .unwrap();
        s.cancel("t", Some("boss@a.test"), &inv.id, 60).unwrap();
        assert!(s.accept("t", &token, "c@a.test", 61).is_err());
        let (_, token) = s
            .invite(
                "t",
                None,
                "a.test",
                "late@a.test",
                Permissions::of([Technical]),
                50,
                100,
            )
            .unwrap();
        assert!(s
            .accept("t", &token, "late@a.test", 150)
            .unwrap_err()
            .to_string()
            .contains("expired"));
        let (_, token) = s
            .invite(
                "t",
                None,
                "a.test",
                "no@a.test",
                Permissions::of([Technical]),
                50,
                100,
            )
            .unwrap();
        assert_eq!(s.reject("t", &token, 60).unwrap().state, "rejected");
        assert!(s.accept("t", &token, "no@a.test", 61).is_err());
    }

    #[test]
    fn the_last_member_stays() {
        let (_d, s) = store();
        s.add_member("t", "a.test", "ana@a.test", Permissions::of([Admin]), 1)
            .unwrap();
        s.add_member("t", "a.test", "bob@a.test", Permissions::of([Technical]), 1)
            .unwrap();
        assert!(matches!(
            s.remove_member("t", Some("bob@a.test"), "a.test", "ana@a.test"),
            Err(StoreError::Rule(RuleError::BeyondOwn(_)))
        ));
        s.remove_member("t", Some("ana@a.test"), "a.test", "bob@a.test")
            .unwrap();
        assert!(matches!(
            s.remove_member("t", None, "a.test", "ana@a.test"),
            Err(StoreError::Rule(RuleError::LastMember))
        ));
    }

    #[test]
    fn two_connections_removing_the_last_two_members_leave_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portero.db");
        for round in 0..10 {
            let account = format!("r{round}.test");
            let first = Store::open(&path).unwrap();
            first
                .add_member("t", &account, "a@t", Permissions::of([Admin]), 1)
                .unwrap();
            first
                .add_member("t", &account, "b@t", Permissions::of([Admin]), 1)
                .unwrap();
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
            let handles: Vec<_> = [("a@t", "b@t"), ("b@t", "a@t")]
                .into_iter()
                .map(|(actor, target)| {
                    let (path, barrier, account) = (path.clone(), barrier.clone(), account.clone());
                    std::thread::spawn(move || {
                        let own = Store::open(&path).unwrap();
                        barrier.wait();
                        own.remove_member("t", Some(actor), &account, target)
                            .is_ok()
                    })
                })
                .collect();
            let removed = handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|ok| *ok)
                .count();
            assert_eq!(removed, 1, "round {round}");
            assert_eq!(first.directory("t").unwrap().members_of(&account).len(), 1);
        }
    }

    #[test]
    fn provisioning_creates_then_refreshes_when_asked() {
        let (_d, s) = store();
        let roles = ["a.test:technical".to_string()];
        let first = Profile {
            email: "ana@a.test",
            name: Some("Ana"),
            username: Some("ana1"),
            roles: &roles,
        };
        assert!(s.provision("t", &first, 1, false).unwrap());
        let later = Profile {
            name: Some("Ana B"),
            username: Some("ana2"),
            roles: &[],
            ..first
        };
        assert!(!s.provision("t", &later, 2, false).unwrap());
        assert!(s.has_user("t", "ana@a.test").unwrap());
        assert_eq!(
            s.username("t", "ana@a.test").unwrap().as_deref(),
            Some("ana1")
        );
        s.add_member("t", "a.test", "ana@a.test", Permissions::of([Technical]), 3)
            .unwrap();
        assert_eq!(s.directory("t").unwrap().name("ana@a.test"), Some("Ana"));
        s.provision("t", &later, 4, true).unwrap();
        assert_eq!(s.directory("t").unwrap().name("ana@a.test"), Some("Ana B"));
        assert_eq!(
            s.username("t", "ana@a.test").unwrap().as_deref(),
            Some("ana2")
        );
    }
}
