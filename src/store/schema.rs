//! Opening the store file, and its schema: one migration step per
//! version (`PRAGMA user_version`), applied in one transaction on open.

use super::{Store, StoreError};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::sync::Mutex;

/// The schema, one step per version; never edit a released step, add one.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, users, memberships, invitations.
    "CREATE TABLE accounts (
        tenant TEXT NOT NULL, name TEXT NOT NULL, reseller TEXT,
        PRIMARY KEY (tenant, name));
     CREATE TABLE users (
        tenant TEXT NOT NULL, email TEXT NOT NULL, name TEXT, username TEXT, roles TEXT,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, email));
     CREATE TABLE members (
        tenant TEXT NOT NULL, account TEXT NOT NULL, user TEXT NOT NULL,
        permissions INTEGER NOT NULL, impersonate TEXT,
        PRIMARY KEY (tenant, account, user));
     CREATE INDEX members_by_user ON members (tenant, user);
     CREATE TABLE invitations (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, account TEXT NOT NULL,
        email TEXT NOT NULL, permissions INTEGER NOT NULL, invited_by TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE, expires_at INTEGER NOT NULL,
        state TEXT NOT NULL, created_at INTEGER NOT NULL);",
    // 2: the display name a person set themselves on their profile page.
    "ALTER TABLE users ADD COLUMN own_name TEXT;",
];

impl Store {
    /// Opens (creating if needed) the store file and brings its schema up
    /// to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len();
        if version > known as i64 {
            return Err(StoreError::TooNew(path.to_path_buf(), version, known));
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (i, step) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(step)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Permission::*, Permissions};

    #[test]
    fn created_and_migrated_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/portero.db");
        Store::open(&path)
            .unwrap()
            .add_member("t", "a.test", "ana@a.test", Permissions::of([Admin]), 1)
            .unwrap();
        let again = Store::open(&path).unwrap();
        assert!(again
            .directory("t")
            .unwrap()
            .membership("ana@a.test", "a.test")
            .is_some());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(Store::open(&path), Err(StoreError::TooNew(..))));
    }
}
