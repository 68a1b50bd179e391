//! People: users as the store knows them, provisioned (and refreshed) from
//! what an IdP says at sign-in, and the display name a person may set
//! themselves on their profile page.

use super::db::{args, Conn};
use super::{Store, StoreError};

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

/// A person as the store keeps them (their profile page reads it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// The name the identity provider gave when the user was provisioned
    /// (or refreshed); `None` when none came that way.
    pub provisioned_name: Option<String>,
    /// The display name the person set themselves.
    pub own_name: Option<String>,
}

impl Store {
    /// Records a user signing in through an IdP: created on the first
    /// sign-in; name and roles refreshed when `refresh`. Returns whether the
    /// user was created.
    pub async fn provision(
        &self,
        tenant: &str,
        profile: &Profile<'_>,
        now: u64,
        refresh: bool,
    ) -> Result<bool, StoreError> {
        let roles = profile.roles.join("\n");
        let (email, name, username) = (profile.email, profile.name, profile.username);
        let mut tx = self.write(tenant).await?;
        let created = tx
            .execute(
                "INSERT INTO users (tenant, email, name, username, roles, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (tenant, email) DO NOTHING",
                args![tenant, email, name, username, roles.as_str(), now],
            )
            .await?
            == 1;
        if !created && refresh {
            tx.execute(
                "UPDATE users SET name = COALESCE(?3, name), username = COALESCE(?4, username),
                 roles = ?5, updated_at = ?6 WHERE tenant = ?1 AND email = ?2",
                args![tenant, email, name, username, roles.as_str(), now],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(created)
    }

    /// A stored user's username (from the IdP's username attribute).
    pub async fn username(&self, tenant: &str, email: &str) -> Result<Option<String>, StoreError> {
        self.read()
            .await?
            .first(
                "SELECT username FROM users WHERE tenant = ?1 AND email = ?2",
                args![tenant, email],
            )
            .await?
            .map_or(Ok(None), |r| r.opt_text(0))
    }

    /// What the store keeps about a person (`None`: not known).
    pub async fn person(&self, tenant: &str, email: &str) -> Result<Option<Person>, StoreError> {
        self.read()
            .await?
            .first(
                "SELECT name, own_name FROM users WHERE tenant = ?1 AND email = ?2",
                args![tenant, email],
            )
            .await?
            .map(|r| {
                Ok(Person {
                    provisioned_name: r.opt_text(0)?,
                    own_name: r.opt_text(1)?,
                })
            })
            .transpose()
    }

    /// Sets (or, with `None`, clears) the display name a person chose
    /// themselves; the person is added when the store did not know them.
    /// Provisioning never touches it.
    pub async fn set_own_name(
        &self,
        tenant: &str,
        email: &str,
        name: Option<&str>,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write(tenant).await?;
        ensure_user(&mut tx, tenant, email, now).await?;
        tx.execute(
            "UPDATE users SET own_name = ?3, updated_at = ?4 WHERE tenant = ?1 AND email = ?2",
            args![tenant, email, name, now],
        )
        .await?;
        tx.commit().await
    }

    /// Whether the user is known to the store.
    pub async fn has_user(&self, tenant: &str, email: &str) -> Result<bool, StoreError> {
        Ok(self
            .read()
            .await?
            .first(
                "SELECT 1 FROM users WHERE tenant = ?1 AND email = ?2",
                args![tenant, email],
            )
            .await?
            .is_some())
    }
}

pub(super) async fn ensure_user(
    conn: &mut Conn<'_>,
    tenant: &str,
    email: &str,
    now: u64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO users (tenant, email, created_at, updated_at) VALUES (?1, ?2, ?3, ?3) ON CONFLICT DO NOTHING",
        args![tenant, email, now],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::on_both;
    use super::*;
    use crate::identity::{Permission::*, Permissions};

    on_both!(
        provisioning_creates_then_refreshes_when_asked,
        |s: Store| async move {
            let roles = ["a.test:technical".to_string()];
            let first = Profile {
                email: "ana@a.test",
                name: Some("Ana"),
                username: Some("ana1"),
                roles: &roles,
            };
            assert!(s.provision("t", &first, 1, false).await.unwrap());
            let later = Profile {
                name: Some("Ana B"),
                username: Some("ana2"),
                roles: &[],
                ..first
            };
            assert!(!s.provision("t", &later, 2, false).await.unwrap());
            assert!(s.has_user("t", "ana@a.test").await.unwrap());
            assert_eq!(
                s.username("t", "ana@a.test").await.unwrap().as_deref(),
                Some("ana1")
            );
            s.add_member("t", "a.test", "ana@a.test", Permissions::of([Technical]), 3)
                .await
                .unwrap();
            assert_eq!(
                s.directory("t").await.unwrap().name("ana@a.test"),
                Some("Ana")
            );
            s.provision("t", &later, 4, true).await.unwrap();
            assert_eq!(
                s.directory("t").await.unwrap().name("ana@a.test"),
                Some("Ana B")
            );
            assert_eq!(
                s.username("t", "ana@a.test").await.unwrap().as_deref(),
                Some("ana2")
            );
        }
    );

    on_both!(
        a_name_one_sets_oneself_outlasts_provisioning,
        |s: Store| async move {
            assert_eq!(s.person("t", "bo@a.test").await.unwrap(), None);
            // Not provisioned: the row is made.
            s.set_own_name("t", "bo@a.test", Some("Bo"), 1)
                .await
                .unwrap();
            assert_eq!(
                s.person("t", "bo@a.test").await.unwrap(),
                Some(Person {
                    provisioned_name: None,
                    own_name: Some("Bo".into())
                })
            );
            let profile = Profile {
                email: "bo@a.test",
                name: Some("Robert"),
                username: None,
                roles: &[],
            };
            s.provision("t", &profile, 2, true).await.unwrap();
            s.add_member("t", "a.test", "bo@a.test", Permissions::of([Technical]), 3)
                .await
                .unwrap();
            let person = s.person("t", "bo@a.test").await.unwrap().unwrap();
            assert_eq!(person.provisioned_name.as_deref(), Some("Robert"));
            assert_eq!(person.own_name.as_deref(), Some("Bo"));
            let mut d = s.directory("t").await.unwrap();
            assert_eq!(d.own_name("bo@a.test"), Some("Bo"));
            assert_eq!(d.name("bo@a.test"), Some("Robert"));
            // Locked: the provider's name wins.
            d.lock_provisioned_names = true;
            assert_eq!(d.own_name("bo@a.test"), None);
            s.set_own_name("t", "bo@a.test", None, 4).await.unwrap();
            assert_eq!(s.directory("t").await.unwrap().own_name("bo@a.test"), None);
        }
    );
}
