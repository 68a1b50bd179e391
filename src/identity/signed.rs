//! Identity headers already signed for a session, reused while their
//! assertion still has more than half of its lifetime left. A busy session
//! costs one signature per half-TTL instead of one per request; the panel
//! always receives an assertion valid for at least `ttl / 2` more seconds.
//!
//! A reload that changes `[assertion]` starts a new cache; one that
//! changes a tenant gives it a new generation, which is part of the key,
//! so what was signed under its old header names or settings is not
//! reused. It is consulted only
//! after the session cookie has opened (revocation and `reauth` included),
//! and the membership looked up for this very request is part of the key
//! (permissions, impersonation login, name): a change an administrator
//! makes (a downgrade above all) reaches the next request, not the next
//! half-TTL.

use super::Permissions;
use http::{HeaderName, HeaderValue};
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

/// Identity headers ready to be set on a forwarded request.
pub type IdentityHeaders = Arc<[(HeaderName, HeaderValue)]>;

/// Who a cached set of headers was made for, and with what membership;
/// compared in full on every hit, so a hash collision can only cost a
/// signature, never hand one person's headers (or yesterday's permissions)
/// to another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignedFor<'a> {
    /// The tenant's [`crate::config::Tenant::generation`]: a tenant compiled
    /// again (its file changed) never reuses what was signed for the old one.
    pub tenant: u64,
    /// The session's random id.
    pub sid: &'a str,
    /// The user.
    pub user: &'a str,
    /// The account entered.
    pub account: &'a str,
    /// The permissions the membership grants now.
    pub permissions: Permissions,
    /// The panel login the membership acts as now.
    pub impersonate: Option<&'a str>,
    /// The display name the headers carry.
    pub name: Option<&'a str>,
}

struct Entry {
    tenant: u64,
    sid: Box<str>,
    user: Box<str>,
    account: Box<str>,
    permissions: Permissions,
    impersonate: Option<Box<str>>,
    name: Option<Box<str>>,
    issued_at: u64,
    headers: IdentityHeaders,
}

impl Entry {
    fn holds(&self, h: &SignedFor<'_>) -> bool {
        self.tenant == h.tenant
            && *self.sid == *h.sid
            && *self.user == *h.user
            && *self.account == *h.account
            && self.permissions == h.permissions
            && self.impersonate.as_deref() == h.impersonate
            && self.name.as_deref() == h.name
    }
}

/// Signed identity headers per (tenant, session, account).
///
/// A plain map behind one mutex, keyed by a fast hash of (tenant, session
/// id, account): only sessions that opened under Portero's own key reach
/// it, and their ids are random, so nobody outside can aim keys at one
/// bucket. Bounded: when `capacity` entries are held it is emptied (every
/// session then pays one signature again); an entry past half its TTL is
/// replaced when next used.
pub struct SignedIdentities {
    map: Mutex<FxHashMap<u64, Arc<Entry>>>,
    capacity: usize,
    ttl: u64,
}

impl std::fmt::Debug for SignedIdentities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIdentities")
            .field("entries", &self.len())
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl SignedIdentities {
    /// A cache of up to `capacity` sessions for assertions living `ttl` seconds.
    pub fn new(capacity: u64, ttl: u64) -> SignedIdentities {
        SignedIdentities {
            map: Mutex::default(),
            capacity: usize::try_from(capacity).unwrap_or(usize::MAX).max(1),
            ttl,
        }
    }

    /// How many sets of headers are held.
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn key(signed_for: &SignedFor<'_>) -> u64 {
        FxBuildHasher.hash_one((signed_for.tenant, signed_for.sid, signed_for.account))
    }

    /// The headers for `signed_for` at `now`: the cached ones while they were
    /// issued less than half a TTL ago, else the result of `sign(now)`,
    /// which is then kept.
    pub fn get_or_sign(
        &self,
        signed_for: SignedFor<'_>,
        now: u64,
        sign: impl FnOnce(u64) -> IdentityHeaders,
    ) -> IdentityHeaders {
        self.get_or_sign_counted(signed_for, now, sign).0
    }

    /// As [`SignedIdentities::get_or_sign`], saying whether it was reused.
    pub fn get_or_sign_counted(
        &self,
        signed_for: SignedFor<'_>,
        now: u64,
        sign: impl FnOnce(u64) -> IdentityHeaders,
    ) -> (IdentityHeaders, bool) {
        let key = Self::key(&signed_for);
        if let Some(e) = self.map.lock().ok().and_then(|m| m.get(&key).cloned()) {
            if e.holds(&signed_for) && now >= e.issued_at && now - e.issued_at < self.ttl / 2 {
                return (e.headers.clone(), true);
            }
        }
        // Signed outside the lock: another worker's hit never waits on it.
        let headers = sign(now);
        let Ok(mut map) = self.map.lock() else {
            return (headers, false);
        };
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(
            key,
            Arc::new(Entry {
                tenant: signed_for.tenant,
                sid: signed_for.sid.into(),
                user: signed_for.user.into(),
                account: signed_for.account.into(),
                permissions: signed_for.permissions,
                impersonate: signed_for.impersonate.map(Into::into),
                name: signed_for.name.map(Into::into),
                issued_at: now,
                headers: headers.clone(),
            }),
        );
        (headers, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn headers(tag: u64) -> IdentityHeaders {
        Arc::from(vec![(
            HeaderName::from_static("x-tag"),
            HeaderValue::from(tag),
        )])
    }

    fn tag(h: &IdentityHeaders) -> u64 {
        h[0].1.to_str().unwrap().parse().unwrap()
    }

    fn ana() -> SignedFor<'static> {
        SignedFor {
            tenant: 0,
            sid: "s1",
            user: "ana@x.test",
            account: "x.test",
            permissions: Permissions::default(),
            impersonate: None,
            name: None,
        }
    }

    #[test]
    fn reused_for_half_the_ttl_then_signed_again() {
        let c = SignedIdentities::new(100, 60);
        let signs = Cell::new(0);
        let sign = |now| {
            signs.set(signs.get() + 1);
            headers(now)
        };
        assert_eq!(tag(&c.get_or_sign(ana(), 1000, sign)), 1000);
        assert_eq!(tag(&c.get_or_sign(ana(), 1029, sign)), 1000);
        assert_eq!(signs.get(), 1);
        assert_eq!(tag(&c.get_or_sign(ana(), 1030, sign)), 1030);
        assert_eq!(signs.get(), 2);
    }

    #[test]
    fn never_holds_more_than_its_capacity() {
        let c = SignedIdentities::new(3, 60);
        let sids = ["s1", "s2", "s3", "s4", "s5"];
        for sid in sids {
            c.get_or_sign(SignedFor { sid, ..ana() }, 1000, headers);
            assert!(c.len() <= 3, "{} held", c.len());
        }
        // The newest is kept across the clearing.
        let signs = Cell::new(0);
        c.get_or_sign(SignedFor { sid: "s5", ..ana() }, 1001, |n| {
            signs.set(1);
            headers(n)
        });
        assert_eq!(signs.get(), 0);
    }

    #[test]
    fn a_clock_going_back_signs_again() {
        let c = SignedIdentities::new(100, 60);
        c.get_or_sign(ana(), 1000, headers);
        assert_eq!(tag(&c.get_or_sign(ana(), 990, headers)), 990);
    }

    #[test]
    fn never_shared_between_sessions_users_accounts_or_tenants() {
        let c = SignedIdentities::new(100, 60);
        c.get_or_sign(ana(), 1000, |_| headers(1));
        let others = [
            SignedFor { sid: "s2", ..ana() },
            SignedFor {
                user: "bob@x.test",
                ..ana()
            },
            SignedFor {
                account: "y.test",
                ..ana()
            },
            SignedFor { tenant: 1, ..ana() },
        ];
        for (i, h) in others.into_iter().enumerate() {
            let got = c.get_or_sign(h, 1001, |_| headers(10 + i as u64));
            assert_eq!(
                tag(&got),
                10 + i as u64,
                "{h:?} got another signed_for's headers"
            );
        }
    }

    #[test]
    fn a_membership_change_is_signed_afresh_at_once() {
        use crate::identity::Permission;
        let c = SignedIdentities::new(100, 600);
        let admin = SignedFor {
            permissions: Permissions::of([Permission::Admin]),
            ..ana()
        };
        c.get_or_sign(admin, 1000, |_| headers(1));
        assert_eq!(
            tag(&c.get_or_sign(admin, 1001, |_| headers(9))),
            1,
            "reused"
        );
        let changes = [
            SignedFor {
                permissions: Permissions::of([Permission::Technical]),
                ..admin
            },
            SignedFor {
                impersonate: Some("legacy"),
                ..admin
            },
            SignedFor {
                name: Some("Ana"),
                ..admin
            },
        ];
        for (i, h) in changes.into_iter().enumerate() {
            let got = c.get_or_sign(h, 1002, |_| headers(20 + i as u64));
            assert_eq!(tag(&got), 20 + i as u64, "{h:?} got stale headers");
        }
    }

    #[test]
    fn a_colliding_key_is_a_miss_not_a_hit() {
        let c = SignedIdentities::new(100, 60);
        c.get_or_sign(ana(), 1000, |_| headers(1));
        // Plant ana()'s entry under the key another signed_for hashes to.
        let bob = SignedFor {
            user: "bob@x.test",
            ..ana()
        };
        let mut map = c.map.lock().unwrap();
        let planted = map.get(&SignedIdentities::key(&ana())).unwrap().clone();
        map.insert(SignedIdentities::key(&bob), planted);
        drop(map);
        assert_eq!(tag(&c.get_or_sign(bob, 1001, |_| headers(2))), 2);
    }
}
