//! Opening the store, and its schema: one migration step per version, the
//! same versions on both databases, applied in one transaction on open
//! (and by `portero accounts migrate`). A store written by a newer Portero
//! is refused with a clear message, never changed.
//!
//! SQLite keeps its version in `PRAGMA user_version`; PostgreSQL in the
//! table `portero_schema`, and every node migrating at once is safe (the
//! first takes an advisory lock, the others wait and find nothing to do).

use super::db::{args, Conn, Db};
use super::{Store, StoreError};
use std::path::Path;
use std::time::Duration;

/// The schema on SQLite, one step per version; never edit a released
/// step, add one.
const SQLITE: &[&str] = &[
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
    // 3: since when each member takes part (0: from before version 3).
    "ALTER TABLE members ADD COLUMN since INTEGER NOT NULL DEFAULT 0;",
    // 4: ACME: the account per CA directory, each host's certificate, the
    // lease that lets one node order a host, the challenges every node answers.
    "CREATE TABLE acme_accounts (
        directory TEXT PRIMARY KEY, credentials TEXT NOT NULL, created_at INTEGER NOT NULL);
     CREATE TABLE acme_certificates (
        host TEXT PRIMARY KEY, chain TEXT NOT NULL, private_key TEXT NOT NULL,
        not_after INTEGER NOT NULL, updated_at INTEGER NOT NULL);
     CREATE TABLE acme_leases (
        host TEXT PRIMARY KEY, holder TEXT NOT NULL, until INTEGER NOT NULL);
     CREATE TABLE acme_challenges (
        token TEXT PRIMARY KEY, host TEXT NOT NULL, kind TEXT NOT NULL,
        key_authorization TEXT NOT NULL, until INTEGER NOT NULL);",
];

/// The same schema on PostgreSQL (integers are `BIGINT`, `user` is
/// quoted), plus the row every write locks and bumps.
const POSTGRES: &[&str] = &[
    "CREATE TABLE accounts (
        tenant TEXT NOT NULL, name TEXT NOT NULL, reseller TEXT,
        PRIMARY KEY (tenant, name));
     CREATE TABLE users (
        tenant TEXT NOT NULL, email TEXT NOT NULL, name TEXT, username TEXT, roles TEXT,
        created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,
        PRIMARY KEY (tenant, email));
     CREATE TABLE members (
        tenant TEXT NOT NULL, account TEXT NOT NULL, \"user\" TEXT NOT NULL,
        permissions BIGINT NOT NULL, impersonate TEXT,
        PRIMARY KEY (tenant, account, \"user\"));
     CREATE INDEX members_by_user ON members (tenant, \"user\");
     CREATE TABLE invitations (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, account TEXT NOT NULL,
        email TEXT NOT NULL, permissions BIGINT NOT NULL, invited_by TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE, expires_at BIGINT NOT NULL,
        state TEXT NOT NULL, created_at BIGINT NOT NULL);
     CREATE TABLE portero_changes (id INT PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL);
     INSERT INTO portero_changes VALUES (1, 0);",
    "ALTER TABLE users ADD COLUMN own_name TEXT;",
    "ALTER TABLE members ADD COLUMN since BIGINT NOT NULL DEFAULT 0;",
    "CREATE TABLE acme_accounts (
        directory TEXT PRIMARY KEY, credentials TEXT NOT NULL, created_at BIGINT NOT NULL);
     CREATE TABLE acme_certificates (
        host TEXT PRIMARY KEY, chain TEXT NOT NULL, private_key TEXT NOT NULL,
        not_after BIGINT NOT NULL, updated_at BIGINT NOT NULL);
     CREATE TABLE acme_leases (
        host TEXT PRIMARY KEY, holder TEXT NOT NULL, until BIGINT NOT NULL);
     CREATE TABLE acme_challenges (
        token TEXT PRIMARY KEY, host TEXT NOT NULL, kind TEXT NOT NULL,
        key_authorization TEXT NOT NULL, until BIGINT NOT NULL);",
];

/// The schema version this Portero writes.
pub const VERSION: usize = SQLITE.len();

/// The advisory lock that orders nodes migrating the same database.
const MIGRATION_LOCK: i64 = 0x0070_6f72_7465_726f; // "portero"

/// How long a node waits for a connection from the pool (or to make one).
const WAIT: Duration = Duration::from_secs(5);

impl Store {
    /// The store `[server]` names: PostgreSQL with `database`, else the
    /// SQLite file `portero.db` under `data_dir`; `None` with neither.
    pub async fn for_server(server: &crate::config::Server) -> Result<Option<Store>, StoreError> {
        Ok(Some(match (&server.database, &server.data_dir) {
            (Some(url), _) => Store::connect(&url.0).await?,
            (None, Some(dir)) => Store::open_file(&dir.join("portero.db")).await?,
            (None, None) => return Ok(None),
        }))
    }

    /// Opens (creating if needed) the SQLite file and brings its schema
    /// up to date.
    pub async fn open_file(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(WAIT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > VERSION as i64 {
            return Err(StoreError::TooNew(
                path.display().to_string(),
                version,
                VERSION,
            ));
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for (i, step) in SQLITE.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(step)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(Store {
            db: Db::Sqlite {
                conn: tokio::sync::Mutex::new(conn),
                path: path.to_path_buf(),
            },
        })
    }

    /// Connects to PostgreSQL at `url` (`postgres://user:password@host:port/db`;
    /// `sslmode=require` for TLS, checked against the system's certificate
    /// authorities) and brings its schema up to date. The pool makes its
    /// connections when first asked, on the runtime that asks.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Database(format!("the database URL: {e}")))?;
        config.connect_timeout(WAIT);
        if config.get_application_name().is_none() {
            config.application_name("portero");
        }
        let shown = shown(&config);
        let tls = match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Require => {
                Some(tokio_postgres_rustls::MakeRustlsConnect::new(
                    crate::outbound::client_tls(None).map_err(StoreError::Database)?,
                ))
            }
            _ => None,
        };
        let manager = deadpool_postgres::ManagerConfig {
            recycling_method: deadpool_postgres::RecyclingMethod::Fast,
        };
        let manager = match &tls {
            Some(tls) => {
                deadpool_postgres::Manager::from_config(config.clone(), tls.clone(), manager)
            }
            None => deadpool_postgres::Manager::from_config(
                config.clone(),
                tokio_postgres::NoTls,
                manager,
            ),
        };
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(8)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(WAIT))
            .create_timeout(Some(WAIT))
            .recycle_timeout(Some(WAIT))
            .build()
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let store = Store {
            db: Db::Postgres {
                pool,
                config,
                tls,
                shown,
            },
        };
        store.migrate_postgres().await?;
        Ok(store)
    }

    async fn migrate_postgres(&self) -> Result<(), StoreError> {
        let mut conn = self.read().await?;
        conn.batch("BEGIN").await?;
        let done = async {
            conn.execute("SELECT pg_advisory_xact_lock(?1)", args![MIGRATION_LOCK])
                .await?;
            conn.batch("CREATE TABLE IF NOT EXISTS portero_schema (version BIGINT NOT NULL)")
                .await?;
            let version = match conn
                .first("SELECT version FROM portero_schema", &[])
                .await?
            {
                Some(row) => row.int(0)?,
                None => {
                    conn.execute("INSERT INTO portero_schema VALUES (0)", &[])
                        .await?;
                    0
                }
            };
            if version > VERSION as i64 {
                return Err(StoreError::TooNew(self.describe(), version, VERSION));
            }
            for (i, step) in POSTGRES.iter().enumerate().skip(version.max(0) as usize) {
                conn.batch(step).await?;
                conn.execute(
                    "UPDATE portero_schema SET version = ?1",
                    args![(i + 1) as i64],
                )
                .await?;
            }
            Ok(())
        }
        .await;
        finish(conn, done).await
    }

    /// The schema version the store holds now.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let mut conn = self.read().await?;
        let row = match &conn {
            Conn::Sqlite(_) => conn.first("PRAGMA user_version", &[]).await?,
            _ => {
                conn.first("SELECT version FROM portero_schema", &[])
                    .await?
            }
        };
        row.map_or(Ok(0), |r| r.int(0))
    }
}

/// Commits when `done` is Ok, else rolls back (dropping a pooled
/// connection mid-transaction closes it, which rolls back).
async fn finish(mut conn: Conn<'_>, done: Result<(), StoreError>) -> Result<(), StoreError> {
    match done {
        Ok(()) => conn.batch("COMMIT").await,
        Err(e) => {
            if let Conn::Postgres(c) = conn {
                drop(deadpool_postgres::Object::take(c));
            }
            Err(e)
        }
    }
}

/// Where a PostgreSQL database is, for messages: never the password.
fn shown(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("postgres");
    format!("postgres://{host}:{port}/{db}")
}

#[cfg(test)]
mod tests {
    use super::super::testing::pg_server;
    use super::*;
    use crate::identity::{Permission::*, Permissions};

    #[tokio::test]
    async fn a_sqlite_file_is_created_migrated_once_and_refused_when_newer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/portero.db");
        let s = Store::open_file(&path).await.unwrap();
        s.add_member("t", "a.test", "ana@a.test", Permissions::of([Admin]), 1)
            .await
            .unwrap();
        assert_eq!(s.schema_version().await.unwrap(), VERSION as i64);
        drop(s);
        let again = Store::open_file(&path).await.unwrap();
        assert!(again
            .directory("t")
            .await
            .unwrap()
            .membership("ana@a.test", "a.test")
            .is_some());
        drop(again);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let e = Store::open_file(&path).await.unwrap_err();
        assert!(matches!(e, StoreError::TooNew(..)), "{e}");
        assert!(
            e.to_string().contains("newer than this Portero knows"),
            "{e}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nodes_migrating_one_database_at_once_migrate_it_once() {
        let url = tokio::task::spawn_blocking(|| pg_server::fresh_database("migrate"))
            .await
            .unwrap();
        let nodes: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { Store::connect(&url).await })
            })
            .collect();
        let mut stores = Vec::new();
        for n in nodes {
            stores.push(n.await.unwrap().unwrap());
        }
        let s = &stores[0];
        assert_eq!(s.schema_version().await.unwrap(), VERSION as i64);
        s.add_member("t", "a.test", "ana@a.test", Permissions::of([Admin]), 1)
            .await
            .unwrap();
        assert!(stores[3]
            .directory("t")
            .await
            .unwrap()
            .membership("ana@a.test", "a.test")
            .is_some());
        // Written by a newer Portero: refused, and nothing is changed.
        pg_server::shared().psql(
            url.rsplit('/').next().unwrap(),
            "UPDATE portero_schema SET version = 99",
        );
        let e = Store::connect(&url).await.unwrap_err();
        assert!(matches!(e, StoreError::TooNew(_, 99, _)), "{e}");
        assert!(!e.to_string().contains("password"));
    }
}

#[cfg(test)]
mod shown_tests {
    /// A database's address in messages, `/readyz` and logs never carries
    /// its password.
    #[test]
    fn the_address_shown_has_no_password() {
        let config: tokio_postgres::Config = "postgres://portero:s3cr3t-pw@db.test:6543/dir"
            .parse()
            .unwrap();
        assert_eq!(super::shown(&config), "postgres://db.test:6543/dir");
    }
}
