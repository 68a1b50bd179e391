//! Sessions ended before their time, server-side: one session at logout, or
//! every session of one person ("revoke this person's sessions").
//!
//! A session cookie is sealed, so a copy of it opens anywhere until it
//! expires; an [`Ending`] is what refuses it earlier. Endings are read on
//! every request from memory (a read lock, two hash lookups), kept only
//! until the sessions they end would have expired anyway, written to
//! `<data_dir>/ended-sessions.jsonl` (a restart does not revive them; the
//! `portero accounts … revoke` command appends to the same file), and,
//! with Redis, exchanged with the other nodes through a stream
//! ([`crate::state::State::sync_endings`]). At most `capacity` single
//! sessions are held: past that, a logout ends every session of that
//! person issued until then (more is ended, never less).

use super::Refusal;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// One ending, as applied, saved and sent to the other nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k")]
pub enum Ending {
    /// One session (logout).
    #[serde(rename = "session")]
    Session {
        /// The tenant.
        #[serde(rename = "t")]
        tenant: String,
        /// The session's id.
        #[serde(rename = "s")]
        sid: String,
        /// Its user.
        #[serde(rename = "u")]
        user: String,
        /// Until when it is refused (when it would have expired anyway).
        #[serde(rename = "x")]
        until: u64,
    },
    /// Every session of `user` in `tenant` issued at or before `at`.
    #[serde(rename = "person")]
    Person {
        /// The tenant.
        #[serde(rename = "t")]
        tenant: String,
        /// The user (the lower-case e-mail).
        #[serde(rename = "u")]
        user: String,
        /// Sessions issued at or before this second are refused.
        #[serde(rename = "a")]
        at: u64,
        /// Until when the mark is kept (every such session has expired by then).
        #[serde(rename = "x")]
        until: u64,
    },
}

impl Ending {
    /// Every session of `user` in `tenant` issued up to `now` (kept as long
    /// as the longest session lives, whatever the tenant's `reauth`).
    pub fn person(tenant: &str, user: &str, now: u64) -> Ending {
        Ending::Person {
            tenant: tenant.to_string(),
            user: user.to_string(),
            at: now,
            until: now
                .saturating_add(super::MAX_SESSION_LIFE)
                .saturating_add(60),
        }
    }

    fn until(&self) -> u64 {
        match self {
            Ending::Session { until, .. } | Ending::Person { until, .. } => *until,
        }
    }

    /// The JSON line kept in the file and sent through Redis.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a JSON line; `None` when it is not one.
    pub fn from_json(line: &str) -> Option<Ending> {
        serde_json::from_str(line.trim()).ok()
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// tenant → sid → until.
    sessions: HashMap<String, HashMap<String, u64>>,
    /// tenant → user → (at, until).
    people: HashMap<String, HashMap<String, (u64, u64)>>,
    /// How many single sessions are held.
    count: usize,
    /// How much of the file has been read.
    file_read: u64,
    /// Endings made here (or read from the file) not yet sent to Redis.
    unshared: Vec<Ending>,
    /// The last Redis stream entry read.
    cursor: String,
}

impl Inner {
    /// Applies an ending; whether it changed anything. A session ending
    /// beyond `capacity` becomes an ending of that person.
    fn apply(&mut self, e: &Ending, now: u64, capacity: usize) -> Option<Ending> {
        if e.until() <= now {
            return None;
        }
        match e {
            Ending::Session {
                tenant,
                sid,
                user,
                until,
            } => {
                if let Some(held) = self.sessions.get_mut(tenant).and_then(|m| m.get_mut(sid)) {
                    if *held >= *until {
                        return None;
                    }
                    *held = *until;
                    return Some(e.clone());
                }
                if self.count >= capacity {
                    self.purge(now);
                }
                if self.count >= capacity {
                    let person = Ending::Person {
                        tenant: tenant.clone(),
                        user: user.clone(),
                        at: now,
                        until: *until,
                    };
                    return self.apply(&person, now, capacity);
                }
                self.sessions
                    .entry(tenant.clone())
                    .or_default()
                    .insert(sid.clone(), *until);
                self.count += 1;
                Some(e.clone())
            }
            Ending::Person {
                tenant,
                user,
                at,
                until,
            } => {
                let held = self.people.entry(tenant.clone()).or_default();
                let old = held.get(user).copied().unwrap_or((0, 0));
                if old.0 >= *at && old.1 >= *until {
                    return None;
                }
                held.insert(user.clone(), (old.0.max(*at), old.1.max(*until)));
                Some(e.clone())
            }
        }
    }

    fn person_at(&self, tenant: &str, user: &str) -> Option<(u64, u64)> {
        self.people.get(tenant)?.get(user).copied()
    }

    /// Drops what has expired.
    fn purge(&mut self, now: u64) {
        for held in self.sessions.values_mut() {
            held.retain(|_, until| *until > now);
        }
        self.sessions.retain(|_, m| !m.is_empty());
        self.count = self.sessions.values().map(HashMap::len).sum();
        for held in self.people.values_mut() {
            held.retain(|_, (_, until)| *until > now);
        }
        self.people.retain(|_, m| !m.is_empty());
    }

    fn all(&self) -> Vec<Ending> {
        let mut out = Vec::with_capacity(self.count);
        for (tenant, held) in &self.people {
            for (user, &(at, until)) in held {
                out.push(Ending::Person {
                    tenant: tenant.clone(),
                    user: user.clone(),
                    at,
                    until,
                });
            }
        }
        for (tenant, held) in &self.sessions {
            for (sid, &until) in held {
                out.push(Ending::Session {
                    tenant: tenant.clone(),
                    sid: sid.clone(),
                    user: String::new(),
                    until,
                });
            }
        }
        out
    }
}

/// The sessions ended before their time, on this node.
#[derive(Debug)]
pub struct EndedSessions {
    inner: RwLock<Inner>,
    file: Option<PathBuf>,
    capacity: usize,
    shared: bool,
}

/// The default number of single ended sessions held.
pub const CAPACITY: usize = 250_000;

impl EndedSessions {
    /// Starts from the saved file, if any (compacted: what has expired by
    /// `now` is dropped); `shared` when endings go to Redis too.
    pub fn load(file: Option<PathBuf>, capacity: usize, shared: bool, now: u64) -> EndedSessions {
        let ended = EndedSessions {
            inner: RwLock::new(Inner::default()),
            file,
            capacity,
            shared,
        };
        ended.read_file_from_start(now);
        ended
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the session `sid` of `user`, issued at `issued_at`, was ended.
    pub fn check(
        &self,
        tenant: &str,
        sid: &str,
        user: &str,
        issued_at: u64,
    ) -> Result<(), Refusal> {
        let inner = self.read();
        if inner
            .sessions
            .get(tenant)
            .is_some_and(|m| m.contains_key(sid))
        {
            return Err(Refusal::Ended);
        }
        if inner
            .person_at(tenant, user)
            .is_some_and(|(at, _)| issued_at <= at)
        {
            return Err(Refusal::PersonRevoked);
        }
        Ok(())
    }

    /// Ends sessions on this node: applied at once, saved to the file, and
    /// queued for the other nodes. Returns what was recorded (a logout past
    /// capacity becomes an ending of the person), or the error of saving it
    /// (it is in force in memory all the same).
    pub fn end(&self, e: &Ending, now: u64) -> std::io::Result<Option<Ending>> {
        let applied = {
            let mut inner = self.write();
            let applied = inner.apply(e, now, self.capacity);
            if let (Some(a), true) = (&applied, self.shared) {
                inner.unshared.push(a.clone());
            }
            applied
        };
        if let Some(a) = &applied {
            self.append(a)?;
        }
        Ok(applied)
    }

    /// Applies an ending another node made (read from Redis); saved to the
    /// file, not sent back.
    pub fn adopt(&self, e: &Ending, now: u64) -> bool {
        let applied = self.write().apply(e, now, self.capacity);
        if let Some(a) = &applied {
            if let Err(err) = self.append(a) {
                tracing::error!("cannot save an ended session: {err}");
            }
        }
        applied.is_some()
    }

    fn append(&self, e: &Ending) -> std::io::Result<()> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        append_line(path, e)
    }

    /// Reads what was appended to the file since it was last read (by the
    /// `portero accounts … revoke` command); new endings are queued for the
    /// other nodes. Every second, from the refresher.
    pub fn read_new_lines(&self, now: u64) {
        let Some(path) = &self.file else {
            return;
        };
        let Ok(mut f) = std::fs::File::open(path) else {
            return;
        };
        let from = self.read().file_read;
        let Ok(len) = f.metadata().map(|m| m.len()) else {
            return;
        };
        if len <= from {
            if len < from {
                // Replaced by a shorter file: read it again from the start.
                self.write().file_read = 0;
            }
            return;
        }
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(from)).is_err() || f.read_to_end(&mut buf).is_err() {
            return;
        }
        // Only whole lines; a line being written is read next time.
        let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let text = String::from_utf8_lossy(&buf[..=end]);
        let mut inner = self.write();
        for e in text.lines().filter_map(Ending::from_json) {
            if let Some(a) = inner.apply(&e, now, self.capacity) {
                tracing::info!("sessions ended from the command line: {}", a.to_json());
                if self.shared {
                    inner.unshared.push(a);
                }
            }
        }
        inner.file_read = from + end as u64 + 1;
    }

    /// Loads the whole file, then rewrites it with what is still in force.
    fn read_file_from_start(&self, now: u64) {
        let Some(path) = &self.file else {
            return;
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let kept = {
            let mut inner = self.write();
            for e in text.lines().filter_map(Ending::from_json) {
                inner.apply(&e, now, self.capacity);
            }
            inner.all()
        };
        let tmp = path.with_extension("tmp");
        let body: String = kept.iter().map(|e| e.to_json() + "\n").collect();
        let rewritten = std::fs::write(&tmp, &body).and_then(|()| std::fs::rename(&tmp, path));
        let mut inner = self.write();
        inner.file_read = match rewritten {
            Ok(()) => body.len() as u64,
            Err(e) => {
                tracing::warn!("cannot compact {}: {e}", path.display());
                text.len() as u64
            }
        };
    }

    /// Takes the endings not yet sent to Redis.
    pub fn take_unshared(&self) -> Vec<Ending> {
        std::mem::take(&mut self.write().unshared)
    }

    /// Puts back endings that could not be sent (tried again later).
    pub fn requeue(&self, mut endings: Vec<Ending>) {
        let mut inner = self.write();
        endings.append(&mut inner.unshared);
        inner.unshared = endings;
    }

    /// Whether endings are waiting to be sent to Redis.
    pub fn has_unshared(&self) -> bool {
        !self.read().unshared.is_empty()
    }

    /// The last Redis stream entry read (`0-0` at first).
    pub fn cursor(&self) -> String {
        let c = self.read().cursor.clone();
        if c.is_empty() {
            "0-0".to_string()
        } else {
            c
        }
    }

    /// Notes the last Redis stream entry read.
    pub fn set_cursor(&self, cursor: String) {
        self.write().cursor = cursor;
    }

    /// Drops what has expired (the refresher calls it now and then).
    pub fn purge(&self, now: u64) {
        self.write().purge(now);
    }

    /// How many single sessions and people marks are held (tests, status).
    pub fn len(&self) -> (usize, usize) {
        let inner = self.read();
        (inner.count, inner.people.values().map(HashMap::len).sum())
    }
}

/// Appends one ending to the file (one `write` of one whole line, so lines
/// from the server and the command line never interleave).
pub fn append_line(path: &std::path::Path, e: &Ending) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all((e.to_json() + "\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logout(sid: &str, until: u64) -> Ending {
        Ending::Session {
            tenant: "t".into(),
            sid: sid.into(),
            user: "ana@x.test".into(),
            until,
        }
    }

    #[test]
    fn a_logout_ends_that_session_only_until_it_would_expire() {
        let e = EndedSessions::load(None, 10, false, 100);
        e.end(&logout("s1", 200), 100).unwrap();
        assert_eq!(e.check("t", "s1", "ana@x.test", 50), Err(Refusal::Ended));
        assert_eq!(e.check("t", "s2", "ana@x.test", 50), Ok(()));
        assert_eq!(e.check("u", "s1", "ana@x.test", 50), Ok(()));
        e.purge(200);
        assert_eq!(e.len(), (0, 0));
    }

    #[test]
    fn a_person_mark_ends_sessions_issued_until_then() {
        let e = EndedSessions::load(None, 10, false, 100);
        let mark = Ending::Person {
            tenant: "t".into(),
            user: "ana@x.test".into(),
            at: 100,
            until: 1000,
        };
        e.end(&mark, 100).unwrap();
        assert_eq!(
            e.check("t", "s", "ana@x.test", 100),
            Err(Refusal::PersonRevoked)
        );
        assert_eq!(e.check("t", "s", "ana@x.test", 101), Ok(()));
        assert_eq!(e.check("t", "s", "bob@x.test", 50), Ok(()));
    }

    #[test]
    fn past_capacity_a_logout_ends_the_person_never_less() {
        let e = EndedSessions::load(None, 2, false, 100);
        e.end(&logout("s1", 500), 100).unwrap();
        e.end(&logout("s2", 500), 100).unwrap();
        let third = e.end(&logout("s3", 500), 100).unwrap();
        assert!(matches!(third, Some(Ending::Person { at: 100, .. })));
        assert_eq!(e.len(), (2, 1));
        assert!(e.check("t", "s3", "ana@x.test", 90).is_err());
        // Expired ones make room first.
        let e = EndedSessions::load(None, 1, false, 100);
        e.end(&logout("s1", 150), 100).unwrap();
        assert!(matches!(
            e.end(&logout("s2", 500), 160).unwrap(),
            Some(Ending::Session { .. })
        ));
        assert_eq!(e.len(), (1, 0));
    }

    #[test]
    fn kept_in_the_file_across_restarts_and_read_when_appended() {
        let dir = std::env::temp_dir().join(format!("portero-ended-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ended-sessions.jsonl");
        let _ = std::fs::remove_file(&path);
        let e = EndedSessions::load(Some(path.clone()), 10, true, 100);
        e.end(&logout("s1", 200), 100).unwrap();
        e.end(&logout("old", 120), 100).unwrap();
        let again = EndedSessions::load(Some(path.clone()), 10, false, 130);
        assert_eq!(again.check("t", "s1", "ana@x.test", 1), Err(Refusal::Ended));
        assert_eq!(again.len(), (1, 0), "the expired one is compacted away");
        // Another process (the command line) appends; read within a tick.
        append_line(&path, &logout("s9", 300)).unwrap();
        again.read_new_lines(130);
        assert_eq!(again.check("t", "s9", "ana@x.test", 1), Err(Refusal::Ended));
        // The first one queued its endings for Redis.
        assert_eq!(e.take_unshared().len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
