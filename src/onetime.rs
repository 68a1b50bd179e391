//! One-time records: sign-ins started and not yet answered (SAML request
//! IDs, OpenID Connect `state`) and ids that may be used once (SAML
//! assertion IDs, JWT `jti`).
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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The shared store could not be asked; nothing was checked or kept.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the shared store (Redis) cannot be reached: {0}")]
pub struct Unavailable(pub String);

/// Where one-time records live.
pub struct OneTime {
    backend: Backend,
}

enum Backend {
    Local(Local),
    Redis(Shared),
}

impl OneTime {
    /// In this process, remembering at most `capacity` records.
    pub fn local(capacity: u64) -> OneTime {
        OneTime {
            backend: Backend::Local(Local::new(capacity)),
        }
    }

    /// In the Redis at `url` (`redis://[user:password@]host:port/db`), keys
    /// prefixed with `prefix`, each operation given at most `timeout`.
    pub fn redis(url: &str, prefix: &str, timeout: Duration) -> Result<OneTime, String> {
        Ok(OneTime {
            backend: Backend::Redis(Shared::new(url, prefix, timeout)?),
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
            Backend::Local(l) => Ok(l.first_use(id, ttl)),
            Backend::Redis(r) => r.first_use(id, ttl).await,
        }
    }

    /// Keeps `value` under `key` for `ttl` (a started sign-in).
    pub async fn put(&self, key: &str, value: String, ttl: Duration) -> Result<(), Unavailable> {
        match &self.backend {
            Backend::Local(l) => {
                l.put(key, value, ttl);
                Ok(())
            }
            Backend::Redis(r) => r.put(key, &value, ttl).await,
        }
    }

    /// Takes out what is kept under `key`: the first caller gets it, every
    /// later one `None`.
    pub async fn take(&self, key: &str) -> Result<Option<String>, Unavailable> {
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

/// In this process.
struct Local {
    records: Cache<String, Entry>,
}

impl Local {
    fn new(capacity: u64) -> Local {
        Local {
            records: Cache::builder()
                .max_capacity(capacity)
                .expire_after(EntryTtl)
                .build(),
        }
    }

    fn first_use(&self, id: &str, ttl: Duration) -> bool {
        self.records
            .entry(format!("once:{id}"))
            .or_insert_with(|| Entry { value: None, ttl })
            .is_fresh()
    }

    fn put(&self, key: &str, value: String, ttl: Duration) {
        self.records.insert(
            format!("rec:{key}"),
            Entry {
                value: Some(value.into()),
                ttl,
            },
        );
    }

    fn take(&self, key: &str) -> Option<String> {
        self.records
            .remove(&format!("rec:{key}"))
            .and_then(|e| e.value)
            .map(|v| v.to_string())
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

/// In Redis. The connection lives on a runtime of its own (one thread), so
/// it outlasts any request and any pingora service; requests on every
/// thread send their commands to it.
struct Shared {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    set_later: redis::Script,
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
    fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Shared, String> {
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
        let result = match tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut conn)).await
        {
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

    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), Unavailable> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(format!("{}rec:{key}", self.prefix))
            .arg(value)
            .arg("PX")
            .arg(millis(ttl));
        let _: Option<String> = self.run(cmd).await?;
        Ok(())
    }

    async fn take(&self, key: &str) -> Result<Option<String>, Unavailable> {
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(format!("{}rec:{key}", self.prefix));
        self.run(cmd).await
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_records_are_used_once() {
        let s = OneTime::local(100);
        let ttl = Duration::from_secs(60);
        assert!(s.first_use("a", ttl).await.unwrap());
        assert!(!s.first_use("a", ttl).await.unwrap());
        assert!(s.first_use("b", ttl).await.unwrap());
        s.put("p", "v".into(), ttl).await.unwrap();
        // A claim and a record under the same name do not meet.
        assert!(s.first_use("p", ttl).await.unwrap());
        assert_eq!(s.take("p").await.unwrap().as_deref(), Some("v"));
        assert_eq!(s.take("p").await.unwrap(), None);
        assert!(s.health().is_none());
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
        let s = OneTime::redis("redis://127.0.0.1:9/0", "t:", Duration::from_millis(300)).unwrap();
        rt.block_on(async {
            let ttl = Duration::from_secs(60);
            assert!(s.first_use("x", ttl).await.is_err());
            assert!(s.put("x", "v".into(), ttl).await.is_err());
            assert!(s.take("x").await.is_err());
        });
        let h = s.health().unwrap();
        assert_eq!(h.ok, Some(false));
        assert!(h.error.is_some());
        // Dropped inside a runtime: no panic.
        rt.block_on(async move { drop(s) });
    }
}
