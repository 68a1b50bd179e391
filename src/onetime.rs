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

use moka::sync::Cache;
use moka::Expiry;
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

    /// [`take`](Self::take) a record kept as JSON; one that does not read
    /// as `T` counts as absent.
    pub async fn take_json<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, Unavailable> {
        Ok(self
            .take(key)
            .await?
            .and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// Takes the started sign-in kept as `<kind>:<id>` (none for an empty id).
    pub async fn take_started<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<Option<T>, Unavailable> {
        if id.is_empty() {
            return Ok(None);
        }
        self.take_json(&format!("{kind}:{id}")).await
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
struct Local {
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
    fn new(max_started: u64, max_used: u64) -> Local {
        Local {
            started: Counted::new(max_started),
            used: Counted::new(max_used),
        }
    }

    fn first_use(&self, id: &str, ttl: Duration) -> Result<bool, Unavailable> {
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

    fn keep_started(&self, key: &str, value: String, ttl: Duration) -> Result<(), NotKept> {
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

    fn take(&self, key: &str) -> Option<String> {
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

/// Sets a hash field only when the new value is later than the one held.
const SET_LATER: &str = r#"
local held = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if held < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1
"#;

/// Keeps a started sign-in unless `max_started` are already waiting. The
/// index (a sorted set: record key → when it expires, in Unix ms) is
/// tidied of expired entries first. KEYS: index, record. ARGV: now (ms),
/// ttl (ms), max_started, value. Returns 1 when kept, 0 when full.
const KEEP_STARTED: &str = r#"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[2])
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), KEYS[2])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"#;

/// Takes a started sign-in out (and out of the index). KEYS: index, record.
const TAKE_STARTED: &str = r#"
local v = redis.call('GETDEL', KEYS[2])
redis.call('ZREM', KEYS[1], KEYS[2])
return v
"#;

/// In Redis. The connection lives on a runtime of its own (one thread), so
/// it outlasts any request and any runtime; requests on every
/// thread send their commands to it.
struct Shared {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    set_later: redis::Script,
    keep_started: redis::Script,
    take_started: redis::Script,
    max_started: u64,
    health: Mutex<Health>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Shared {
    /// A runtime may not be dropped inside another one; this one is let go
    /// without waiting.
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Shared {
    fn new(url: &str, prefix: &str, timeout: Duration, max_started: u64) -> Result<Shared, String> {
        let client = redis::Client::open(url).map_err(|e| format!("[server].redis: {e}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("portero-redis")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the Redis client: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let conn = {
            let _inside = runtime.enter();
            ConnectionManager::new_lazy_with_config(client, config)
                .map_err(|e| format!("[server].redis: {e}"))?
        };
        Ok(Shared {
            conn,
            prefix: prefix.to_string(),
            timeout,
            set_later: redis::Script::new(SET_LATER),
            keep_started: redis::Script::new(KEEP_STARTED),
            take_started: redis::Script::new(TAKE_STARTED),
            max_started,
            health: Mutex::new(Health {
                url: without_password(url),
                ok: None,
                error: None,
            }),
            runtime: Some(runtime),
        })
    }

    /// Runs one command with the deadline, noting how it went.
    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, Unavailable> {
        let mut conn = self.conn.clone();
        self.within_deadline(cmd.query_async::<T>(&mut conn)).await
    }

    /// Awaits one Redis call for at most the configured timeout and notes
    /// how it went (for `/readyz`).
    async fn within_deadline<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Unavailable> {
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Unavailable(e.to_string())),
            Err(_) => Err(Unavailable(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        };
        self.note(result.as_ref().err());
        result
    }

    fn note(&self, error: Option<&Unavailable>) {
        if let Ok(mut h) = self.health.lock() {
            h.ok = Some(error.is_none());
            h.error = error.map(|e| e.0.clone());
        }
    }

    async fn first_use(&self, id: &str, ttl: Duration) -> Result<bool, Unavailable> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{}once:{id}", self.prefix))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl));
        let set: Option<String> = self.run(cmd).await?;
        Ok(set.is_some())
    }

    /// The sorted set that counts the started sign-ins waiting.
    fn started_index(&self) -> String {
        format!("{}rec-index", self.prefix)
    }

    async fn keep_started(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
        now: u64,
    ) -> Result<(), NotKept> {
        let mut call = self.keep_started.key(self.started_index());
        call.key(format!("{}rec:{key}", self.prefix))
            .arg(now.saturating_mul(1000))
            .arg(millis(ttl))
            .arg(self.max_started)
            .arg(value);
        match self.script::<i64>(call).await? {
            1 => Ok(()),
            _ => Err(NotKept::Full),
        }
    }

    async fn take(&self, key: &str) -> Result<Option<String>, Unavailable> {
        let mut call = self.take_started.key(self.started_index());
        call.key(format!("{}rec:{key}", self.prefix));
        self.script(call).await
    }

    /// Runs a script with the deadline, noting how it went.
    async fn script<T: redis::FromRedisValue>(
        &self,
        call: redis::ScriptInvocation<'_>,
    ) -> Result<T, Unavailable> {
        let mut conn = self.conn.clone();
        self.within_deadline(call.invoke_async::<T>(&mut conn))
            .await
    }

    async fn publish_endings(&self, lines: &[String]) -> Result<(), Unavailable> {
        for line in lines {
            let mut cmd = redis::cmd("XADD");
            cmd.arg(format!("{}ended", self.prefix))
                .arg("MAXLEN")
                .arg("~")
                .arg(ENDINGS_KEPT)
                .arg("*")
                .arg("r")
                .arg(line);
            let _: String = self.run(cmd).await?;
        }
        Ok(())
    }

    async fn endings_after(
        &self,
        cursor: &str,
        count: usize,
    ) -> Result<(Vec<String>, String), Unavailable> {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(format!("{}ended", self.prefix))
            .arg(format!("({cursor}"))
            .arg("+")
            .arg("COUNT")
            .arg(count);
        let entries: Vec<(String, Vec<String>)> = self.run(cmd).await?;
        let next = entries
            .last()
            .map_or_else(|| cursor.to_string(), |(id, _)| id.clone());
        let lines = entries
            .into_iter()
            .filter_map(|(_, fields)| {
                let mut it = fields.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    if k == "r" {
                        return Some(v);
                    }
                }
                None
            })
            .collect();
        Ok((lines, next))
    }

    async fn sync_revocations(
        &self,
        local: &HashMap<String, u64>,
    ) -> Result<HashMap<String, u64>, Unavailable> {
        let key = format!("{}revoked", self.prefix);
        let mut held: HashMap<String, u64> = self.run(redis::Cmd::hgetall(&key)).await?;
        for (tenant, &at) in local {
            if held.get(tenant).is_none_or(|&h| h < at) {
                let mut conn = self.conn.clone();
                let mut call = self.set_later.key(&key);
                call.arg(tenant).arg(at);
                let done = tokio::time::timeout(self.timeout, call.invoke_async::<i64>(&mut conn))
                    .await
                    .map_err(|_| Unavailable("no answer".to_string()))
                    .and_then(|r| r.map_err(|e| Unavailable(e.to_string())));
                self.note(done.as_ref().err());
                done?;
                held.insert(tenant.clone(), at);
            }
        }
        Ok(held)
    }
}

/// How many ended sessions the Redis stream keeps (about; older entries
/// are trimmed, and nodes that read them already keep them on disk).
const ENDINGS_KEPT: u64 = 1_000_000;

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// `redis://user:secret@host/0` → `redis://user:***@host/0`.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unparsable)".to_string(),
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            without_password("redis://u:secret@127.0.0.1:6379/0"),
            "redis://u:***@127.0.0.1:6379/0"
        );
        assert_eq!(
            without_password("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }

    #[test]
    fn an_unreachable_redis_fails_closed() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Port 9 (discard) on loopback: nothing listens.
        let s = OneTime::redis(
            "redis://127.0.0.1:9/0",
            "t:",
            Duration::from_millis(300),
            100,
        )
        .unwrap();
        rt.block_on(async {
            let ttl = Duration::from_secs(60);
            assert!(s.first_use("x", ttl).await.is_err());
            assert!(s.keep_started("x", "v".into(), ttl, 0).await.is_err());
            assert!(s.take("x").await.is_err());
        });
        let h = s.health().unwrap();
        assert_eq!(h.ok, Some(false));
        assert!(h.error.is_some());
        // Dropped inside a runtime: no panic.
        rt.block_on(async move { drop(s) });
    }
}
