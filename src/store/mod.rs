//! The embedded store: a SQLite file under `[server].data_dir` holding each
//! tenant's accounts (and their resellers), users, memberships and
//! invitations. Created on first start; the schema is migrated by version
//! (`PRAGMA user_version`).
//!
//! Requests never read it: each tenant's memberships are loaded into a
//! [`Directory`](crate::membership::Directory) snapshot, loaded again after
//! every change (and when another process, such as `portero accounts`,
//! changed the file). Every change runs in one `BEGIN IMMEDIATE`
//! transaction that also checks the rules of [`rules`], so two
//! administrators acting at once cannot both remove an account's last two
//! members.
//!
//! One concern a file: `schema` (opening the file, migrations),
//! `memberships` (accounts and their members), `invitations`, `people`
//! (users provisioned from an IdP) and [`rules`]; this file holds the
//! store itself, its error and its transactions.

mod invitations;
mod memberships;
mod people;
pub mod rules;
mod schema;

pub use invitations::Invitation;
pub use memberships::parse_permissions;
pub use people::{Person, Profile};

use crate::identity::Permissions;
use rules::RuleError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule of CONTRACT §7 refuses the change.
    #[error("{0}")]
    Rule(#[from] RuleError),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The invitation cannot be used (used, cancelled, rejected, expired, or
    /// for another e-mail).
    #[error("{0}")]
    Invitation(String),
    /// The database.
    #[error("store: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A file written by a newer Portero.
    #[error("the store {0} has schema version {1}, newer than this Portero knows ({2})")]
    TooNew(PathBuf, i64, usize),
}

/// The store file.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Permissions as stored (an integer column).
fn perms(bits: i64) -> Permissions {
    Permissions::from_bits(u8::try_from(bits).unwrap_or(0))
}

impl Store {
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Changes when any connection (this process or another) commits.
    pub fn data_version(&self) -> u64 {
        self.conn()
            .pragma_query_value(None, "data_version", |r| r.get::<_, i64>(0))
            .map(|v| v as u64)
            .unwrap_or(0)
    }

    /// Runs `f` in one immediate (write-locked) transaction.
    fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// A store in a fresh temporary directory (tests).
#[cfg(test)]
fn test_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("portero.db")).unwrap();
    (dir, s)
}
