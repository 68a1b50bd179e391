//! The audit log: one JSON object per line for every sign-in, sign-out,
//! super-admin bypass and refused cookie, assertion or token (README,
//! "Admin listener, metrics, logs").

use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A verified login became a session.
    SignIn,
    /// A session ended on `/.portero/logout`.
    SignOut,
    /// A super-admin identified themselves and got the classic login.
    SuperadminBypass,
    /// A classic user identified themselves and got the classic login.
    ClassicLogin,
    /// A session cookie was refused (tampered, expired, foreign, revoked).
    RefusedCookie,
    /// A sign-in token or assertion was refused.
    RefusedAssertion,
    /// An operator forced re-authentication for a tenant.
    ForceReauth,
    /// The configuration was reloaded, or a reload refused.
    ConfigReload,
    /// A membership or invitation changed (or a change was refused).
    Membership,
    /// A person changed their own profile (their display name), or the
    /// change was refused.
    Profile,
}

/// One audit line.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    /// Unix seconds.
    pub ts: u64,
    /// What happened.
    pub event: Event,
    /// The tenant.
    pub tenant: &'a str,
    /// The user, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    /// The client address, when there was a client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<IpAddr>,
    /// Why, or how.
    pub reason: &'a str,
}

/// One access-log line (`[server].access_log`): no query string, no
/// cookies, no tokens.
#[derive(Debug, Serialize)]
pub struct Access<'a> {
    /// Unix seconds.
    pub ts: u64,
    /// The tenant (`-` when the host is unknown).
    pub tenant: &'a str,
    /// The method.
    pub method: &'a str,
    /// The host as asked.
    pub host: &'a str,
    /// The path, without the query string.
    pub path: &'a str,
    /// The status sent (0 when the connection ended first).
    pub status: u16,
    /// What Portero did (`forward_identity`, `bypass`, `sign_in`, …).
    pub outcome: &'a str,
    /// The routing rule that decided (`bypass path`, `valid session`, …;
    /// `-` when none ran, e.g. an unknown host).
    pub rule: &'a str,
    /// Why, in the policy's words (`-` when no rule ran).
    pub reason: &'a str,
    /// Milliseconds from arrival to the answer (its head, for answers
    /// streamed from the panel).
    pub ms: f64,
    /// The TCP peer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<IpAddr>,
}

/// The access log: JSON lines appended to a file.
#[derive(Debug)]
pub struct AccessLog {
    sink: Mutex<std::io::BufWriter<File>>,
}

impl AccessLog {
    /// Opens (creating) the file.
    pub fn open(path: &Path) -> std::io::Result<AccessLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AccessLog {
            sink: Mutex::new(std::io::BufWriter::with_capacity(64 * 1024, file)),
        })
    }

    /// Writes one line (buffered; flushed at least every 64 KiB and by
    /// [`AccessLog::flush`]).
    pub fn write(&self, line: &Access<'_>) {
        use std::io::Write;
        let Ok(mut bytes) = serde_json::to_vec(line) else {
            return;
        };
        bytes.push(b'\n');
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = sink.write_all(&bytes);
    }

    /// Writes out what is buffered.
    pub fn flush(&self) {
        use std::io::Write;
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = sink.flush();
    }
}

/// Where audit lines go: a file opened for appending, or standard error.
#[derive(Debug)]
pub struct AuditLog {
    sink: Mutex<Option<File>>,
}

impl AuditLog {
    /// Opens (creating) the file, or writes to standard error when `None`.
    pub fn open(path: Option<&Path>) -> std::io::Result<AuditLog> {
        let file = match path {
            Some(p) => Some(OpenOptions::new().create(true).append(true).open(p)?),
            None => None,
        };
        Ok(AuditLog {
            sink: Mutex::new(file),
        })
    }

    /// Writes one line. A failing disk never fails the request; it is
    /// reported through tracing instead.
    pub fn write(&self, record: &Record<'_>) {
        let Ok(mut line) = serde_json::to_vec(record) else {
            return;
        };
        line.push(b'\n');
        let mut sink = match self.sink.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let result = match sink.as_mut() {
            Some(f) => f.write_all(&line),
            None => std::io::stderr().write_all(&line),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "cannot write the audit log");
        }
    }
}
