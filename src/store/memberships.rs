//! Accounts and their members: a tenant's directory snapshot, adding,
//! changing and removing members (under the rules of [`super::rules`]),
//! and the lookups the administration needs.

use super::people::ensure_user;
use super::rules::{self, Actor, RuleError};
use super::{perms, Store, StoreError};
use crate::identity::{Permission, Permissions};
use crate::membership::{Directory, Membership};
use rusqlite::{params, OptionalExtension};

impl Store {
    /// A tenant's memberships, resellers and user names (from the IdP and
    /// set by the people themselves), for lookups
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
            "SELECT m.user, m.account, m.permissions, m.impersonate, u.name, u.own_name
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
                r.get::<_, Option<String>>(5)?,
            ))
        })?;
        for row in rows {
            let (user, account, bits, impersonate, name, own_name) = row?;
            if let Some(own) = own_name {
                dir.set_own_name(&user, own);
            }
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
}

pub(super) fn member_perms(
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
pub(super) fn actor_in(
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

pub(super) fn ensure_account(
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
    use super::super::test_store as store;
    use super::*;
    use Permission::*;

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
}
