//! Documents Portero fetches from identity providers and keeps: SAML IdP
//! metadata from a URL, OpenID discovery documents, key sets.
//!
//! A [`Remote`] holds the last good copy, parsed. A fetch that fails, or
//! brings something that does not parse, leaves that copy in force and is
//! recorded (log, metrics, `/readyz`). Good copies are kept across reloads
//! (by URL) and across restarts (a file under `[server].data_dir`), so an
//! IdP that is down when Portero starts does not take the tenant's sign-in
//! down with it.

use crate::outbound::Outbound;
use arc_swap::ArcSwapOption;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Seconds to wait before trying again after a failed fetch (or less, when
/// the document's own refresh period is shorter).
pub const RETRY_AFTER_FAILURE: u64 = 60;

/// A fetched document, parsed; the last good copy is what callers see.
pub struct Remote<T> {
    url: String,
    what: &'static str,
    every: u64,
    parse: Parser<T>,
    current: ArcSwapOption<T>,
    status: Mutex<Status>,
}

/// Reads a fetched body into the document it should be.
type Parser<T> = Box<dyn Fn(&str) -> Result<T, String> + Send + Sync>;

/// What is known about one remote document's fetches.
#[derive(Debug, Clone, Default)]
pub struct Status {
    /// When the copy in force was fetched (Unix seconds), if there is one.
    pub fetched_at: Option<u64>,
    /// When the last attempt was made.
    pub attempted_at: Option<u64>,
    /// Why the last attempt failed, when it did.
    pub error: Option<String>,
}

impl<T> std::fmt::Debug for Remote<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .field("what", &self.what)
            .finish_non_exhaustive()
    }
}

impl<T> Remote<T> {
    /// A document at `url`, re-fetched every `every` seconds, read by `parse`.
    pub fn new(
        url: &str,
        what: &'static str,
        every: u64,
        parse: impl Fn(&str) -> Result<T, String> + Send + Sync + 'static,
    ) -> Remote<T> {
        Remote {
            url: url.to_string(),
            what,
            every: every.max(1),
            parse: Box::new(parse),
            current: ArcSwapOption::empty(),
            status: Mutex::new(Status::default()),
        }
    }

    /// The copy in force, if one was ever fetched.
    pub fn get(&self) -> Option<Arc<T>> {
        self.current.load_full()
    }

    fn status_mut(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What the refresher needs of any remote document, whatever it parses to.
pub trait Refresh: Send + Sync + std::fmt::Debug {
    /// Where it is fetched from.
    fn url(&self) -> &str;
    /// What it is, for messages ("SAML metadata").
    fn what(&self) -> &'static str;
    /// Offers a fetched body: parsed and put in force, or refused (and the
    /// copy in force kept). `fetched_at` is when it was fetched.
    fn offer(&self, body: &str, fetched_at: u64) -> Result<(), String>;
    /// Records a failed attempt at `now`.
    fn failed(&self, error: String, now: u64);
    /// What is known about its fetches.
    fn status(&self) -> Status;
    /// Whether it should be fetched at `now`.
    fn due(&self, now: u64) -> bool;
}

impl<T: Send + Sync> Refresh for Remote<T> {
    fn url(&self) -> &str {
        &self.url
    }

    fn what(&self) -> &'static str {
        self.what
    }

    fn offer(&self, body: &str, fetched_at: u64) -> Result<(), String> {
        match (self.parse)(body) {
            Ok(doc) => {
                self.current.store(Some(Arc::new(doc)));
                let mut s = self.status_mut();
                s.fetched_at = Some(fetched_at);
                s.attempted_at = Some(s.attempted_at.unwrap_or(0).max(fetched_at));
                s.error = None;
                Ok(())
            }
            Err(e) => {
                self.failed(e.clone(), fetched_at);
                Err(e)
            }
        }
    }

    fn failed(&self, error: String, now: u64) {
        let mut s = self.status_mut();
        s.attempted_at = Some(now);
        s.error = Some(error);
    }

    fn status(&self) -> Status {
        self.status_mut().clone()
    }

    fn due(&self, now: u64) -> bool {
        let s = self.status_mut();
        let Some(attempted) = s.attempted_at else {
            return true;
        };
        let wait = match (&s.error, s.fetched_at) {
            (None, Some(_)) => self.every,
            _ => self.every.min(RETRY_AFTER_FAILURE),
        };
        // A clock that went back counts as due.
        now < attempted || now - attempted >= wait
    }
}

/// Keeps the good copies of remote documents across reloads (in memory)
/// and restarts (files under `<data_dir>/idp-documents/`), and fetches what
/// is due.
#[derive(Debug)]
pub struct Keeper {
    kept: Mutex<Kept>,
    dir: Option<PathBuf>,
    /// Woken after a reload: what it asks for ([`Keeper::ask`]) is
    /// fetched at once.
    pub wake: tokio::sync::Notify,
    asked: Mutex<Asked>,
}

/// The documents a reload asks to be fetched at once.
#[derive(Default)]
pub enum Asked {
    /// None.
    #[default]
    Nothing,
    /// These (those of the tenants it compiled).
    These(Vec<Arc<dyn Refresh>>),
    /// Every document of the configuration in force (a full reload).
    All,
}

impl std::fmt::Debug for Asked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Asked::Nothing => f.write_str("Nothing"),
            Asked::These(d) => write!(f, "These({})", d.len()),
            Asked::All => f.write_str("All"),
        }
    }
}

/// Good copies by (kind, URL): the body and when it was fetched.
type Kept = HashMap<(String, String), (Arc<str>, u64)>;

/// One fetch's outcome, for the log and the metrics.
#[derive(Debug)]
pub struct Fetched {
    /// What was fetched.
    pub what: &'static str,
    /// From where.
    pub url: String,
    /// Why it failed, when it did (the last good copy stays in force).
    pub error: Option<String>,
}

impl Keeper {
    /// A keeper writing its files under `data_dir`, when there is one.
    pub fn new(data_dir: Option<&std::path::Path>) -> Keeper {
        Keeper {
            kept: Mutex::new(HashMap::new()),
            dir: data_dir.map(|d| d.join("idp-documents")),
            wake: tokio::sync::Notify::new(),
            asked: Mutex::new(Asked::Nothing),
        }
    }

    /// Asks for documents to be fetched at once (added to what was asked
    /// and not fetched yet) and wakes the refresher.
    pub fn ask(&self, more: Asked) {
        let mut asked = self
            .asked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *asked = match (std::mem::take(&mut *asked), more) {
            (Asked::All, _) | (_, Asked::All) => Asked::All,
            (Asked::Nothing, m) => m,
            (a, Asked::Nothing) => a,
            (Asked::These(mut a), Asked::These(b)) => {
                a.extend(b);
                Asked::These(a)
            }
        };
        drop(asked);
        self.wake.notify_one();
    }

    /// What was asked for since the last call.
    pub fn take_asked(&self) -> Asked {
        std::mem::take(
            &mut *self
                .asked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Gives documents of a freshly compiled configuration the good copies
    /// known so far: from memory (a reload), else from the data directory
    /// (a restart).
    pub fn adopt(&self, docs: &[Arc<dyn Refresh>]) {
        for doc in docs {
            let key = (doc.what().to_string(), doc.url().to_string());
            let known = self.kept().get(&key).cloned();
            let known = known.or_else(|| self.read_file(doc.what(), doc.url()));
            if let Some((body, at)) = known {
                if doc.offer(&body, at).is_ok() {
                    self.kept().insert(key, (body, at));
                }
            }
        }
    }

    /// Fetches each document that is due at `now` (every one when `all`),
    /// keeping each good copy.
    pub async fn refresh(
        &self,
        docs: &[Arc<dyn Refresh>],
        client: &Outbound,
        now: u64,
        all: bool,
    ) -> Vec<Fetched> {
        // Fetched side by side: one slow IdP does not hold up the others.
        let mut fetches = tokio::task::JoinSet::new();
        for doc in docs.iter().filter(|d| all || d.due(now)) {
            let (doc, client) = (doc.clone(), client.clone());
            fetches.spawn(async move {
                let got = match client.get(doc.url(), &[]).await {
                    Ok(reply) => reply.ok_text().map(str::to_string),
                    Err(e) => Err(e),
                };
                (doc, got)
            });
        }
        let mut out = Vec::new();
        while let Some(joined) = fetches.join_next().await {
            let Ok((doc, got)) = joined else { continue };
            let error = match got {
                Ok(body) => match doc.offer(&body, now) {
                    Ok(()) => {
                        self.keep(doc.what(), doc.url(), body.into(), now);
                        None
                    }
                    Err(e) => Some(format!("fetched but refused: {e}")),
                },
                Err(e) => {
                    doc.failed(e.clone(), now);
                    Some(e)
                }
            };
            out.push(Fetched {
                what: doc.what(),
                url: doc.url().to_string(),
                error,
            });
        }
        out
    }

    fn keep(&self, what: &str, url: &str, body: Arc<str>, at: u64) {
        self.kept()
            .insert((what.to_string(), url.to_string()), (body.clone(), at));
        if let Some(dir) = &self.dir {
            let write = || -> std::io::Result<()> {
                std::fs::create_dir_all(dir)?;
                let path = dir.join(cache_file_name(what, url));
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, format!("{at}\n{url}\n{body}"))?;
                std::fs::rename(&tmp, &path)
            };
            if let Err(e) = write() {
                tracing::warn!(%url, "cannot keep a copy of the {what} in {}: {e}", dir.display());
            }
        }
    }

    fn read_file(&self, what: &str, url: &str) -> Option<(Arc<str>, u64)> {
        let path = self.dir.as_ref()?.join(cache_file_name(what, url));
        let text = std::fs::read_to_string(path).ok()?;
        let (at, rest) = text.split_once('\n')?;
        let (kept_url, body) = rest.split_once('\n')?;
        (kept_url == url).then(|| (Arc::from(body), at.parse().unwrap_or(0)))
    }
}

/// The file under the data directory that keeps `url`'s last good copy.
pub fn cache_file_name(what: &str, url: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{what}\n{url}").as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.doc")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(s: &str) -> Result<u32, String> {
        s.trim().parse().map_err(|_| format!("not a number: {s}"))
    }

    #[test]
    fn a_bad_body_keeps_the_last_good_copy() {
        let r = Remote::new("https://idp/doc", "number", 3600, number);
        assert!(r.get().is_none());
        r.offer("7", 100).unwrap();
        assert_eq!(*r.get().unwrap(), 7);
        assert!(r.offer("seven", 200).is_err());
        assert_eq!(*r.get().unwrap(), 7);
        let s = r.status();
        assert_eq!(s.fetched_at, Some(100));
        assert_eq!(s.attempted_at, Some(200));
        assert!(s.error.unwrap().contains("not a number"));
        r.offer("8", 300).unwrap();
        assert_eq!(*r.get().unwrap(), 8);
        assert!(r.status().error.is_none());
    }

    #[test]
    fn due_on_schedule_and_sooner_after_a_failure() {
        let r = Remote::new("https://idp/doc", "number", 3600, number);
        assert!(r.due(0), "never fetched");
        r.offer("1", 1000).unwrap();
        assert!(!r.due(1000 + 3599));
        assert!(r.due(1000 + 3600));
        assert!(r.due(999), "clock went back");
        r.failed("down".into(), 5000);
        assert!(!r.due(5000 + RETRY_AFTER_FAILURE - 1));
        assert!(r.due(5000 + RETRY_AFTER_FAILURE));
        let short = Remote::new("https://idp/doc", "number", 2, number);
        short.failed("down".into(), 10);
        assert!(short.due(12), "a short period retries at its own pace");
    }

    #[test]
    fn a_restart_finds_the_kept_copy() {
        let dir = tempfile::tempdir().unwrap();
        let first = Keeper::new(Some(dir.path()));
        first.keep("number", "https://idp/doc", Arc::from("42"), 500);
        let doc: Arc<dyn Refresh> = Arc::new(Remote::new("https://idp/doc", "number", 60, number));
        let other: Arc<dyn Refresh> =
            Arc::new(Remote::new("https://idp/other", "number", 60, number));
        Keeper::new(Some(dir.path())).adopt(&[doc.clone(), other.clone()]);
        assert_eq!(doc.status().fetched_at, Some(500));
        assert_eq!(other.status().fetched_at, None);
    }

    #[test]
    fn cache_names_differ_by_url_and_kind() {
        let a = cache_file_name("SAML metadata", "https://a/md");
        assert_ne!(a, cache_file_name("SAML metadata", "https://b/md"));
        assert_ne!(a, cache_file_name("JWKS", "https://a/md"));
        assert!(a.ends_with(".doc") && !a.contains('/'));
    }
}
