//! One-time use: a token id is accepted once while it could still be valid.

use moka::sync::Cache;
use moka::Expiry;
use std::time::{Duration, Instant};

/// Remembers used one-time ids (JWT `jti`, later SAML assertion IDs and
/// `InResponseTo`) until the token they belong to has expired.
#[derive(Clone)]
pub struct ReplayGuard {
    seen: Cache<String, Duration>,
}

struct UntilExpiry;

impl Expiry<String, Duration> for UntilExpiry {
    fn expire_after_create(&self, _k: &String, ttl: &Duration, _now: Instant) -> Option<Duration> {
        Some(*ttl)
    }
}

impl Default for ReplayGuard {
    fn default() -> Self {
        ReplayGuard::new(1_000_000)
    }
}

impl ReplayGuard {
    /// A guard remembering at most `capacity` ids.
    pub fn new(capacity: u64) -> ReplayGuard {
        ReplayGuard {
            seen: Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                .build(),
        }
    }

    /// Records `id` for `ttl`; true the first time, false for a replay.
    /// Atomic: of two concurrent uses, exactly one wins.
    pub fn first_use(&self, id: String, ttl: Duration) -> bool {
        self.seen.entry(id).or_insert_with(|| ttl).is_fresh()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once() {
        let g = ReplayGuard::new(100);
        assert!(g.first_use("a".into(), Duration::from_secs(60)));
        assert!(!g.first_use("a".into(), Duration::from_secs(60)));
        assert!(g.first_use("b".into(), Duration::from_secs(60)));
    }
}
