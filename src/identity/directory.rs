//! Memberships: which accounts a user takes part in, with which permissions.
//! For now the static `[[tenant.member]]` list; the embedded store comes later
//! behind the same lookups.

use super::Permissions;
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
}

/// A tenant's memberships, looked up by user and account without I/O.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    by_user: HashMap<String, Vec<Membership>>,
    names: HashMap<String, String>,
}

impl Directory {
    /// Adds a membership; the user's e-mail is lower-case.
    pub fn add(&mut self, user: &str, name: Option<String>, m: Membership) {
        if let Some(n) = name {
            self.names.insert(user.to_string(), n);
        }
        self.by_user.entry(user.to_string()).or_default().push(m);
    }

    /// The user's membership in `account`, if any.
    pub fn membership(&self, user: &str, account: &str) -> Option<&Membership> {
        self.by_user
            .get(user)?
            .iter()
            .find(|m| m.account == account)
    }

    /// Every account the user takes part in.
    pub fn memberships(&self, user: &str) -> &[Membership] {
        self.by_user.get(user).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A display name configured for the user, if any.
    pub fn name(&self, user: &str) -> Option<&str> {
        self.names.get(user).map(String::as_str)
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
