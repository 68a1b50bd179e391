//! One-time records in this process (moka): started sign-ins and used ids
//! in two caches, each counted exactly so that a full one refuses rather
//! than evicts.

use super::{NotKept, Unavailable};
use moka::sync::Cache;
use moka::Expiry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A record and how long it is kept.
#[derive(Clone)]
struct Entry {
    value: Option<Arc<str>>,
    ttl: Duration,
}

struct EntryTtl;

impl Expiry<String, Entry> for EntryTtl {
    fn expire_after_create(&self, _k: &String, e: &Entry, _now: Instant) -> Option<Duration> {
        Some(e.ttl)
    }
}

/// In this process: two spaces, each with its own bound.
pub(super) struct Local {
    /// Started sign-ins.
    started: Counted,
    /// Used ids (replay markers).
    used: Counted,
}

/// A cache that counts what it holds exactly (every removal, whatever its
/// cause, is counted back), so that a full one refuses rather than evicts.
struct Counted {
    records: Cache<String, Entry>,
    held: Arc<AtomicU64>,
    limit: u64,
}

impl Counted {
    fn new(limit: u64) -> Counted {
        let held = Arc::new(AtomicU64::new(0));
        let counter = held.clone();
        Counted {
            records: Cache::builder()
                // A backstop only: `reserve` refuses long before.
                .max_capacity(limit.saturating_mul(2).max(16))
                .expire_after(EntryTtl)
                .eviction_listener(move |_k, _v, _cause| {
                    counter.fetch_sub(1, Ordering::SeqCst);
                })
                .build(),
            held,
            limit,
        }
    }

    /// Takes one place, or says the cache is full (after letting expired
    /// records go).
    fn reserve(&self) -> bool {
        for attempt in 0..2 {
            if self.held.fetch_add(1, Ordering::SeqCst) < self.limit {
                return true;
            }
            self.held.fetch_sub(1, Ordering::SeqCst);
            if attempt == 0 {
                self.records.run_pending_tasks();
            }
        }
        false
    }

    fn release(&self) {
        self.held.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Local {
    pub(super) fn new(max_started: u64, max_used: u64) -> Local {
        Local {
            started: Counted::new(max_started),
            used: Counted::new(max_used),
        }
    }

    pub(super) fn first_use(&self, id: &str, ttl: Duration) -> Result<bool, Unavailable> {
        if !self.used.reserve() {
            // Full: a replay is still known as one; a new id cannot be
            // remembered, so it does not pass.
            if self.used.records.contains_key(id) {
                return Ok(false);
            }
            return Err(Unavailable(
                "the memory of used sign-in tokens is full".to_string(),
            ));
        }
        let fresh = self
            .used
            .records
            .entry(id.to_string())
            .or_insert_with(|| Entry { value: None, ttl })
            .is_fresh();
        if !fresh {
            self.used.release();
        }
        Ok(fresh)
    }

    pub(super) fn keep_started(
        &self,
        key: &str,
        value: String,
        ttl: Duration,
    ) -> Result<(), NotKept> {
        if !self.started.reserve() {
            return Err(NotKept::Full);
        }
        // Ids are random: an insert over a live key (counted back by the
        // listener as `Replaced`) does not happen in practice.
        self.started.records.insert(
            key.to_string(),
            Entry {
                value: Some(value.into()),
                ttl,
            },
        );
        Ok(())
    }

    pub(super) fn take(&self, key: &str) -> Option<String> {
        self.started
            .records
            .remove(key)
            .and_then(|e| e.value)
            .map(|v| v.to_string())
    }

    /// How many started sign-ins are held (tests).
    #[cfg(test)]
    fn started_held(&self) -> u64 {
        self.started.held.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Backend, OneTime};
    use super::*;

    #[tokio::test]
    async fn local_records_are_used_once() {
        let s = OneTime::local(100, 100);
        let ttl = Duration::from_secs(60);
        assert!(s.first_use("a", ttl).await.unwrap());
        assert!(!s.first_use("a", ttl).await.unwrap());
        assert!(s.first_use("b", ttl).await.unwrap());
        s.keep_started("p", "v".into(), ttl, 0).await.unwrap();
        // A claim and a record under the same name do not meet.
        assert!(s.first_use("p", ttl).await.unwrap());
        assert_eq!(s.take("p").await.unwrap().as_deref(), Some("v"));
        assert_eq!(s.take("p").await.unwrap(), None);
        assert!(s.health().is_none());
    }

    fn local(s: &OneTime) -> &Local {
        match &s.backend {
            Backend::Local(l) => l,
            Backend::Redis(_) => unreachable!(),
        }
    }

    #[tokio::test]
    async fn a_full_started_space_refuses_new_ones_and_keeps_the_old() {
        let s = OneTime::local(10, 1000);
        let ttl = Duration::from_secs(600);
        for i in 0..10 {
            s.keep_started(&format!("k{i}"), "v".into(), ttl, 0)
                .await
                .unwrap();
        }
        // The eleventh is refused; not one of the ten is pushed out.
        assert!(matches!(
            s.keep_started("late", "v".into(), ttl, 0).await,
            Err(NotKept::Full)
        ));
        for i in 0..10 {
            assert_eq!(
                s.take(&format!("k{i}")).await.unwrap().as_deref(),
                Some("v"),
                "k{i}"
            );
        }
        // Taken out: the places are free again.
        assert_eq!(local(&s).started_held(), 0);
        s.keep_started("late", "v".into(), ttl, 0).await.unwrap();
    }

    #[tokio::test]
    async fn a_flood_of_started_sign_ins_never_reaches_the_used_ids() {
        let s = OneTime::local(50, 1000);
        let ttl = Duration::from_secs(600);
        assert!(s.first_use("assertion-1", ttl).await.unwrap());
        for i in 0..5000 {
            let _ = s
                .keep_started(&format!("flood{i}"), "x".repeat(100), ttl, 0)
                .await;
        }
        // The replay marker is still there.
        assert!(!s.first_use("assertion-1", ttl).await.unwrap());
        assert_eq!(local(&s).started_held(), 50);
    }

    #[tokio::test]
    async fn expired_started_sign_ins_free_their_place() {
        let s = OneTime::local(2, 10);
        let short = Duration::from_millis(50);
        s.keep_started("a", "v".into(), short, 0).await.unwrap();
        s.keep_started("b", "v".into(), short, 0).await.unwrap();
        assert!(s.keep_started("c", "v".into(), short, 0).await.is_err());
        // moka's timer wheel works in steps of about a second.
        std::thread::sleep(Duration::from_millis(2500));
        s.keep_started("c", "v".into(), short, 0).await.unwrap();
    }

    #[tokio::test]
    async fn a_full_used_space_fails_closed() {
        let s = OneTime::local(10, 3);
        let ttl = Duration::from_secs(60);
        for id in ["a", "b", "c"] {
            assert!(s.first_use(id, ttl).await.unwrap());
        }
        // A replay is still seen as one; a fourth id cannot be remembered,
        // so it is not let through.
        assert!(!s.first_use("a", ttl).await.unwrap());
        assert!(s.first_use("d", ttl).await.is_err());
    }
}
