//! Bulk import on SQLite: multi-row statements of [`CHUNK`] rows with anonymous `?` parameters
//! (SQLite finds each *numbered* parameter by a linear scan, quadratic in a statement of
//! thousands), and `json_patch` for attributes.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use crate::domain::SuppressionKey;
use crate::store::Result;
use crate::store::import::{ImportRow, Known, Plan};

/// Rows per statement: at most 6 parameters a row, well under SQLite's 32,766.
const CHUNK: usize = 1_000;

/// `n` comma-separated copies of `group`, e.g. `(?, ?), (?, ?)`.
fn repeat(group: &str, n: usize) -> String {
    vec![group; n].join(", ")
}

/// What the database knows of the rows' addresses, indexed by position in `rows`. Only rows
/// whose address the database knows come back, so a fresh import reads nothing.
pub async fn lookup(conn: &mut SqliteConnection, list_id: i64, rows: &[ImportRow], suppression: &SuppressionKey) -> Result<Vec<Known>> {
    let mut known = Vec::new();
    for (n, chunk) in rows.chunks(CHUNK).enumerate() {
        let sql = format!(
            "WITH batch (idx, email_key, email_hash) AS (VALUES {})
             SELECT batch.idx, s.status AS subscriber_status, u.status AS list_status, x.email_hash IS NOT NULL AS suppressed
             FROM batch
             LEFT JOIN subscribers s ON s.email_key = batch.email_key
             LEFT JOIN subscriptions u ON u.list_id = ? AND u.subscriber_id = s.id
             LEFT JOIN suppressions x ON x.email_hash = batch.email_hash
             WHERE s.id IS NOT NULL OR x.email_hash IS NOT NULL",
            repeat("(?, ?, ?)", chunk.len())
        );
        let mut query = sqlx::query_as(&sql);
        for (i, row) in chunk.iter().enumerate() {
            query = query.bind((n * CHUNK + i) as i64).bind(row.key()).bind(suppression.hash_digest(row.digest()));
        }
        known.extend(query.bind(list_id).fetch_all(&mut *conn).await?);
    }
    Ok(known)
}

pub async fn apply(conn: &mut SqliteConnection, list_id: i64, confirmed: bool, plan: &Plan<'_>, now: DateTime<Utc>) -> Result<()> {
    for chunk in plan.merged.chunks(CHUNK) {
        merge_subscribers(conn, chunk, now).await?;
    }
    for chunk in plan.new.chunks(CHUNK) {
        add_subscriptions(conn, list_id, confirmed, chunk, now).await?;
    }
    for chunk in plan.pending.chunks(CHUNK) {
        confirm_pending(conn, list_id, chunk, now).await?;
    }
    Ok(())
}

/// New people are added; known ones get the file's name (when it has one) and its attributes
/// merged over theirs. The address's spelling on record is kept. A repeated address is merged
/// in file order, row after row of the one statement.
async fn merge_subscribers(conn: &mut SqliteConnection, rows: &[(&ImportRow, bool)], now: DateTime<Utc>) -> Result<()> {
    let sql = format!(
        "INSERT INTO subscribers (email, email_key, name, attributes, created_at, updated_at) VALUES {}
         ON CONFLICT (email_key) DO UPDATE SET
            name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE subscribers.name END,
            attributes = json_patch(subscribers.attributes, excluded.attributes),
            updated_at = excluded.updated_at",
        repeat("(?, ?, ?, ?, ?, ?)", rows.len())
    );
    let mut query = sqlx::query(&sql);
    for (row, _) in rows {
        query = query.bind(row.email.as_str()).bind(row.key()).bind(row.name.as_str()).bind(&row.attributes).bind(now).bind(now);
    }
    query.execute(conn).await?;
    Ok(())
}

/// New subscriptions, with the import as their consent evidence.
async fn add_subscriptions(conn: &mut SqliteConnection, list_id: i64, confirmed: bool, keys: &[&str], now: DateTime<Utc>) -> Result<()> {
    let sql = format!(
        "INSERT INTO subscriptions (list_id, subscriber_id, status, consent_source, consent_at, confirmed_at, updated_at)
         SELECT ?, id, ?, 'import', ?, ?, ? FROM subscribers WHERE email_key IN ({})
         ON CONFLICT (list_id, subscriber_id) DO NOTHING",
        repeat("?", keys.len())
    );
    let status = if confirmed { "confirmed" } else { "pending" };
    let mut query = sqlx::query(&sql).bind(list_id).bind(status).bind(now).bind(confirmed.then_some(now)).bind(now);
    for key in keys {
        query = query.bind(*key);
    }
    query.execute(conn).await?;
    Ok(())
}

/// With `--confirmed`, the file confirms people who were waiting to confirm.
async fn confirm_pending(conn: &mut SqliteConnection, list_id: i64, keys: &[&str], now: DateTime<Utc>) -> Result<()> {
    let sql = format!(
        "UPDATE subscriptions SET status = 'confirmed', confirmed_at = ?, updated_at = ?
         WHERE list_id = ? AND status = 'pending' AND subscriber_id IN (SELECT id FROM subscribers WHERE email_key IN ({}))",
        repeat("?", keys.len())
    );
    let mut query = sqlx::query(&sql).bind(now).bind(now).bind(list_id);
    for key in keys {
        query = query.bind(*key);
    }
    query.execute(conn).await?;
    Ok(())
}
