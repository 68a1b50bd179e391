//! Moving a whole store between databases (`portero accounts export` and
//! `import`): JSON lines, one record a line, the first naming the format
//! and the schema version. The export reads in one pass; the import writes
//! everything in one transaction into an empty store (a store that already
//! holds data is refused, so nothing is ever merged by accident), checking
//! every line before anything is kept.

use super::db::{args, Row};
use super::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};

/// The first line's `format`.
pub const FORMAT: &str = "portero-store";

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[allow(missing_docs)] // The fields are the store's columns, named alike.
pub enum Record {
    /// The first line.
    Header {
        /// Always [`FORMAT`].
        format: String,
        /// The schema version it was written from.
        schema: i64,
    },
    /// An account (with its reseller, for client accounts).
    Account {
        tenant: String,
        name: String,
        reseller: Option<String>,
    },
    /// A user.
    User {
        tenant: String,
        email: String,
        name: Option<String>,
        username: Option<String>,
        roles: Option<String>,
        own_name: Option<String>,
        created_at: i64,
        updated_at: i64,
    },
    /// A membership (`permissions` as the integer the store keeps).
    Member {
        tenant: String,
        account: String,
        user: String,
        permissions: i64,
        impersonate: Option<String>,
        since: i64,
    },
    /// An invitation (its link's token only as a hash, as kept).
    Invitation {
        id: String,
        tenant: String,
        account: String,
        email: String,
        permissions: i64,
        invited_by: String,
        token_hash: String,
        expires_at: i64,
        state: String,
        created_at: i64,
    },
}

/// How many records of each kind were moved.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Accounts.
    pub accounts: usize,
    /// Users.
    pub users: usize,
    /// Memberships.
    pub members: usize,
    /// Invitations.
    pub invitations: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} accounts, {} users, {} memberships, {} invitations",
            self.accounts, self.users, self.members, self.invitations
        )
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Database(format!("writing the export: {e}"))
}

impl Store {
    /// Writes every record, as JSON lines, to `out`.
    pub async fn export(&self, out: &mut dyn Write) -> Result<Counts, StoreError> {
        let mut conn = self.read().await?;
        let mut counts = Counts::default();
        let put = |r: &Record, out: &mut dyn Write| -> Result<(), StoreError> {
            let line = serde_json::to_string(r)
                .map_err(|e| StoreError::Database(format!("export: {e}")))?;
            writeln!(out, "{line}").map_err(io)
        };
        let header = Record::Header {
            format: FORMAT.into(),
            schema: super::schema::VERSION as i64,
        };
        put(&header, out)?;
        let q = "SELECT tenant, name, reseller FROM accounts ORDER BY tenant, name";
        for r in conn.query(q, &[]).await? {
            put(&account(&r)?, out)?;
            counts.accounts += 1;
        }
        let q = "SELECT tenant, email, name, username, roles, own_name, created_at, updated_at
                 FROM users ORDER BY tenant, email";
        for r in conn.query(q, &[]).await? {
            put(&user(&r)?, out)?;
            counts.users += 1;
        }
        let q = "SELECT tenant, account, \"user\", permissions, impersonate, since
                 FROM members ORDER BY tenant, account, \"user\"";
        for r in conn.query(q, &[]).await? {
            put(&member(&r)?, out)?;
            counts.members += 1;
        }
        let q = "SELECT id, tenant, account, email, permissions, invited_by, token_hash,
                 expires_at, state, created_at FROM invitations ORDER BY tenant, created_at, id";
        for r in conn.query(q, &[]).await? {
            put(&invitation(&r)?, out)?;
            counts.invitations += 1;
        }
        out.flush().map_err(io)?;
        Ok(counts)
    }

    /// Reads an export and writes it all in one transaction, into a store
    /// that holds nothing yet. A line that cannot be read refuses the whole
    /// import, naming the line.
    pub async fn import(&self, input: &mut dyn BufRead) -> Result<Counts, StoreError> {
        let records = read_records(input)?;
        let mut tx = self.write("*").await?;
        let held = tx
            .first(
                "SELECT 1 FROM accounts UNION ALL SELECT 1 FROM users
                 UNION ALL SELECT 1 FROM members UNION ALL SELECT 1 FROM invitations LIMIT 1",
                &[],
            )
            .await?;
        if held.is_some() {
            return Err(StoreError::Database(format!(
                "the store at {} already holds data; import into an empty store (nothing was changed)",
                self.describe()
            )));
        }
        let mut counts = Counts::default();
        for r in records {
            match r {
                Record::Header { .. } => {}
                Record::Account {
                    tenant,
                    name,
                    reseller,
                } => {
                    tx.execute(
                        "INSERT INTO accounts (tenant, name, reseller) VALUES (?1, ?2, ?3)",
                        args![tenant, name, reseller],
                    )
                    .await?;
                    counts.accounts += 1;
                }
                Record::User {
                    tenant,
                    email,
                    name,
                    username,
                    roles,
                    own_name,
                    created_at,
                    updated_at,
                } => {
                    tx.execute(
                        "INSERT INTO users (tenant, email, name, username, roles, own_name, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        args![tenant, email, name, username, roles, own_name, created_at, updated_at],
                    )
                    .await?;
                    counts.users += 1;
                }
                Record::Member {
                    tenant,
                    account,
                    user,
                    permissions,
                    impersonate,
                    since,
                } => {
                    tx.execute(
                        "INSERT INTO members (tenant, account, \"user\", permissions, impersonate, since)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        args![tenant, account, user, permissions, impersonate, since],
                    )
                    .await?;
                    counts.members += 1;
                }
                Record::Invitation {
                    id,
                    tenant,
                    account,
                    email,
                    permissions,
                    invited_by,
                    token_hash,
                    expires_at,
                    state,
                    created_at,
                } => {
                    tx.execute(
                        "INSERT INTO invitations (id, tenant, account, email, permissions, invited_by, token_hash, expires_at, state, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                        args![id, tenant, account, email, permissions, invited_by, token_hash, expires_at, state, created_at],
                    )
                    .await?;
                    counts.invitations += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(counts)
    }
}

/// Every line of an export, checked: the header first, then records of
/// this Portero's schema.
fn read_records(input: &mut dyn BufRead) -> Result<Vec<Record>, StoreError> {
    let bad = |n: usize, what: String| {
        StoreError::Database(format!("line {n}: {what} (nothing was imported)"))
    };
    let mut out = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| bad(n, format!("cannot be read: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let r: Record = serde_json::from_str(&line).map_err(|e| bad(n, e.to_string()))?;
        match (&r, out.is_empty()) {
            (Record::Header { format, schema }, true) => {
                if format != FORMAT {
                    return Err(bad(
                        n,
                        format!("not a Portero store export (format {format:?})"),
                    ));
                }
                if *schema > super::schema::VERSION as i64 {
                    return Err(bad(
                        n,
                        format!(
                            "written with schema version {schema}, newer than this Portero knows ({})",
                            super::schema::VERSION
                        ),
                    ));
                }
            }
            (_, true) => {
                return Err(bad(
                    n,
                    format!(
                        "the first line must be {{\"kind\":\"header\",\"format\":\"{FORMAT}\",…}}"
                    ),
                ))
            }
            (Record::Header { .. }, false) => return Err(bad(n, "a second header".into())),
            _ => {}
        }
        out.push(r);
    }
    if out.is_empty() {
        return Err(StoreError::Database(
            "the export is empty (nothing was imported)".into(),
        ));
    }
    Ok(out)
}

fn account(r: &Row) -> Result<Record, StoreError> {
    Ok(Record::Account {
        tenant: r.text(0)?,
        name: r.text(1)?,
        reseller: r.opt_text(2)?,
    })
}

fn user(r: &Row) -> Result<Record, StoreError> {
    Ok(Record::User {
        tenant: r.text(0)?,
        email: r.text(1)?,
        name: r.opt_text(2)?,
        username: r.opt_text(3)?,
        roles: r.opt_text(4)?,
        own_name: r.opt_text(5)?,
        created_at: r.int(6)?,
        updated_at: r.int(7)?,
    })
}

fn member(r: &Row) -> Result<Record, StoreError> {
    Ok(Record::Member {
        tenant: r.text(0)?,
        account: r.text(1)?,
        user: r.text(2)?,
        permissions: r.int(3)?,
        impersonate: r.opt_text(4)?,
        since: r.int(5)?,
    })
}

fn invitation(r: &Row) -> Result<Record, StoreError> {
    Ok(Record::Invitation {
        id: r.text(0)?,
        tenant: r.text(1)?,
        account: r.text(2)?,
        email: r.text(3)?,
        permissions: r.int(4)?,
        invited_by: r.text(5)?,
        token_hash: r.text(6)?,
        expires_at: r.int(7)?,
        state: r.text(8)?,
        created_at: r.int(9)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{store, Kind};
    use super::*;
    use crate::identity::{Permission::*, Permissions};

    async fn fill(s: &Store) {
        s.put_account("t", "c.test", Some("r.test")).await.unwrap();
        s.add_member("t", "a.test", "ana@a.test", Permissions::of([Admin]), 7)
            .await
            .unwrap();
        s.add_member(
            "u",
            "b.test",
            "bo@b.test",
            Permissions::of([Technical, Invite]),
            8,
        )
        .await
        .unwrap();
        s.set_impersonate("u", "b.test", "bo@b.test", Some("bo1"))
            .await
            .unwrap();
        s.set_own_name("t", "ana@a.test", Some("Ána “quoted”\\"), 9)
            .await
            .unwrap();
        s.invite(
            "t",
            None,
            "a.test",
            "new@a.test",
            Permissions::of([Commercial]),
            10,
            100,
        )
        .await
        .unwrap();
    }

    /// SQLite → PostgreSQL → SQLite gives back the same export, and the
    /// stores answer the same.
    #[tokio::test]
    async fn a_store_moves_to_postgres_and_back_unchanged() {
        let (_a, sqlite) = store(Kind::Sqlite).await;
        fill(&sqlite).await;
        let mut first = Vec::new();
        let counts = sqlite.export(&mut first).await.unwrap();
        assert_eq!(
            counts,
            Counts {
                accounts: 3,
                users: 2,
                members: 2,
                invitations: 1
            }
        );
        let (_b, pg) = store(Kind::Postgres).await;
        assert_eq!(pg.import(&mut first.as_slice()).await.unwrap(), counts);
        let mut second = Vec::new();
        pg.export(&mut second).await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&first),
            String::from_utf8_lossy(&second)
        );
        let (_c, back) = store(Kind::Sqlite).await;
        back.import(&mut second.as_slice()).await.unwrap();
        for s in [&sqlite, &pg, &back] {
            let d = s.directory("t").await.unwrap();
            assert_eq!(d.own_name("ana@a.test"), Some("Ána “quoted”\\"));
            assert_eq!(d.reseller("c.test"), Some("r.test"));
            assert_eq!(d.direct("ana@a.test", "a.test").unwrap().since, 7);
            let u = s.directory("u").await.unwrap();
            assert_eq!(
                u.direct("bo@b.test", "b.test")
                    .unwrap()
                    .impersonate
                    .as_deref(),
                Some("bo1")
            );
            assert_eq!(s.invitations("t", "a.test", 20).await.unwrap().len(), 1);
        }
        // Into a store that holds data: refused, nothing changed.
        let e = pg.import(&mut first.as_slice()).await.unwrap_err();
        assert!(e.to_string().contains("already holds data"), "{e}");
    }

    #[tokio::test]
    async fn a_bad_line_imports_nothing_and_names_the_line() {
        let (_k, s) = store(Kind::Sqlite).await;
        let text = format!(
            "{{\"kind\":\"header\",\"format\":\"{FORMAT}\",\"schema\":3}}\n\
             {{\"kind\":\"account\",\"tenant\":\"t\",\"name\":\"a.test\",\"reseller\":null}}\n\
             {{\"kind\":\"member\",\"tenant\":\"t\"}}\n"
        );
        let e = s.import(&mut text.as_bytes()).await.unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        assert!(!s.has_account("t", "a.test").await.unwrap());
        let newer = format!("{{\"kind\":\"header\",\"format\":\"{FORMAT}\",\"schema\":999}}\n");
        let e = s.import(&mut newer.as_bytes()).await.unwrap_err();
        assert!(e.to_string().contains("newer"), "{e}");
        let headless =
            "{\"kind\":\"account\",\"tenant\":\"t\",\"name\":\"a.test\",\"reseller\":null}\n";
        let e = s.import(&mut headless.as_bytes()).await.unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
