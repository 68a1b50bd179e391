//! People: users as the store knows them, provisioned (and refreshed) from
//! what an IdP says at sign-in, and the display name a person may set
//! themselves on their profile page.

use super::{Store, StoreError};
use rusqlite::{params, OptionalExtension};

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

    /// What the store keeps about a person (`None`: not known).
    pub fn person(&self, tenant: &str, email: &str) -> Result<Option<Person>, StoreError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT name, own_name FROM users WHERE tenant = ?1 AND email = ?2",
                params![tenant, email],
                |r| {
                    Ok(Person {
                        provisioned_name: r.get(0)?,
                        own_name: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Sets (or, with `None`, clears) the display name a person chose
    /// themselves; the person is added when the store did not know them.
    /// Provisioning never touches it.
    pub fn set_own_name(
        &self,
        tenant: &str,
        email: &str,
        name: Option<&str>,
        now: u64,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            ensure_user(tx, tenant, email, now)?;
            tx.execute(
                "UPDATE users SET own_name = ?3, updated_at = ?4 WHERE tenant = ?1 AND email = ?2",
                params![tenant, email, name, now as i64],
            )?;
            Ok(())
        })
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

pub(super) fn ensure_user(
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

#[cfg(test)]
mod tests {
    use super::super::test_store as store;
    use super::*;
    use crate::identity::{Permission::*, Permissions};

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

    #[test]
    fn a_name_one_sets_oneself_outlasts_provisioning() {
        let (_d, s) = store();
        assert_eq!(s.person("t", "bo@a.test").unwrap(), None);
        // Not provisioned: the row is made.
        s.set_own_name("t", "bo@a.test", Some("Bo"), 1).unwrap();
        assert_eq!(
            s.person("t", "bo@a.test").unwrap(),
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
        s.provision("t", &profile, 2, true).unwrap();
        s.add_member("t", "a.test", "bo@a.test", Permissions::of([Technical]), 3)
            .unwrap();
        let person = s.person("t", "bo@a.test").unwrap().unwrap();
        assert_eq!(person.provisioned_name.as_deref(), Some("Robert"));
        assert_eq!(person.own_name.as_deref(), Some("Bo"));
        let mut d = s.directory("t").unwrap();
        assert_eq!(d.own_name("bo@a.test"), Some("Bo"));
        assert_eq!(d.name("bo@a.test"), Some("Robert"));
        // Locked: the provider's name wins.
        d.lock_provisioned_names = true;
        assert_eq!(d.own_name("bo@a.test"), None);
        s.set_own_name("t", "bo@a.test", None, 4).unwrap();
        assert_eq!(s.directory("t").unwrap().own_name("bo@a.test"), None);
    }
}
