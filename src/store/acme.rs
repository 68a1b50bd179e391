//! ACME's share of the store ([`crate::acme`]): the account per CA
//! directory, each host's certificate, the lease that lets one node at a
//! time order a host (and, after a failure, keeps every node waiting out
//! its backoff), and the pending challenges, so that any node the CA's
//! validation reaches can answer. On PostgreSQL every node sees them; on
//! the SQLite file, the processes on that machine.
//!
//! None of these writes is a directory change: they take no write lock and
//! announce nothing (no snapshot is loaded again because of them).

use super::db::args;
use super::{Store, StoreError};

/// A host's certificate as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCertificate {
    /// The host name (lowercase).
    pub host: String,
    /// The PEM chain, leaf first.
    pub chain: String,
    /// The PEM private key (PKCS#8).
    pub private_key: String,
    /// When the leaf expires (Unix seconds).
    pub not_after: i64,
    /// When it was stored (Unix seconds, the storing node's clock).
    pub updated_at: i64,
}

/// A challenge waiting for the CA's validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChallenge {
    /// The challenge's token (the HTTP-01 path's last segment).
    pub token: String,
    /// The host it proves.
    pub host: String,
    /// `http-01` or `tls-alpn-01`.
    pub kind: String,
    /// The key authorization (token and account key thumbprint).
    pub key_authorization: String,
}

const CERTIFICATE_COLUMNS: &str = "host, chain, private_key, not_after, updated_at";

fn certificate(row: &super::db::Row) -> Result<StoredCertificate, StoreError> {
    Ok(StoredCertificate {
        host: row.text(0)?,
        chain: row.text(1)?,
        private_key: row.text(2)?,
        not_after: row.int(3)?,
        updated_at: row.int(4)?,
    })
}

impl Store {
    /// The account's credentials (JSON) kept for this CA directory.
    pub async fn acme_account(&self, directory: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.read().await?;
        let row = conn
            .first(
                "SELECT credentials FROM acme_accounts WHERE directory = ?1",
                args![directory],
            )
            .await?;
        row.map(|r| r.text(0)).transpose()
    }

    /// Keeps `credentials` for `directory` unless another node kept some
    /// first; returns the ones kept (use those).
    pub async fn acme_keep_account(
        &self,
        directory: &str,
        credentials: &str,
        now: u64,
    ) -> Result<String, StoreError> {
        let mut conn = self.read().await?;
        conn.execute(
            "INSERT INTO acme_accounts (directory, credentials, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (directory) DO NOTHING",
            args![directory, credentials, now],
        )
        .await?;
        let row = conn
            .first(
                "SELECT credentials FROM acme_accounts WHERE directory = ?1",
                args![directory],
            )
            .await?;
        match row {
            Some(r) => r.text(0),
            None => Err(StoreError::Database(
                "the ACME account just kept is not there".into(),
            )),
        }
    }

    /// Forgets the account kept for `directory` when it is still the one
    /// with `credentials` (the CA no longer knows it; the next is made anew).
    pub async fn acme_forget_account(
        &self,
        directory: &str,
        credentials: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.read().await?;
        conn.execute(
            "DELETE FROM acme_accounts WHERE directory = ?1 AND credentials = ?2",
            args![directory, credentials],
        )
        .await?;
        Ok(())
    }

    /// Every certificate kept.
    pub async fn acme_certificates(&self) -> Result<Vec<StoredCertificate>, StoreError> {
        let mut conn = self.read().await?;
        let rows = conn
            .query(
                &format!("SELECT {CERTIFICATE_COLUMNS} FROM acme_certificates ORDER BY host"),
                &[],
            )
            .await?;
        rows.iter().map(certificate).collect()
    }

    /// The certificate kept for `host`.
    pub async fn acme_certificate(
        &self,
        host: &str,
    ) -> Result<Option<StoredCertificate>, StoreError> {
        let mut conn = self.read().await?;
        let row = conn
            .first(
                &format!("SELECT {CERTIFICATE_COLUMNS} FROM acme_certificates WHERE host = ?1"),
                args![host],
            )
            .await?;
        row.as_ref().map(certificate).transpose()
    }

    /// Keeps a host's certificate (replacing the one before).
    pub async fn acme_put_certificate(&self, c: &StoredCertificate) -> Result<(), StoreError> {
        let mut conn = self.read().await?;
        conn.execute(
            "INSERT INTO acme_certificates (host, chain, private_key, not_after, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (host) DO UPDATE SET chain = excluded.chain,
                private_key = excluded.private_key, not_after = excluded.not_after,
                updated_at = excluded.updated_at",
            args![&c.host, &c.chain, &c.private_key, c.not_after, c.updated_at],
        )
        .await?;
        Ok(())
    }

    /// Takes the lease on ordering `host` for `holder` until `until`: true
    /// when it is free (never taken, or run out by `now`) or already
    /// `holder`'s. One statement, so two nodes asking at once cannot both
    /// get it.
    pub async fn acme_take_lease(
        &self,
        host: &str,
        holder: &str,
        until: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.read().await?;
        let changed = conn
            .execute(
                "INSERT INTO acme_leases (host, holder, until) VALUES (?1, ?2, ?3)
                 ON CONFLICT (host) DO UPDATE SET holder = excluded.holder, until = excluded.until
                 WHERE acme_leases.until <= ?4 OR acme_leases.holder = excluded.holder",
                args![host, holder, until, now],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Keeps `holder`'s lease on `host` until `until` (after a failure:
    /// no node orders the host again before then).
    pub async fn acme_hold_lease(
        &self,
        host: &str,
        holder: &str,
        until: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.read().await?;
        conn.execute(
            "UPDATE acme_leases SET until = ?3 WHERE host = ?1 AND holder = ?2",
            args![host, holder, until],
        )
        .await?;
        Ok(())
    }

    /// Gives `holder`'s lease on `host` up.
    pub async fn acme_release_lease(&self, host: &str, holder: &str) -> Result<(), StoreError> {
        let mut conn = self.read().await?;
        conn.execute(
            "DELETE FROM acme_leases WHERE host = ?1 AND holder = ?2",
            args![host, holder],
        )
        .await?;
        Ok(())
    }

    /// Adds a pending challenge, answered until `until`; challenges that
    /// ran out are removed on the way.
    pub async fn acme_add_challenge(
        &self,
        c: &StoredChallenge,
        until: u64,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.read().await?;
        conn.execute("DELETE FROM acme_challenges WHERE until <= ?1", args![now])
            .await?;
        conn.execute(
            "INSERT INTO acme_challenges (token, host, kind, key_authorization, until)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (token) DO UPDATE SET host = excluded.host, kind = excluded.kind,
                key_authorization = excluded.key_authorization, until = excluded.until",
            args![&c.token, &c.host, &c.kind, &c.key_authorization, until],
        )
        .await?;
        Ok(())
    }

    /// Removes a challenge once validated (or given up).
    pub async fn acme_remove_challenge(&self, token: &str) -> Result<(), StoreError> {
        let mut conn = self.read().await?;
        conn.execute("DELETE FROM acme_challenges WHERE token = ?1", args![token])
            .await?;
        Ok(())
    }

    /// The challenges pending at `now`, by token.
    pub async fn acme_challenges(&self, now: u64) -> Result<Vec<StoredChallenge>, StoreError> {
        let mut conn = self.read().await?;
        let rows = conn
            .query(
                "SELECT token, host, kind, key_authorization FROM acme_challenges
                 WHERE until > ?1 ORDER BY token",
                args![now],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredChallenge {
                    token: r.text(0)?,
                    host: r.text(1)?,
                    kind: r.text(2)?,
                    key_authorization: r.text(3)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{on_both, two_stores, Kind};
    use super::*;

    fn cert(host: &str, not_after: i64, at: i64) -> StoredCertificate {
        StoredCertificate {
            host: host.into(),
            chain: format!("chain of {host} at {at}"),
            private_key: format!("key of {host} at {at}"),
            not_after,
            updated_at: at,
        }
    }

    on_both!(
        the_first_account_kept_is_the_one_every_node_uses,
        |s: Store| async move {
            let dir = "https://ca.test/directory";
            assert_eq!(s.acme_account(dir).await.unwrap(), None);
            assert_eq!(s.acme_keep_account(dir, "first", 1).await.unwrap(), "first");
            // A second node that made its own account meanwhile is told to use the first.
            assert_eq!(
                s.acme_keep_account(dir, "second", 2).await.unwrap(),
                "first"
            );
            assert_eq!(s.acme_account(dir).await.unwrap().as_deref(), Some("first"));
            // Forgotten only as the one it is: another node's newer one stays.
            s.acme_forget_account(dir, "second").await.unwrap();
            assert_eq!(s.acme_account(dir).await.unwrap().as_deref(), Some("first"));
            s.acme_forget_account(dir, "first").await.unwrap();
            assert_eq!(s.acme_account(dir).await.unwrap(), None);
            assert_eq!(
                s.acme_keep_account(dir, "fourth", 4).await.unwrap(),
                "fourth"
            );
            // Another CA, another account.
            assert_eq!(
                s.acme_keep_account("https://other.test/dir", "third", 3)
                    .await
                    .unwrap(),
                "third"
            );
        }
    );

    on_both!(
        a_certificate_is_kept_per_host_and_replaced_by_its_renewal,
        |s: Store| async move {
            assert_eq!(s.acme_certificate("a.test").await.unwrap(), None);
            s.acme_put_certificate(&cert("a.test", 100, 1))
                .await
                .unwrap();
            s.acme_put_certificate(&cert("b.test", 200, 2))
                .await
                .unwrap();
            s.acme_put_certificate(&cert("a.test", 300, 3))
                .await
                .unwrap();
            assert_eq!(
                s.acme_certificate("a.test").await.unwrap(),
                Some(cert("a.test", 300, 3))
            );
            let all = s.acme_certificates().await.unwrap();
            assert_eq!(all, vec![cert("a.test", 300, 3), cert("b.test", 200, 2)]);
        }
    );

    on_both!(
        a_lease_is_one_holders_until_it_runs_out_or_is_given_up,
        |s: Store| async move {
            assert!(s
                .acme_take_lease("a.test", "node-1", 100, 10)
                .await
                .unwrap());
            // Another node is refused while it holds; the holder may take it again.
            assert!(!s
                .acme_take_lease("a.test", "node-2", 110, 20)
                .await
                .unwrap());
            assert!(s
                .acme_take_lease("a.test", "node-1", 120, 20)
                .await
                .unwrap());
            // Another host is free.
            assert!(s
                .acme_take_lease("b.test", "node-2", 110, 20)
                .await
                .unwrap());
            // After a failure the holder keeps it for the backoff: nobody orders before.
            s.acme_hold_lease("a.test", "node-1", 500).await.unwrap();
            assert!(!s
                .acme_take_lease("a.test", "node-2", 600, 499)
                .await
                .unwrap());
            assert!(s
                .acme_take_lease("a.test", "node-2", 600, 500)
                .await
                .unwrap());
            // Only the holder gives it up.
            s.acme_release_lease("a.test", "node-1").await.unwrap();
            assert!(!s
                .acme_take_lease("a.test", "node-3", 700, 501)
                .await
                .unwrap());
            s.acme_release_lease("a.test", "node-2").await.unwrap();
            assert!(s
                .acme_take_lease("a.test", "node-3", 700, 501)
                .await
                .unwrap());
        }
    );

    on_both!(
        pending_challenges_are_listed_until_they_run_out,
        |s: Store| async move {
            let ch = |token: &str, kind: &str| StoredChallenge {
                token: token.into(),
                host: "a.test".into(),
                kind: kind.into(),
                key_authorization: format!("{token}.thumb"),
            };
            s.acme_add_challenge(&ch("t1", "http-01"), 100, 10)
                .await
                .unwrap();
            s.acme_add_challenge(&ch("t2", "tls-alpn-01"), 50, 10)
                .await
                .unwrap();
            assert_eq!(
                s.acme_challenges(20).await.unwrap(),
                vec![ch("t1", "http-01"), ch("t2", "tls-alpn-01")]
            );
            assert_eq!(
                s.acme_challenges(60).await.unwrap(),
                vec![ch("t1", "http-01")]
            );
            s.acme_remove_challenge("t1").await.unwrap();
            assert_eq!(
                s.acme_challenges(20).await.unwrap(),
                vec![ch("t2", "tls-alpn-01")]
            );
            // Adding removes those that ran out.
            s.acme_add_challenge(&ch("t3", "http-01"), 200, 60)
                .await
                .unwrap();
            assert_eq!(
                s.acme_challenges(0).await.unwrap(),
                vec![ch("t3", "http-01")]
            );
        }
    );

    /// Two nodes asking for the same host's lease at the same moment: one
    /// gets it, every round.
    async fn one_lease_of_two(kind: Kind) {
        let (_keep, a, b) = two_stores(kind).await;
        for round in 0..10u64 {
            let host = format!("h{round}.test");
            let (x, y) = tokio::join!(
                a.acme_take_lease(&host, "a", 100, 1),
                b.acme_take_lease(&host, "b", 100, 1)
            );
            assert!(x.unwrap() ^ y.unwrap(), "round {round}");
        }
    }

    #[tokio::test]
    async fn two_nodes_never_both_get_a_lease_sqlite() {
        one_lease_of_two(Kind::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_nodes_never_both_get_a_lease_postgres() {
        one_lease_of_two(Kind::Postgres).await;
    }
}
