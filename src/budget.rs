//! How many sign-ins one client address may start: a token bucket per
//! address (IPv4: the address; IPv6: its /64, which one subscriber
//! usually holds whole), so that a flood from one address cannot fill the
//! space of started sign-ins that everybody else shares.
//!
//! Each address may start `per_client` sign-ins at once, and gets one more
//! every `WINDOW / per_client` seconds: at most `2 × per_client` of its
//! sign-ins are waiting at any time (a started sign-in waits at most
//! [`WINDOW`]). The table is bounded ([`MAX_CLIENTS`], least recently
//! active forgotten first), so it costs at most a few MiB.

use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a started sign-in waits, and the period over which an
/// address's budget is refilled.
pub const WINDOW: u64 = 600;

/// The most client addresses whose budget is remembered at once.
pub const MAX_CLIENTS: u64 = 100_000;

/// A budget per key (a client address, a member): `per_window` at once,
/// refilled evenly over `window` seconds; the least recently active keys
/// are forgotten first beyond `max_keys`.
pub struct Budgets<K> {
    buckets: Cache<K, Arc<Mutex<Bucket>>>,
    window: u64,
}

/// The budget of every client address for starting sign-ins.
pub type StartBudget = Budgets<u128>;

/// One address's budget: `tokens` left as of `at` (Unix seconds).
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: u64,
}

impl Default for StartBudget {
    fn default() -> StartBudget {
        StartBudget::new(MAX_CLIENTS)
    }
}

impl StartBudget {
    /// A budget table remembering at most `max_clients` addresses.
    pub fn new(max_clients: u64) -> StartBudget {
        Budgets::with_window(max_clients, WINDOW)
    }

    /// Takes one sign-in start from `client`'s budget of `per_client` at
    /// `now` (Unix seconds): `false` when it has none left.
    pub fn take(&self, client: IpAddr, per_client: u32, now: u64) -> bool {
        self.take_for(client_key(client), per_client, now)
    }
}

impl<K: std::hash::Hash + Eq + Send + Sync + 'static> Budgets<K> {
    /// A budget table refilled over `window` seconds, remembering at most
    /// `max_keys` keys.
    pub fn with_window(max_keys: u64, window: u64) -> Budgets<K> {
        Budgets {
            buckets: Cache::builder()
                .max_capacity(max_keys)
                // A new key is always admitted (it pushes out the one idle
                // longest), so nobody escapes the budget by being new.
                .eviction_policy(EvictionPolicy::lru())
                .time_to_idle(Duration::from_secs(window))
                .build(),
            window: window.max(1),
        }
    }

    /// Takes one from `key`'s budget of `per_window` at `now` (Unix
    /// seconds): `false` when it has none left.
    pub fn take_for(&self, key: K, per_window: u32, now: u64) -> bool {
        let per_client = f64::from(per_window.max(1));
        let bucket = self.buckets.get_with(key, || {
            Arc::new(Mutex::new(Bucket {
                tokens: per_client,
                at: now,
            }))
        });
        let Ok(mut b) = bucket.lock() else {
            return false;
        };
        let elapsed = now.saturating_sub(b.at) as f64;
        b.tokens = (b.tokens + elapsed * per_client / self.window as f64).min(per_client);
        b.at = b.at.max(now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The part of an address one client is assumed to hold: an IPv4 address
/// (IPv4-mapped IPv6 included), or an IPv6 /64.
pub fn client_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4)),
            // The /64, marked apart from every IPv4 key.
            None => (u128::from(v6) & !((1u128 << 64) - 1)) | 1,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_gets_its_budget_then_is_refused_then_refilled() {
        let b = StartBudget::default();
        let a = ip("203.0.113.7");
        for _ in 0..30 {
            assert!(b.take(a, 30, 1000));
        }
        assert!(!b.take(a, 30, 1000));
        // Another address is not touched.
        assert!(b.take(ip("203.0.113.8"), 30, 1000));
        // One token back every 20 s (30 per 10 minutes).
        assert!(!b.take(a, 30, 1019));
        assert!(b.take(a, 30, 1020));
        assert!(!b.take(a, 30, 1020));
        // Never more than the budget, however long it waited.
        let later = 1020 + 100 * WINDOW;
        for _ in 0..30 {
            assert!(b.take(a, 30, later));
        }
        assert!(!b.take(a, 30, later));
    }

    #[test]
    fn ipv6_is_budgeted_by_its_64() {
        let b = StartBudget::default();
        assert!(b.take(ip("2001:db8:1:2::1"), 2, 0));
        assert!(b.take(ip("2001:db8:1:2:ffff::9"), 2, 0));
        assert!(!b.take(ip("2001:db8:1:2:abcd::1"), 2, 0));
        assert!(b.take(ip("2001:db8:1:3::1"), 2, 0));
        // IPv4-mapped is the IPv4 address.
        assert_eq!(
            client_key(ip("::ffff:198.51.100.1")),
            client_key(ip("198.51.100.1"))
        );
        assert_ne!(client_key(ip("::")), client_key(ip("0.0.0.0")));
    }

    #[test]
    fn a_clock_going_back_does_not_refill() {
        let b = StartBudget::default();
        let a = ip("192.0.2.1");
        assert!(b.take(a, 1, 5000));
        assert!(!b.take(a, 1, 100));
        assert!(!b.take(a, 1, 5000));
    }
}
