//! Stores for the unit tests, on both databases: every store test runs
//! once on a SQLite file and once on a fresh PostgreSQL database (the
//! test matrix that keeps the two from drifting apart).

#[path = "pg_server.rs"]
pub mod pg_server;

use super::Store;

/// Which database a test's store is on.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A file in a temporary folder.
    Sqlite,
    /// A new database on the test run's PostgreSQL server.
    Postgres,
}

/// What keeps a test's store alive (its folder).
pub struct Keep(#[allow(dead_code)] Option<tempfile::TempDir>);

/// A new, empty store of `kind`.
pub async fn store(kind: Kind) -> (Keep, Store) {
    match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let s = Store::open_file(&dir.path().join("portero.db"))
                .await
                .unwrap();
            (Keep(Some(dir)), s)
        }
        Kind::Postgres => {
            let url = tokio::task::spawn_blocking(|| pg_server::fresh_database("unit"))
                .await
                .unwrap();
            (Keep(None), Store::connect(&url).await.unwrap())
        }
    }
}

/// Runs a store test on both databases: `on_both!(name, |s| async {..})`
/// makes the module `name` with the tests `sqlite` and `postgres`.
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::store::testing::{store, Kind};

            #[tokio::test]
            async fn sqlite() {
                let (_keep, s) = store(Kind::Sqlite).await;
                ($body)(s).await;
            }

            #[tokio::test]
            async fn postgres() {
                let (_keep, s) = store(Kind::Postgres).await;
                ($body)(s).await;
            }
        }
    };
}
pub(crate) use on_both;

/// Two stores on one database (two processes, or two nodes).
pub async fn two_stores(kind: Kind) -> (Keep, Store, Store) {
    match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("portero.db");
            let a = Store::open_file(&path).await.unwrap();
            let b = Store::open_file(&path).await.unwrap();
            (Keep(Some(dir)), a, b)
        }
        Kind::Postgres => {
            let url = tokio::task::spawn_blocking(|| pg_server::fresh_database("race"))
                .await
                .unwrap();
            let a = Store::connect(&url).await.unwrap();
            let b = Store::connect(&url).await.unwrap();
            (Keep(None), a, b)
        }
    }
}
