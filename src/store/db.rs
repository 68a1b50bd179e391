//! The two databases the store runs on, behind one set of SQL: SQLite (a
//! file under `data_dir`, the embedded default) and PostgreSQL (shared by
//! several nodes). Every query of the store is written once, with numbered
//! placeholders (`?1`); PostgreSQL gets them as `$1`. Values cross as
//! [`Value`]s and come back as [`Row`]s, so no query is written twice.
//!
//! A write is a [`Tx`]: on SQLite one `BEGIN IMMEDIATE` transaction (the
//! file's write lock); on PostgreSQL one transaction that first bumps the
//! single row of `portero_changes`, which serialises every writer of every
//! node (the rules read and change under that lock, so no two nodes can
//! both remove an account's last two members) and gives the readers a
//! version to compare. A `Tx` dropped without [`Tx::commit`] is rolled back.

use super::StoreError;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;

/// The notification channel a PostgreSQL write announces its tenant on.
pub const CHANNEL: &str = "portero_store";

/// One value bound to a placeholder or read from a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer (PostgreSQL `BIGINT`, SQLite `INTEGER`).
    Int(i64),
    /// Text.
    Text(String),
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Value {
        v.map_or(Value::Null, Value::from)
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Value {
        v.map_or(Value::Null, Value::Text)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Value {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

/// The values of a query's placeholders, in order: `args![tenant, now]`.
macro_rules! args {
    ($($v:expr),* $(,)?) => { &[$($crate::store::db::Value::from($v)),*] };
}
pub(crate) use args;

/// One row of a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn at(&self, i: usize) -> Result<&Value, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Database(format!("the result has no column {i}")))
    }

    /// Column `i` as text (NULL is an error).
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?
            .ok_or_else(|| StoreError::Database(format!("column {i} is NULL")))
    }

    /// Column `i` as text or NULL.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            Value::Int(n) => Ok(Some(n.to_string())),
        }
    }

    /// Column `i` as an integer (NULL is 0).
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.at(i)? {
            Value::Null => Ok(0),
            Value::Int(n) => Ok(*n),
            Value::Text(s) => s
                .parse()
                .map_err(|_| StoreError::Database(format!("column {i} is not a number"))),
        }
    }
}

/// Where the store lives.
pub(super) enum Db {
    /// One file; its connection behind an async lock (the queries
    /// themselves are short and local).
    Sqlite {
        conn: tokio::sync::Mutex<rusqlite::Connection>,
        path: PathBuf,
    },
    /// A pool of connections to a shared database.
    Postgres {
        pool: deadpool_postgres::Pool,
        /// The connection settings, for the listener's own connection.
        config: tokio_postgres::Config,
        /// Whether to speak TLS to it.
        tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
        /// Where, for messages (no password).
        shown: String,
    },
}

/// A connection taken for some queries.
#[allow(clippy::large_enum_variant)] // One at a time, on a task's stack.
pub(super) enum Conn<'a> {
    /// The file's only connection, locked.
    Sqlite(tokio::sync::MutexGuard<'a, rusqlite::Connection>),
    /// A pooled connection.
    Postgres(deadpool_postgres::Object),
    /// Given up by a transaction that ended.
    Ended,
}

fn ended() -> StoreError {
    StoreError::Database("a query after its transaction ended".into())
}

impl Conn<'_> {
    /// Every row `sql` returns.
    pub async fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        match self {
            Conn::Sqlite(c) => Ok(sqlite_query(c, sql, params)?),
            Conn::Postgres(c) => {
                let st = c.prepare_cached(&dollars(sql)).await.map_err(pg_error)?;
                let rows = c.query(&st, &pg_params(params)).await.map_err(pg_error)?;
                rows.iter().map(pg_row).collect()
            }
            Conn::Ended => Err(ended()),
        }
    }

    /// The first row `sql` returns, if any.
    pub async fn first(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Runs a statement; returns how many rows it changed.
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        match self {
            Conn::Sqlite(c) => {
                let n = c
                    .prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(params.iter()))?;
                Ok(n as u64)
            }
            Conn::Postgres(c) => {
                let st = c.prepare_cached(&dollars(sql)).await.map_err(pg_error)?;
                c.execute(&st, &pg_params(params)).await.map_err(pg_error)
            }
            Conn::Ended => Err(ended()),
        }
    }

    /// Runs statements without placeholders, in order.
    pub async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(c) => c.batch_execute(sql).await.map_err(pg_error),
            Conn::Ended => Err(ended()),
        }
    }
}

/// A write transaction; rolled back when dropped without [`Tx::commit`].
pub(super) struct Tx<'a> {
    conn: Conn<'a>,
}

impl<'a> Tx<'a> {
    /// Begins a write on `conn` for `tenant`, under the store's write lock.
    pub async fn begin(conn: Conn<'a>, tenant: &str) -> Result<Tx<'a>, StoreError> {
        let postgres = matches!(conn, Conn::Postgres(_));
        let mut tx = Tx { conn };
        if !postgres {
            tx.batch("BEGIN IMMEDIATE").await?;
            return Ok(tx);
        }
        tx.batch("BEGIN").await?;
        // The lock every writer of every node takes first.
        tx.execute(
            "UPDATE portero_changes SET version = version + 1 WHERE id = 1",
            &[],
        )
        .await?;
        // Delivered to the listening nodes when (and only if) this
        // transaction commits.
        tx.execute("SELECT pg_notify(?1, ?2)", args![CHANNEL, tenant])
            .await?;
        Ok(tx)
    }

    /// Makes the changes durable.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        self.conn.batch("COMMIT").await?;
        // Nothing left to roll back; a pooled connection goes back.
        self.conn = Conn::Ended;
        Ok(())
    }
}

impl<'a> Deref for Tx<'a> {
    type Target = Conn<'a>;
    fn deref(&self) -> &Conn<'a> {
        &self.conn
    }
}

impl<'a> DerefMut for Tx<'a> {
    fn deref_mut(&mut self) -> &mut Conn<'a> {
        &mut self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.conn, Conn::Ended) {
            Conn::Ended => {}
            Conn::Sqlite(c) => {
                let _ = c.execute_batch("ROLLBACK");
            }
            // Not given back to the pool: closing the connection rolls the
            // transaction back on the server.
            Conn::Postgres(c) => drop(deadpool_postgres::Object::take(c)),
        }
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn sqlite_query(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Value],
) -> rusqlite::Result<Vec<Row>> {
    use rusqlite::types::ValueRef;
    let mut st = conn.prepare_cached(sql)?;
    let columns = st.column_count();
    let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut row = Vec::with_capacity(columns);
        for i in 0..columns {
            row.push(match r.get_ref(i)? {
                ValueRef::Null | ValueRef::Blob(_) => Value::Null,
                ValueRef::Integer(n) => Value::Int(n),
                ValueRef::Real(f) => Value::Int(f as i64),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            });
        }
        out.push(Row(row));
    }
    Ok(out)
}

/// `?1` → `$1`: the one difference between the two dialects' placeholders.
/// The store's SQL has no `?` inside string literals.
pub(super) fn dollars(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

impl tokio_postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use tokio_postgres::types::{IsNull, Type};
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => match *ty {
                Type::INT2 => i16::try_from(*n)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*n)?.to_sql(ty, out),
                Type::BOOL => (*n != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => n.to_string().to_sql(ty, out),
                _ => n.to_sql(ty, out),
            },
            Value::Text(s) => s.to_sql(ty, out),
        }
    }

    fn accepts(_: &tokio_postgres::types::Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

fn pg_params(params: &[Value]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect()
}

fn pg_row(r: &tokio_postgres::Row) -> Result<Row, StoreError> {
    use tokio_postgres::types::Type;
    let mut row = Vec::with_capacity(r.len());
    for (i, column) in r.columns().iter().enumerate() {
        let v = match *column.type_() {
            Type::INT8 => r.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int)),
            Type::INT4 => r
                .try_get::<_, Option<i32>>(i)
                .map(|v| v.map(|n| Value::Int(n.into()))),
            Type::INT2 => r
                .try_get::<_, Option<i16>>(i)
                .map(|v| v.map(|n| Value::Int(n.into()))),
            Type::BOOL => r
                .try_get::<_, Option<bool>>(i)
                .map(|v| v.map(|b| Value::Int(b.into()))),
            _ => r
                .try_get::<_, Option<String>>(i)
                .map(|v| v.map(Value::Text)),
        }
        .map_err(pg_error)?;
        row.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(row))
}

/// A driver error as the store reports it: the database's own message, or
/// "unreachable" when it could not be asked at all.
pub(super) fn pg_error(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        // Connection exceptions, the server shutting down or out of
        // connections: it could not be asked, nothing was changed.
        Some(db)
            if ["08", "53", "57"]
                .iter()
                .any(|c| db.code().code().starts_with(c)) =>
        {
            StoreError::Unreachable(db.message().to_string())
        }
        Some(db) => StoreError::Database(db.message().to_string()),
        None if e.is_closed() || std::error::Error::source(&e).is_some() => {
            StoreError::Unreachable(e.to_string())
        }
        None => StoreError::Database(e.to_string()),
    }
}
