//! "Force re-authentication now": a per-tenant mark before which every session is void.

use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The time (Unix seconds) before which each tenant's sessions are void.
/// Read on every request without a lock; written rarely (copy on write),
/// and saved to a file when a data directory is configured, so a restart
/// does not bring revoked sessions back.
#[derive(Debug)]
pub struct Revocations {
    marks: ArcSwap<HashMap<String, u64>>,
    file: Option<PathBuf>,
}

impl Revocations {
    /// Starts from the saved file, if any.
    pub fn load(file: Option<PathBuf>) -> Revocations {
        let marks = file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Revocations {
            marks: ArcSwap::from_pointee(marks),
            file,
        }
    }

    /// Sessions of `tenant` issued before this time are void.
    pub fn revoked_before(&self, tenant: &str) -> u64 {
        self.marks.load().get(tenant).copied().unwrap_or(0)
    }

    /// Voids every session of `tenant` issued before `now` (whole seconds: a
    /// sign-in in the very same second survives, so a fresh sign-in right
    /// after the mark is never refused).
    pub fn revoke_all(&self, tenant: &str, now: u64) -> std::io::Result<()> {
        self.marks.rcu(|m| {
            let mut m = HashMap::clone(m);
            m.insert(tenant.to_string(), now);
            m
        });
        if let Some(f) = &self.file {
            let json = serde_json::to_vec_pretty(&*self.marks.load_full())?;
            let tmp = f.with_extension("tmp");
            std::fs::write(&tmp, json)?;
            std::fs::rename(tmp, f)?;
        }
        Ok(())
    }

    /// The marks, for tests and status pages.
    pub fn snapshot(&self) -> Arc<HashMap<String, u64>> {
        self.marks.load_full()
    }
}
