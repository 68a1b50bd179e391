//! One-time records in a Redis shared by every node: started sign-ins
//! (with an index that bounds how many wait), used ids, revocation marks
//! and the stream of sessions ended early; every call bounded by the
//! configured timeout, its outcome noted for `/readyz`.

use super::{Health, NotKept, Unavailable};
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

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
pub(super) struct Shared {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    set_later: redis::Script,
    keep_started: redis::Script,
    take_started: redis::Script,
    max_started: u64,
    pub(super) health: Mutex<Health>,
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
    pub(super) fn new(
        url: &str,
        prefix: &str,
        timeout: Duration,
        max_started: u64,
    ) -> Result<Shared, String> {
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

    pub(super) async fn first_use(&self, id: &str, ttl: Duration) -> Result<bool, Unavailable> {
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

    pub(super) async fn keep_started(
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

    pub(super) async fn take(&self, key: &str) -> Result<Option<String>, Unavailable> {
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

    pub(super) async fn publish_endings(&self, lines: &[String]) -> Result<(), Unavailable> {
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

    pub(super) async fn endings_after(
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

    pub(super) async fn sync_revocations(
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
    use super::super::OneTime;
    use super::*;

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
