//! Memberships: which accounts a user takes part in, with which permissions,
//! looked up without I/O. Filled from the static `[[tenant.member]]` list or
//! from a snapshot of the embedded store; reseller client accounts are
//! entered through the reseller membership's `sublogin`.

use crate::identity::{Permission, Permissions};
use std::collections::HashMap;
use std::sync::Arc;

/// One user's part in one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The account.
    pub account: String,
    /// The expanded permissions.
    pub permissions: Permissions,
    /// The header value of the permissions, computed once.
    pub permissions_header: Arc<str>,
    /// The panel's legacy login name to act as, if mapped.
    pub impersonate: Option<String>,
    /// Since when (Unix seconds) the user takes part, where the store
    /// knows it (0: not known).
    pub since: u64,
}

impl Membership {
    /// A membership with its header value computed.
    pub fn new(account: &str, permissions: Permissions, impersonate: Option<String>) -> Membership {
        Membership {
            account: account.to_string(),
            permissions,
            permissions_header: permissions.header_value().into(),
            impersonate,
            since: 0,
        }
    }
}

/// A tenant's memberships, looked up by user and account without I/O.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    by_user: HashMap<String, Vec<Membership>>,
    names: HashMap<String, String>,
    /// Display names people set themselves (profile page, store tenants).
    own_names: HashMap<String, String>,
    /// Client account → its reseller account.
    reseller_of: HashMap<String, String>,
    /// Whether a sublogin into a client account keeps `sublogin` itself.
    pub sublogin_keeps_sublogin: bool,
    /// Whether a name the identity provider gave (kept as the user's
    /// name) wins over one the person set themselves
    /// (`lock_provisioned_fields`).
    pub lock_provisioned_names: bool,
}

impl Directory {
    /// Adds a membership; the user's e-mail is lower-case.
    pub fn add(&mut self, user: &str, name: Option<String>, m: Membership) {
        if let Some(n) = name {
            self.names.insert(user.to_string(), n);
        }
        self.by_user.entry(user.to_string()).or_default().push(m);
    }

    /// Records the display name `user` set themselves.
    pub fn set_own_name(&mut self, user: &str, name: String) {
        self.own_names.insert(user.to_string(), name);
    }

    /// Records that `account` is a client account of `reseller`.
    pub fn set_reseller(&mut self, account: &str, reseller: &str) {
        self.reseller_of
            .insert(account.to_string(), reseller.to_string());
    }

    /// The user's own membership in `account` (no sublogin), if any.
    pub fn direct(&self, user: &str, account: &str) -> Option<&Membership> {
        self.by_user
            .get(user)?
            .iter()
            .find(|m| m.account == account)
    }

    /// The user's membership in `account`: their own, else one through a
    /// reseller membership with `sublogin` (that membership's permissions,
    /// without `sublogin` unless the tenant keeps it).
    pub fn membership(&self, user: &str, account: &str) -> Option<Membership> {
        if let Some(m) = self.direct(user, account) {
            return Some(m.clone());
        }
        let reseller = self.reseller_of.get(account)?;
        let via = self.direct(user, reseller)?;
        via.permissions
            .has(Permission::Sublogin)
            .then(|| Membership::new(account, self.sublogin_grants(via.permissions), None))
    }

    fn sublogin_grants(&self, reseller: Permissions) -> Permissions {
        if self.sublogin_keeps_sublogin {
            reseller
        } else {
            reseller.without(Permission::Sublogin)
        }
    }

    /// Every account the user may enter: their own memberships, then the
    /// client accounts their `sublogin` opens.
    pub fn memberships(&self, user: &str) -> Vec<Membership> {
        let own = self.by_user.get(user).map(Vec::as_slice).unwrap_or(&[]);
        let mut out = own.to_vec();
        for m in own
            .iter()
            .filter(|m| m.permissions.has(Permission::Sublogin))
        {
            let mut clients: Vec<&String> = self
                .reseller_of
                .iter()
                .filter(|(client, r)| {
                    **r == m.account && !own.iter().any(|o| &o.account == *client)
                })
                .map(|(client, _)| client)
                .collect();
            clients.sort();
            for client in clients {
                out.push(Membership::new(
                    client,
                    self.sublogin_grants(m.permissions),
                    None,
                ));
            }
        }
        out
    }

    /// The direct members of `account`, by e-mail.
    pub fn members_of(&self, account: &str) -> Vec<(&str, &Membership)> {
        let mut out: Vec<(&str, &Membership)> = self
            .by_user
            .iter()
            .filter_map(|(u, ms)| {
                ms.iter()
                    .find(|m| m.account == account)
                    .map(|m| (u.as_str(), m))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(b.0));
        out
    }

    /// A display name configured for the user, if any.
    pub fn name(&self, user: &str) -> Option<&str> {
        self.names.get(user).map(String::as_str)
    }

    /// The display name the user set themselves, if any and if it counts:
    /// with [`Directory::lock_provisioned_names`], a name from the
    /// identity provider wins.
    pub fn own_name(&self, user: &str) -> Option<&str> {
        if self.lock_provisioned_names && self.names.contains_key(user) {
            return None;
        }
        self.own_names.get(user).map(String::as_str)
    }

    /// The reseller `account` is a client account of, if any.
    pub fn reseller(&self, account: &str) -> Option<&str> {
        self.reseller_of.get(account).map(String::as_str)
    }

    /// Whether the user appears in the directory at all.
    pub fn knows(&self, user: &str) -> bool {
        self.by_user.contains_key(user)
    }
}

/// Which account a request enters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountRule {
    /// Always this account.
    Fixed(String),
    /// From the host: `panel.{account}` → the part where `{account}` stands.
    FromHost {
        /// Text before `{account}`.
        prefix: String,
        /// Text after `{account}`.
        suffix: String,
    },
    /// Picked by the user on `/.portero/accounts` and kept in the session.
    Picker,
}

impl AccountRule {
    /// The account for a request to `host` (lower-case, no port) with the
    /// session's picked account; `None` when nothing is picked yet or the
    /// host does not fit the pattern.
    pub fn account<'a>(&'a self, host: &'a str, picked: Option<&'a str>) -> Option<&'a str> {
        match self {
            AccountRule::Fixed(a) => Some(a),
            AccountRule::FromHost { prefix, suffix } => host
                .strip_prefix(prefix.as_str())
                .and_then(|h| h.strip_suffix(suffix.as_str()))
                .filter(|a| !a.is_empty()),
            AccountRule::Picker => picked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    #[test]
    fn sublogin_enters_client_accounts_without_sublogin() {
        let mut d = Directory::default();
        d.set_reseller("cliente1.test", "libros.test");
        d.set_reseller("cliente2.test", "libros.test");
        d.set_reseller("otro.test", "other-reseller.test");
        d.add(
            "rosa@libros.test",
            None,
            Membership::new("libros.test", Permissions::of([Sublogin, Technical]), None),
        );
        d.add(
            "tom@libros.test",
            None,
            Membership::new("libros.test", Permissions::of([Technical]), None),
        );
        d.add(
            "rosa@libros.test",
            None,
            Membership::new("cliente2.test", Permissions::of([Commercial]), None),
        );
        let via = d.membership("rosa@libros.test", "cliente1.test").unwrap();
        assert_eq!(via.permissions, Permissions::of([Technical]));
        // Her own membership wins over the sublogin one.
        assert_eq!(
            d.membership("rosa@libros.test", "cliente2.test")
                .unwrap()
                .permissions,
            Permissions::of([Commercial])
        );
        // Without sublogin, no way in; nor into another reseller's client.
        assert!(d.membership("tom@libros.test", "cliente1.test").is_none());
        assert!(d.membership("rosa@libros.test", "otro.test").is_none());
        assert_eq!(d.reseller("cliente1.test"), Some("libros.test"));
        assert_eq!(d.reseller("libros.test"), None);
        let listed: Vec<String> = d
            .memberships("rosa@libros.test")
            .into_iter()
            .map(|m| m.account)
            .collect();
        assert_eq!(listed, ["libros.test", "cliente2.test", "cliente1.test"]);
        // An admin of the reseller keeps everything but sublogin (and admin, which implies it).
        let mut d2 = d.clone();
        d2.add(
            "boss@libros.test",
            None,
            Membership::new("libros.test", Permissions::of([Admin]), None),
        );
        assert_eq!(
            d2.membership("boss@libros.test", "cliente1.test")
                .unwrap()
                .permissions
                .header_value(),
            "commercial,invite,technical"
        );
        d2.sublogin_keeps_sublogin = true;
        assert!(d2
            .membership("boss@libros.test", "cliente1.test")
            .unwrap()
            .permissions
            .has(Admin));
    }

    #[test]
    fn account_from_host() {
        let r = AccountRule::FromHost {
            prefix: "panel.".into(),
            suffix: String::new(),
        };
        assert_eq!(
            r.account("panel.libros.com.ar", None),
            Some("libros.com.ar")
        );
        assert_eq!(r.account("libros.com.ar", None), None);
        assert_eq!(r.account("panel.", None), None);
        assert_eq!(AccountRule::Picker.account("x", Some("a")), Some("a"));
        assert_eq!(AccountRule::Picker.account("x", None), None);
    }
}
