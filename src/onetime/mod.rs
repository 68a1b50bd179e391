//! One-time records: sign-ins started and not yet answered (SAML request
//! IDs, OpenID Connect `state`, external-SSO hand-backs) and ids that may
//! be used once (SAML assertion IDs, JWT `jti`).
//!
//! The two are kept apart, each with its own bound, so a flood of one can
//! never push out the other: started sign-ins (which anyone can make) are
//! at most `max_started` at a time, each at most [`MAX_STARTED_BYTES`];
//! when that many are waiting a new one is refused ([`NotKept::Full`]),
//! never one already started dropped. Used ids are written only after a
//! signature verified; when their space is full a check fails closed.
//!
//! Kept in this process (moka) by default, or in a Redis shared by every
//! node when `[server].redis` is set: a browser may then start a sign-in on
//! one node and finish it on another, and a token replayed to another node
//! is still refused. The revocation marks ("force re-authentication now")
//! travel through the same Redis ([`OneTime::sync_revocations`]), and so
//! do sessions ended early (a stream: [`OneTime::publish_endings`]).
//!
//! A check that cannot be made never passes: when Redis cannot be reached,
//! every operation is an [`Unavailable`] error, which the sign-in turns into
//! a 503 page (fail closed).
//!
//! One backend a file: `local` (moka, in this process) and `redis` (shared
//! by every node); this file holds what callers use, whichever backend.

mod local;
mod redis;

use local::Local;
use redis::Shared;
use std::collections::HashMap;
use std::time::Duration;

/// The shared store could not be asked; nothing was checked or kept.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the shared store (Redis) cannot be reached: {0}")]
pub struct Unavailable(pub String);

/// The largest started sign-in kept (its JSON record); the `return_to` in
/// it is bounded by [`crate::web::return_to::MAX_LEN`].
pub const MAX_STARTED_BYTES: usize = 4096;

/// How many used ids (replay markers) one process keeps, without Redis.
pub const MAX_USED_LOCAL: u64 = 1_000_000;

/// Why a started sign-in was not kept (it is then not started at all).
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotKept {
    /// The shared store could not be asked.
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// As many sign-ins as allowed are waiting for their IdP's answer.
    #[error("too many sign-ins are in progress")]
    Full,
    /// The record is larger than [`MAX_STARTED_BYTES`].
    #[error("the started sign-in is too large to keep")]
    TooLarge,
}

/// Where one-time records live.
pub struct OneTime {
    backend: Backend,
}

enum Backend {
    Local(Local),
    Redis(Shared),
}

impl OneTime {
    /// In this process: at most `max_started` sign-ins waiting and
    /// `max_used` used ids.
    pub fn local(max_started: u64, max_used: u64) -> OneTime {
        OneTime {
            backend: Backend::Local(Local::new(max_started, max_used)),
        }
    }

    /// In the Redis at `url` (`redis://[user:password@]host:port/db`), keys
    /// prefixed with `prefix`, each operation given at most `timeout`; at
    /// most `max_started` sign-ins waiting (across every node).
    pub fn redis(
        url: &str,
        prefix: &str,
        timeout: Duration,
        max_started: u64,
    ) -> Result<OneTime, String> {
        Ok(OneTime {
            backend: Backend::Redis(Shared::new(url, prefix, timeout, max_started)?),
        })
    }

    /// Whether records are shared through Redis.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Redis(_))
    }

    /// Records `id` for `ttl`: `Ok(true)` the first time, `Ok(false)` for a
    /// replay. Atomic across threads (and, with Redis, across nodes): of two
    /// concurrent uses exactly one wins.
    pub async fn first_use(&self, id: &str, ttl: Duration) -> Result<bool, Unavailable> {
        match &self.backend {
            Backend::Local(l) => l.first_use(id, ttl),
            Backend::Redis(r) => r.first_use(id, ttl).await,
        }
    }

    /// Keeps a started sign-in, `value` under `key`, for `ttl` from `now`
    /// (Unix seconds). Refused when it is larger than [`MAX_STARTED_BYTES`]
    /// or when the most sign-ins allowed are already waiting: what was
    /// started before is never pushed out.
    pub async fn keep_started(
        &self,
        key: &str,
        value: String,
        ttl: Duration,
        now: u64,
    ) -> Result<(), NotKept> {
        if value.len() > MAX_STARTED_BYTES || key.len() > MAX_KEY {
            return Err(NotKept::TooLarge);
        }
        match &self.backend {
            Backend::Local(l) => l.keep_started(key, value, ttl),
            Backend::Redis(r) => r.keep_started(key, &value, ttl, now).await,
        }
    }

    /// Takes out what is kept under `key`: the first caller gets it, every
    /// later one `None`.
    pub async fn take(&self, key: &str) -> Result<Option<String>, Unavailable> {
        // Nothing longer was ever kept: not worth a round trip.
        if key.len() > MAX_KEY {
            return Ok(None);
        }
        match &self.backend {
            Backend::Local(l) => Ok(l.take(key)),
            Backend::Redis(r) => r.take(key).await,
        }
    }

    /// Takes the started sign-in kept as `<kind>:<id>`: the record as it
    /// was kept (none for an empty id, an unknown one, or one taken before).
    pub async fn take_started(&self, kind: &str, id: &str) -> Result<Option<String>, Unavailable> {
        if id.is_empty() {
            return Ok(None);
        }
        self.take(&format!("{kind}:{id}")).await
    }

    /// Exchanges revocation marks with the other nodes: marks this node
    /// holds that Redis lacks (or holds older) are written, and every mark
    /// Redis holds is returned (the caller keeps the later of each pair).
    /// Without Redis there is nothing to exchange.
    pub async fn sync_revocations(
        &self,
        local: &HashMap<String, u64>,
    ) -> Result<HashMap<String, u64>, Unavailable> {
        match &self.backend {
            Backend::Local(_) => Ok(HashMap::new()),
            Backend::Redis(r) => r.sync_revocations(local).await,
        }
    }

    /// Appends ended sessions (JSON lines) to the stream every node reads.
    /// Without Redis there is no one to tell.
    pub async fn publish_endings(&self, lines: &[String]) -> Result<(), Unavailable> {
        match &self.backend {
            Backend::Local(_) => Ok(()),
            Backend::Redis(r) => r.publish_endings(lines).await,
        }
    }

    /// Up to `count` ended sessions appended to the stream after `cursor`
    /// (`0-0`: from the start), and the cursor to ask from next.
    pub async fn endings_after(
        &self,
        cursor: &str,
        count: usize,
    ) -> Result<(Vec<String>, String), Unavailable> {
        match &self.backend {
            Backend::Local(_) => Ok((Vec::new(), cursor.to_string())),
            Backend::Redis(r) => r.endings_after(cursor, count).await,
        }
    }

    /// For `/readyz`: `None` without Redis; else whether the last operation
    /// succeeded, and the last error.
    pub fn health(&self) -> Option<Health> {
        match &self.backend {
            Backend::Local(_) => None,
            Backend::Redis(r) => r.health.lock().ok().map(|h| h.clone()),
        }
    }
}

/// What the shared store's last operations said.
#[derive(Debug, Clone, Default)]
pub struct Health {
    /// Redis as configured, without its password.
    pub url: String,
    /// Whether the last operation succeeded (`None`: none made yet).
    pub ok: Option<bool>,
    /// The last error, when the last operation failed.
    pub error: Option<String>,
}

/// The longest key of a started sign-in (`<kind>:<id>`); ids come back
/// from browsers, so longer ones are not looked up.
const MAX_KEY: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn oversized_records_and_keys_are_refused() {
        let s = OneTime::local(10, 10);
        let ttl = Duration::from_secs(60);
        assert!(matches!(
            s.keep_started("k", "x".repeat(MAX_STARTED_BYTES + 1), ttl, 0)
                .await,
            Err(NotKept::TooLarge)
        ));
        assert!(matches!(
            s.keep_started(&"k".repeat(MAX_KEY + 1), "v".into(), ttl, 0)
                .await,
            Err(NotKept::TooLarge)
        ));
        assert_eq!(s.take(&"k".repeat(100_000)).await.unwrap(), None);
    }
}
