//! Memberships from the IdP's role attribute or claim: `account:permission`
//! entries, and the white-label roles mapped to permission sets.

use crate::identity::{Permission, Permissions};
use crate::membership::{Directory, Membership};

/// How a tenant reads roles (`[tenant.roles]`).
#[derive(Debug, Clone)]
pub struct RoleMap {
    /// The account the white-label roles apply to.
    pub account: Option<String>,
    /// What `whitelabel_admin` grants (default: admin).
    pub whitelabel_admin: Permissions,
    /// What `whitelabel_manager` grants (default: commercial, technical).
    pub whitelabel_manager: Permissions,
}

impl Default for RoleMap {
    fn default() -> RoleMap {
        RoleMap {
            account: None,
            whitelabel_admin: Permissions::of([Permission::Admin]),
            whitelabel_manager: Permissions::of([Permission::Commercial, Permission::Technical]),
        }
    }
}

impl RoleMap {
    /// The memberships `roles` grant; several roles for one account add up.
    /// Roles that mean nothing here are ignored.
    pub fn directory(&self, user: &str, roles: &[String]) -> Directory {
        let mut grants: Vec<(String, Permissions)> = Vec::new();
        let mut grant =
            |account: &str, p: Permissions| match grants.iter_mut().find(|(a, _)| a == account) {
                Some((_, have)) => *have = have.union(p),
                None => grants.push((account.to_string(), p)),
            };
        for role in roles.iter().map(|r| r.trim()) {
            match role {
                "whitelabel_admin" => {
                    if let Some(a) = &self.account {
                        grant(a, self.whitelabel_admin);
                    }
                }
                "whitelabel_manager" => {
                    if let Some(a) = &self.account {
                        grant(a, self.whitelabel_manager);
                    }
                }
                other => {
                    if let Some((account, perm)) = other.rsplit_once(':') {
                        let account = account.trim().to_ascii_lowercase();
                        if let (false, Some(p)) =
                            (account.is_empty(), Permission::parse(perm.trim()))
                        {
                            grant(&account, Permissions::of([p]));
                        }
                    }
                }
            }
        }
        let mut dir = Directory::default();
        for (account, p) in grants {
            dir.add(user, None, Membership::new(&account, p, None));
        }
        dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    #[test]
    fn roles_become_memberships() {
        let map = RoleMap {
            account: Some("libros.com.ar".into()),
            ..RoleMap::default()
        };
        let roles: Vec<String> = [
            "libros.com.ar:technical",
            "libros.com.ar:invite",
            "cliente.com:commercial",
            "cliente.com:root",
            "nonsense",
            ":technical",
            "whitelabel_manager",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let d = map.directory("ana@x", &roles);
        assert_eq!(
            d.membership("ana@x", "libros.com.ar").unwrap().permissions,
            Permissions::of([Technical, Invite, Commercial])
        );
        assert_eq!(
            d.membership("ana@x", "cliente.com").unwrap().permissions,
            Permissions::of([Commercial])
        );
        assert_eq!(d.memberships("ana@x").len(), 2);
        let admin = map.directory("ana@x", &["whitelabel_admin".to_string()]);
        assert!(admin
            .membership("ana@x", "libros.com.ar")
            .unwrap()
            .permissions
            .has(Admin));
        // Without an account for them, the white-label roles grant nothing.
        assert!(RoleMap::default()
            .directory("ana@x", &["whitelabel_admin".to_string()])
            .memberships("ana@x")
            .is_empty());
    }
}
