//! People: users as the store knows them, provisioned (and refreshed) from
//! what an IdP says at sign-in.

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
}
