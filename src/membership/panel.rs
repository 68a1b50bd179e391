//! Memberships from an HTTP endpoint of the panel, cached.
//!
//! `GET {url}?user=<e-mail>` (with `Authorization: Bearer <token>` when a
//! token is configured) answers `200` with
//! `{"name": "…", "memberships": [{"account": "…", "permissions": ["technical"], "impersonate": "…"}]}`
//! or `404` for a user the panel does not know. Answers are kept `ttl`
//! (`negative_ttl` for a 404). When the endpoint fails, a kept answer is
//! used for up to `stale_for` past its time, and failures are not retried
//! for [`RETRY_AFTER_FAILURE`] seconds; beyond that the visitor sees a
//! "cannot check your accounts" page (never someone else's access).

use crate::identity::{Permission, Permissions};
use crate::membership::{Directory, Membership};
use crate::outbound::Outbound;
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Seconds between attempts after the endpoint failed for a user.
pub const RETRY_AFTER_FAILURE: u64 = 5;

/// A panel's membership endpoint (`[tenant.panel_members]`).
#[derive(Debug)]
pub struct PanelEndpoint {
    /// The endpoint.
    pub url: String,
    token: Option<String>,
    /// Seconds an answer is used.
    pub ttl: u64,
    /// Seconds a "not found" is used.
    pub negative_ttl: u64,
    /// Seconds past its time an answer is still used while the endpoint fails.
    pub stale_for: u64,
    cache: moka::sync::Cache<String, Arc<Entry>>,
    /// When the endpoint last failed (Unix seconds; 0: never).
    pub last_failure: AtomicU64,
    /// When the endpoint last answered.
    pub last_success: AtomicU64,
}

/// What is known about one user.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The panel's answer: the user's memberships, or `None` for "unknown user".
    pub answer: Option<Option<Arc<Directory>>>,
    /// When it was fetched.
    pub fetched_at: u64,
    /// When the last attempt failed, if it did.
    pub failed_at: Option<u64>,
}

/// A lookup in the cache.
#[derive(Debug)]
pub enum Cached {
    /// The memberships to use (`None`: the panel does not know the user).
    Use(Option<Arc<Directory>>),
    /// Ask the endpoint first.
    Fetch,
    /// Neither a usable answer nor a chance to ask now.
    Unavailable,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    memberships: Vec<AnswerMembership>,
}

#[derive(Deserialize)]
struct AnswerMembership {
    account: String,
    permissions: Vec<String>,
    #[serde(default)]
    impersonate: Option<String>,
}

impl PanelEndpoint {
    /// An endpoint at `url`.
    pub fn new(
        url: &str,
        token: Option<String>,
        ttl: u64,
        negative_ttl: u64,
        stale_for: u64,
    ) -> PanelEndpoint {
        PanelEndpoint {
            url: url.to_string(),
            token,
            ttl,
            negative_ttl,
            stale_for,
            cache: moka::sync::Cache::builder()
                .max_capacity(200_000)
                .time_to_live(std::time::Duration::from_secs(
                    ttl.max(negative_ttl) + stale_for + RETRY_AFTER_FAILURE,
                ))
                .build(),
            last_failure: AtomicU64::new(0),
            last_success: AtomicU64::new(0),
        }
    }

    /// What the cache says about `user` at `now`.
    pub fn cached(&self, user: &str, now: u64) -> Cached {
        let entry = self.cache.get(user);
        let recently_failed =
            |e: &Entry| e.failed_at.is_some_and(|f| now < f + RETRY_AFTER_FAILURE);
        match entry.as_deref() {
            None => Cached::Fetch,
            Some(e) => match &e.answer {
                None if recently_failed(e) => Cached::Unavailable,
                None => Cached::Fetch,
                Some(answer) => {
                    let life = if answer.is_some() {
                        self.ttl
                    } else {
                        self.negative_ttl
                    };
                    let age = now.saturating_sub(e.fetched_at);
                    // Fresh, or stale while the endpoint fails (for a while).
                    let usable = age < life || (recently_failed(e) && age < life + self.stale_for);
                    if usable {
                        Cached::Use(answer.clone())
                    } else if recently_failed(e) {
                        Cached::Unavailable
                    } else {
                        Cached::Fetch
                    }
                }
            },
        }
    }

    /// Asks the endpoint about `user` and keeps the answer (or the failure,
    /// next to the last good answer); whether it answered.
    pub async fn fetch(&self, client: &Outbound, user: &str, now: u64) -> bool {
        let got = self.ask(client, user).await;
        let previous = self.cache.get(user);
        let entry = match got {
            Ok(answer) => {
                self.last_success.store(now, Ordering::Relaxed);
                Entry {
                    answer: Some(answer.map(Arc::new)),
                    fetched_at: now,
                    failed_at: None,
                }
            }
            Err(e) => {
                self.last_failure.store(now, Ordering::Relaxed);
                tracing::warn!(url = %self.url, %user, "membership endpoint failed ({e}); kept answers are used for a while");
                Entry {
                    answer: previous.as_ref().and_then(|p| p.answer.clone()),
                    fetched_at: previous.as_ref().map_or(0, |p| p.fetched_at),
                    failed_at: Some(now),
                }
            }
        };
        let answered = entry.failed_at.is_none();
        self.cache.insert(user.to_string(), Arc::new(entry));
        answered
    }

    async fn ask(&self, client: &Outbound, user: &str) -> Result<Option<Directory>, String> {
        let mut url = url::Url::parse(&self.url).map_err(|e| e.to_string())?;
        url.query_pairs_mut().append_pair("user", user);
        let bearer = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![("accept", "application/json")];
        if let Some(b) = &bearer {
            headers.push(("authorization", b));
        }
        let reply = client.get(url.as_str(), &headers).await?;
        if reply.status == 404 {
            return Ok(None);
        }
        let answer: Answer = serde_json::from_str(reply.ok_text()?)
            .map_err(|e| format!("not a membership answer: {e}"))?;
        let mut dir = Directory::default();
        for m in answer.memberships {
            let mut perms = Vec::new();
            for p in &m.permissions {
                perms
                    .push(Permission::parse(p).ok_or_else(|| format!("unknown permission `{p}`"))?);
            }
            dir.add(
                user,
                answer.name.clone(),
                Membership::new(
                    &m.account.to_ascii_lowercase(),
                    Permissions::of(perms),
                    m.impersonate,
                ),
            );
        }
        Ok(Some(dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(
        p: &PanelEndpoint,
        user: &str,
        answer: Option<Option<Arc<Directory>>>,
        fetched_at: u64,
        failed_at: Option<u64>,
    ) {
        p.cache.insert(
            user.into(),
            Arc::new(Entry {
                answer,
                fetched_at,
                failed_at,
            }),
        );
    }

    #[test]
    fn fresh_stale_and_unavailable() {
        let p = PanelEndpoint::new("https://panel/m", None, 60, 30, 600);
        assert!(matches!(p.cached("ana", 1000), Cached::Fetch));
        let dir = Some(Arc::new(Directory::default()));
        put(&p, "ana", Some(dir.clone()), 1000, None);
        assert!(matches!(p.cached("ana", 1059), Cached::Use(Some(_))));
        assert!(
            matches!(p.cached("ana", 1060), Cached::Fetch),
            "expired: ask again"
        );
        // The endpoint failed: the old answer serves, up to stale_for.
        put(&p, "ana", Some(dir.clone()), 1000, Some(1061));
        assert!(matches!(p.cached("ana", 1062), Cached::Use(Some(_))));
        put(&p, "ana", Some(dir), 1000, Some(1700));
        assert!(
            matches!(p.cached("ana", 1701), Cached::Unavailable),
            "too stale"
        );
        assert!(
            matches!(p.cached("ana", 1700 + RETRY_AFTER_FAILURE), Cached::Fetch),
            "try again"
        );
        // Not found: kept negative_ttl.
        put(&p, "bob", Some(None), 1000, None);
        assert!(matches!(p.cached("bob", 1029), Cached::Use(None)));
        assert!(matches!(p.cached("bob", 1030), Cached::Fetch));
        // Never answered and failing.
        put(&p, "eve", None, 0, Some(1000));
        assert!(matches!(p.cached("eve", 1001), Cached::Unavailable));
    }
}
