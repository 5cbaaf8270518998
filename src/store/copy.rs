//! `tidings db copy`: a SQLite installation copied into an empty PostgreSQL database, table by
//! table in one transaction, ids kept, identity sequences moved past them, and every table's row
//! count compared before the transaction commits. The two schemas have the same tables and
//! columns (the same migrations, each in its database's types), so every value travels as text
//! through `COPY` and PostgreSQL reads it into its own type.

use sqlx::{Acquire, PgConnection, Row, SqlitePool};

use futures_util::TryStreamExt;

use super::{Backend, Result, Store, StoreError};

/// Every table, parents before children. A table the PostgreSQL schema has and this list lacks
/// stops the copy: nothing may be left behind silently.
const TABLES: &[&str] = &[
    "settings",
    "lists",
    "subscribers",
    "subscriptions",
    "suppressions",
    "issues",
    "deliveries",
    "instances",
    "bounces",
    "events",
    "staff",
    "api_tokens",
    "staff_sessions",
    "import_jobs",
    "list_stats",
    "issue_summaries",
    "websub_requests",
    "websub_subscriptions",
    "websub_topics",
    "websub_pushes",
];

/// Tables whose rows the migrations make, the same on both sides: not copied.
const MADE_BY_MIGRATIONS: &[&str] = &["event_retention"];

/// COPY data is sent in pieces of about this many bytes.
const CHUNK_BYTES: usize = 1 << 20;

/// One table's rows, in the source and the target.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableCopy {
    pub table: String,
    pub source_rows: i64,
    pub target_rows: i64,
}

impl Store {
    /// Copies this (SQLite) installation into the empty PostgreSQL database at `target_url`,
    /// which is migrated first. `progress` hears each table as it is done.
    pub async fn copy_to_postgres(&self, target_url: &str, mut progress: impl FnMut(&TableCopy)) -> Result<Vec<TableCopy>> {
        let Backend::Sqlite(source) = &self.backend else {
            return Err(StoreError::Unsupported("db copy copies a SQLite installation; this one is on PostgreSQL already".into()));
        };
        let target = super::postgres::Postgres::open(target_url, 2).await?;
        let mut conn = target.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let tables = tables_of(&mut tx).await?;
        if let Some(unknown) = tables.iter().find(|t| !TABLES.contains(&t.as_str()) && !MADE_BY_MIGRATIONS.contains(&t.as_str())) {
            return Err(StoreError::Unsupported(format!("the target has a table {unknown:?} that db copy does not know: use the tidings that matches its schema")));
        }
        for table in TABLES {
            let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut *tx).await?;
            if rows > 0 {
                return Err(StoreError::Unsupported(format!("the target database is not empty ({table} has {rows} rows): db copy only fills an empty database")));
            }
        }
        let mut copied = Vec::with_capacity(TABLES.len());
        for table in TABLES {
            let source_rows = copy_table(&source.pool, &mut tx, table).await?;
            reset_identity(&mut tx, table).await?;
            let target_rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut *tx).await?;
            let done = TableCopy { table: table.to_string(), source_rows, target_rows };
            progress(&done);
            if source_rows != target_rows {
                return Err(StoreError::Corrupt(format!("{table}: {source_rows} rows read but {target_rows} written; nothing was kept")));
            }
            copied.push(done);
        }
        tx.commit().await?;
        // The planner knows nothing of what COPY put in.
        sqlx::query("ANALYZE").execute(&mut *conn).await?;
        Ok(copied)
    }
}

async fn tables_of(conn: &mut PgConnection) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'")
        .fetch_all(conn)
        .await?)
}

/// The target's columns of `table`, in order, and whether each is JSON.
async fn columns_of(conn: &mut PgConnection, table: &str) -> Result<Vec<(String, bool)>> {
    Ok(sqlx::query_as("SELECT column_name::text, data_type = 'jsonb' FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position")
        .bind(table)
        .fetch_all(conn)
        .await?)
}

/// Streams `table` from SQLite into PostgreSQL's COPY; returns the rows read.
async fn copy_table(source: &SqlitePool, target: &mut PgConnection, table: &str) -> Result<i64> {
    let columns = columns_of(target, table).await?;
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let select = format!("SELECT {} FROM {table}", names.iter().map(|c| format!("CAST({c} AS TEXT)")).collect::<Vec<_>>().join(", "));
    let mut copy = target.copy_in_raw(&format!("COPY {table} ({}) FROM STDIN", names.join(", "))).await?;
    let (mut buffer, mut rows) = (String::with_capacity(CHUNK_BYTES + 4096), 0i64);
    let mut stream = sqlx::query(&select).fetch(source);
    while let Some(row) = stream.try_next().await? {
        for (i, (_, json)) in columns.iter().enumerate() {
            if i > 0 {
                buffer.push('\t');
            }
            match row.try_get::<Option<String>, _>(i)? {
                None => buffer.push_str("\\N"),
                Some(value) => push_copy_text(&mut buffer, &value, *json),
            }
        }
        buffer.push('\n');
        rows += 1;
        if buffer.len() >= CHUNK_BYTES {
            copy.send(std::mem::take(&mut buffer).into_bytes()).await?;
        }
    }
    drop(stream);
    if !buffer.is_empty() {
        copy.send(buffer.into_bytes()).await?;
    }
    copy.finish().await?;
    Ok(rows)
}

/// A value in COPY's text format. NUL characters, which PostgreSQL cannot hold (an old SQLite
/// file may have them in a diagnostic), are left out, in JSON as in text.
fn push_copy_text(buffer: &mut String, value: &str, json: bool) {
    let value = if json { value.replace("\\u0000", "") } else { value.to_string() };
    for c in value.chars() {
        match c {
            '\\' => buffer.push_str("\\\\"),
            '\t' => buffer.push_str("\\t"),
            '\n' => buffer.push_str("\\n"),
            '\r' => buffer.push_str("\\r"),
            '\0' => {}
            c => buffer.push(c),
        }
    }
}

/// Moves an identity column's sequence past the ids copied in, so the next row gets a new id.
async fn reset_identity(conn: &mut PgConnection, table: &str) -> Result<()> {
    let identity: Option<String> = sqlx::query_scalar("SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'YES'")
        .bind(table)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(column) = identity {
        sqlx::query(&format!("SELECT setval(pg_get_serial_sequence('{table}', '{column}'), COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL) FROM {table}")).execute(&mut *conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_separators_and_drops_nul() {
        let mut b = String::new();
        push_copy_text(&mut b, "a\tb\\c\nd\re\0f", false);
        assert_eq!(b, "a\\tb\\\\c\\nd\\ref");
        let mut j = String::new();
        push_copy_text(&mut j, r#"{"x":"a\u0000b"}"#, true);
        assert_eq!(j, r#"{"x":"ab"}"#);
    }
}
