//! The store: each tenant's accounts (and their resellers), users,
//! memberships and invitations, in a SQLite file under `[server].data_dir`
//! (the embedded default) or in PostgreSQL (`[server].database`, shared by
//! several nodes). Created on first start; the schema is migrated by
//! version ([`schema`]).
//!
//! Requests never read it: each tenant's memberships are loaded into a
//! [`Directory`](crate::membership::Directory) snapshot, loaded again after
//! every change (made here, by another process on the same file, or by
//! another node on the same database). Every change runs in one write
//! transaction that also checks the rules of [`rules`], so two
//! administrators acting at once (on one node or two) cannot both remove
//! an account's last two members.
//!
//! One concern a file: [`db`] (the two databases behind one set of SQL),
//! `schema` (opening, migrations), `memberships` (accounts and their
//! members), `invitations`, `people` (users provisioned from an IdP),
//! `transfer` (export and import), `acme` (certificates from an ACME CA)
//! and [`rules`]; this file holds the store
//! itself, its error and its connections.

mod acme;
pub mod db;
mod invitations;
mod listen;
mod memberships;
mod people;
pub mod rules;
mod schema;
pub mod transfer;

pub use acme::{StoredCertificate, StoredChallenge};
pub use invitations::Invitation;
pub use listen::Listener;
pub use memberships::parse_permissions;
pub use people::{Person, Profile};
pub use schema::VERSION as SCHEMA_VERSION;

use crate::identity::Permissions;
use db::{Conn, Db, Tx};
use rules::RuleError;

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule of the membership rules refuses the change.
    #[error("{0}")]
    Rule(#[from] RuleError),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The invitation cannot be used (used, cancelled, rejected, expired, or
    /// for another e-mail).
    #[error("{0}")]
    Invitation(String),
    /// The SQLite file.
    #[error("store: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The database answered with an error.
    #[error("store: {0}")]
    Database(String),
    /// The database could not be reached (nothing was changed).
    #[error("database unreachable: {0}")]
    Unreachable(String),
    /// A store written by a newer Portero.
    #[error("the store {0} has schema version {1}, newer than this Portero knows ({2}); run the newer Portero, or restore a backup made for this one")]
    TooNew(String, i64, usize),
}

impl StoreError {
    /// Whether the database could not be reached (a change may be tried
    /// again later: nothing was changed).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, StoreError::Unreachable(_))
    }
}

/// The store: one SQLite file, or a PostgreSQL database.
pub struct Store {
    db: Db,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("at", &self.describe())
            .finish()
    }
}

/// Permissions as stored (an integer column).
fn perms(bits: i64) -> Permissions {
    Permissions::from_bits(u8::try_from(bits).unwrap_or(0))
}

impl Store {
    /// Where the store is, for messages: the file, or the database's
    /// address without its password.
    pub fn describe(&self) -> String {
        match &self.db {
            Db::Sqlite { path, .. } => path.display().to_string(),
            Db::Postgres { shown, .. } => shown.clone(),
        }
    }

    /// Whether the store is PostgreSQL (shared by several nodes).
    pub fn is_shared(&self) -> bool {
        matches!(self.db, Db::Postgres { .. })
    }

    /// Closes the idle pooled connections (made on a runtime that is going
    /// away); the pool makes new ones when next asked.
    pub fn release_connections(&self) {
        if let Db::Postgres { pool, .. } = &self.db {
            pool.retain(|_, _| false);
        }
    }

    /// Follows the changes other nodes make: a connection of its own that
    /// listens for the tenants they announce (PostgreSQL; `None` for the
    /// SQLite file, which is checked by version instead).
    pub async fn listen(&self) -> Option<Result<Listener, StoreError>> {
        let Db::Postgres { config, tls, .. } = &self.db else {
            return None;
        };
        Some(Listener::start(config, tls.as_ref()).await)
    }

    /// A connection for reading.
    async fn read(&self) -> Result<Conn<'_>, StoreError> {
        match &self.db {
            Db::Sqlite { conn, .. } => Ok(Conn::Sqlite(conn.lock().await)),
            Db::Postgres { pool, shown, .. } => pool
                .get()
                .await
                .map(Conn::Postgres)
                .map_err(|e| StoreError::Unreachable(format!("{shown}: {e}"))),
        }
    }

    /// A write transaction about `tenant`, under the write lock.
    async fn write(&self, tenant: &str) -> Result<Tx<'_>, StoreError> {
        Tx::begin(self.read().await?, tenant).await
    }

    /// Changes when any connection (this process, another process, another
    /// node) commits a change.
    pub async fn data_version(&self) -> Result<u64, StoreError> {
        let mut conn = self.read().await?;
        let row = match &conn {
            Conn::Sqlite(_) => conn.first("PRAGMA data_version", &[]).await?,
            _ => {
                conn.first("SELECT version FROM portero_changes WHERE id = 1", &[])
                    .await?
            }
        };
        Ok(row.map_or(Ok(0), |r| r.int(0))?.max(0) as u64)
    }
}

#[cfg(test)]
pub(crate) mod testing;
