//! Accounts and their members: a tenant's directory snapshot, adding,
//! changing and removing members (under the rules of [`super::rules`]),
//! and the lookups the administration needs.

use super::db::{args, Conn};
use super::people::ensure_user;
use super::rules::{self, Actor, RuleError};
use super::{perms, Store, StoreError};
use crate::identity::{Permission, Permissions};
use crate::membership::{Directory, Membership};

/// Records an account with its reseller (or none), or changes its reseller.
const PUT_ACCOUNT: &str = "INSERT INTO accounts (tenant, name, reseller) VALUES (?1, ?2, ?3)
     ON CONFLICT (tenant, name) DO UPDATE SET reseller = excluded.reseller";

impl Store {
    /// A tenant's memberships, resellers and user names (from the IdP and
    /// set by the people themselves), for lookups without I/O.
    pub async fn directory(&self, tenant: &str) -> Result<Directory, StoreError> {
        let mut conn = self.read().await?;
        let mut dir = Directory::default();
        let resellers = conn
            .query(
                "SELECT name, reseller FROM accounts WHERE tenant = ?1 AND reseller IS NOT NULL",
                args![tenant],
            )
            .await?;
        for row in resellers {
            dir.set_reseller(&row.text(0)?, &row.text(1)?);
        }
        let members = conn
            .query(
                "SELECT m.\"user\", m.account, m.permissions, m.impersonate, u.name, u.own_name, m.since
                 FROM members m LEFT JOIN users u ON u.tenant = m.tenant AND u.email = m.\"user\"
                 WHERE m.tenant = ?1 ORDER BY m.\"user\", m.account",
                args![tenant],
            )
            .await?;
        for row in members {
            let user = row.text(0)?;
            if let Some(own) = row.opt_text(5)? {
                dir.set_own_name(&user, own);
            }
            let permissions = perms(row.int(2)?);
            dir.add(
                &user,
                row.opt_text(4)?,
                Membership {
                    account: row.text(1)?,
                    permissions,
                    permissions_header: permissions.header_value().into(),
                    impersonate: row.opt_text(3)?,
                    since: row.int(6)?.max(0) as u64,
                },
            );
        }
        Ok(dir)
    }

    /// Adds an account (with its reseller, for client accounts), or
    /// changes its reseller.
    pub async fn put_account(
        &self,
        tenant: &str,
        account: &str,
        reseller: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write(tenant).await?;
        tx.execute(PUT_ACCOUNT, args![tenant, account, reseller])
            .await?;
        tx.commit().await
    }

    /// The client accounts a tenant's configuration names, each with its
    /// reseller, recorded in one transaction (only when one differs).
    pub async fn put_accounts(
        &self,
        tenant: &str,
        accounts: &[(String, String)],
    ) -> Result<(), StoreError> {
        if accounts.is_empty() {
            return Ok(());
        }
        let known = self
            .read()
            .await?
            .query(
                "SELECT name, reseller FROM accounts WHERE tenant = ?1 AND reseller IS NOT NULL",
                args![tenant],
            )
            .await?;
        let mut known: Vec<(String, String)> = known
            .iter()
            .map(|r| Ok((r.text(0)?, r.text(1)?)))
            .collect::<Result<_, StoreError>>()?;
        known.sort();
        if accounts.iter().all(|a| known.binary_search(a).is_ok()) {
            return Ok(());
        }
        let mut tx = self.write(tenant).await?;
        for (account, reseller) in accounts {
            tx.execute(PUT_ACCOUNT, args![tenant, account, reseller])
                .await?;
        }
        tx.commit().await
    }

    /// Adds a member directly (the operator's way to seed an account; members
    /// add others by invitation). An existing member's permissions are
    /// replaced.
    pub async fn add_member(
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
        let mut tx = self.write(tenant).await?;
        ensure_account(&mut tx, tenant, account).await?;
        ensure_user(&mut tx, tenant, user, now).await?;
        tx.execute(
            "INSERT INTO members (tenant, account, \"user\", permissions, since) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant, account, \"user\") DO UPDATE SET permissions = excluded.permissions",
            args![tenant, account, user, permissions.bits() as i64, now],
        )
        .await?;
        tx.commit().await
    }

    /// Changes a member's permissions, as `actor` (`None`: the operator).
    pub async fn set_permissions(
        &self,
        tenant: &str,
        actor: Option<&str>,
        account: &str,
        user: &str,
        after: Permissions,
    ) -> Result<Permissions, StoreError> {
        let mut tx = self.write(tenant).await?;
        let who = actor_in(&mut tx, tenant, account, actor).await?;
        let before = member_perms(&mut tx, tenant, account, user)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("{user} is not a member of {account}")))?;
        rules::may_change(who, before, after)?;
        tx.execute(
            "UPDATE members SET permissions = ?4 WHERE tenant = ?1 AND account = ?2 AND \"user\" = ?3",
            args![tenant, account, user, after.bits() as i64],
        )
        .await?;
        tx.commit().await?;
        Ok(before)
    }

    /// Removes a member, as `actor` (`None`: the operator). An account never
    /// loses its last member.
    pub async fn remove_member(
        &self,
        tenant: &str,
        actor: Option<&str>,
        account: &str,
        user: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write(tenant).await?;
        let who = actor_in(&mut tx, tenant, account, actor).await?;
        let theirs = member_perms(&mut tx, tenant, account, user)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("{user} is not a member of {account}")))?;
        let members = tx
            .first(
                "SELECT COUNT(*) FROM members WHERE tenant = ?1 AND account = ?2",
                args![tenant, account],
            )
            .await?
            .map_or(Ok(0), |r| r.int(0))?;
        rules::may_remove(who, theirs, members.max(0) as usize)?;
        tx.execute(
            "DELETE FROM members WHERE tenant = ?1 AND account = ?2 AND \"user\" = ?3",
            args![tenant, account, user],
        )
        .await?;
        tx.commit().await
    }

    /// Sets (or clears) the panel login a member acts as.
    pub async fn set_impersonate(
        &self,
        tenant: &str,
        account: &str,
        user: &str,
        login: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write(tenant).await?;
        let n = tx
            .execute(
                "UPDATE members SET impersonate = ?4 WHERE tenant = ?1 AND account = ?2 AND \"user\" = ?3",
                args![tenant, account, user, login],
            )
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound(format!(
                "{user} is not a member of {account}"
            )));
        }
        tx.commit().await
    }

    /// Whether `email` is a member of any account of the tenant.
    pub async fn is_member(&self, tenant: &str, email: &str) -> Result<bool, StoreError> {
        Ok(self
            .read()
            .await?
            .first(
                "SELECT 1 FROM members WHERE tenant = ?1 AND \"user\" = ?2 LIMIT 1",
                args![tenant, email],
            )
            .await?
            .is_some())
    }

    /// Whether the tenant knows `account`: recorded as an account, or with
    /// a member or an invitation.
    pub async fn has_account(&self, tenant: &str, account: &str) -> Result<bool, StoreError> {
        Ok(self
            .read()
            .await?
            .first(
                "SELECT 1 FROM accounts WHERE tenant = ?1 AND name = ?2
                 UNION ALL SELECT 1 FROM members WHERE tenant = ?1 AND account = ?2
                 UNION ALL SELECT 1 FROM invitations WHERE tenant = ?1 AND account = ?2
                 LIMIT 1",
                args![tenant, account],
            )
            .await?
            .is_some())
    }
}

pub(super) async fn member_perms(
    conn: &mut Conn<'_>,
    tenant: &str,
    account: &str,
    user: &str,
) -> Result<Option<Permissions>, StoreError> {
    conn.first(
        "SELECT permissions FROM members WHERE tenant = ?1 AND account = ?2 AND \"user\" = ?3",
        args![tenant, account, user],
    )
    .await?
    .map(|r| r.int(0).map(perms))
    .transpose()
}

/// The actor as the rules see them: the operator, or a member with what
/// they hold in this account.
pub(super) async fn actor_in(
    conn: &mut Conn<'_>,
    tenant: &str,
    account: &str,
    actor: Option<&str>,
) -> Result<Actor, StoreError> {
    Ok(match actor {
        None => Actor::Operator,
        Some(user) => Actor::Member(member_perms(conn, tenant, account, user).await?),
    })
}

pub(super) async fn ensure_account(
    conn: &mut Conn<'_>,
    tenant: &str,
    account: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO accounts (tenant, name) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        args![tenant, account],
    )
    .await?;
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
    use super::super::testing::on_both;
    use super::*;
    use Permission::*;

    on_both!(the_last_member_stays, |s: Store| async move {
        s.add_member("t", "a.test", "ana@a.test", Permissions::of([Admin]), 1)
            .await
            .unwrap();
        s.add_member("t", "a.test", "bob@a.test", Permissions::of([Technical]), 5)
            .await
            .unwrap();
        let d = s.directory("t").await.unwrap();
        assert_eq!(d.direct("bob@a.test", "a.test").unwrap().since, 5);
        assert!(matches!(
            s.remove_member("t", Some("bob@a.test"), "a.test", "ana@a.test")
                .await,
            Err(StoreError::Rule(RuleError::BeyondOwn(_)))
        ));
        s.remove_member("t", Some("ana@a.test"), "a.test", "bob@a.test")
            .await
            .unwrap();
        assert!(matches!(
            s.remove_member("t", None, "a.test", "ana@a.test").await,
            Err(StoreError::Rule(RuleError::LastMember))
        ));
        // A change refused by a rule changed nothing.
        assert_eq!(
            s.directory("t").await.unwrap().members_of("a.test").len(),
            1
        );
    });

    on_both!(resellers_and_accounts, |s: Store| async move {
        let accounts = vec![("c1.test".to_string(), "r.test".to_string())];
        s.put_accounts("t", &accounts).await.unwrap();
        let v = s.data_version().await.unwrap();
        // The same again writes nothing.
        s.put_accounts("t", &accounts).await.unwrap();
        assert_eq!(s.data_version().await.unwrap(), v);
        assert!(s.has_account("t", "c1.test").await.unwrap());
        assert!(!s.has_account("u", "c1.test").await.unwrap());
        s.add_member("t", "c1.test", "x@c.test", Permissions::of([Admin]), 1)
            .await
            .unwrap();
        assert_eq!(
            s.directory("t").await.unwrap().reseller("c1.test"),
            Some("r.test")
        );
        s.set_impersonate("t", "c1.test", "x@c.test", Some("x1"))
            .await
            .unwrap();
        assert!(matches!(
            s.set_impersonate("t", "c1.test", "nobody@c.test", None)
                .await,
            Err(StoreError::NotFound(_))
        ));
        assert!(s.is_member("t", "x@c.test").await.unwrap());
        assert!(!s.is_member("t", "nobody@c.test").await.unwrap());
    });

    /// Two connections (two processes, or two nodes) removing each other
    /// at the same moment from a two-member account leave exactly one.
    async fn race(kind: super::super::testing::Kind) {
        let (_keep, a, b) = super::super::testing::two_stores(kind).await;
        let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
        for round in 0..20 {
            let account = format!("r{round}.test");
            a.add_member("t", &account, "a@t", Permissions::of([Admin]), 1)
                .await
                .unwrap();
            a.add_member("t", &account, "b@t", Permissions::of([Admin]), 1)
                .await
                .unwrap();
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
            let tasks: Vec<_> = [(a.clone(), "a@t", "b@t"), (b.clone(), "b@t", "a@t")]
                .into_iter()
                .map(|(store, actor, target)| {
                    let (barrier, account) = (barrier.clone(), account.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        store
                            .remove_member("t", Some(actor), &account, target)
                            .await
                    })
                })
                .collect();
            let mut removed = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Ok(()) => removed += 1,
                    Err(e) => assert!(
                        matches!(e, StoreError::Rule(_)),
                        "round {round}: refused for another reason: {e}"
                    ),
                }
            }
            assert_eq!(removed, 1, "round {round}");
            for s in [&a, &b] {
                assert_eq!(
                    s.directory("t").await.unwrap().members_of(&account).len(),
                    1
                );
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_connections_removing_the_last_two_members_leave_one_sqlite() {
        race(super::super::testing::Kind::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_connections_removing_the_last_two_members_leave_one_postgres() {
        race(super::super::testing::Kind::Postgres).await;
    }
}
