//! Bulk import: one batch of parsed rows merged into subscribers and one list's subscriptions.
//!
//! Rows are staged in a temporary table and merged with set-based statements, a few per batch
//! rather than several per row, which is what lets a million rows go in within seconds.
//! (`UPDATE … FROM`, `INSERT … SELECT … ON CONFLICT` and temporary tables are PostgreSQL too;
//! `json_patch` is SQLite's, `jsonb ||` in PostgreSQL.)

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::{Result, Store};
use crate::domain::{EmailAddress, SubscriberName};

/// A row that parsed: its line in the file, the address, and what to merge.
#[derive(Debug)]
pub struct ImportRow {
    pub line: u64,
    pub email: EmailAddress,
    pub name: SubscriberName,
    /// JSON object text of the extra columns.
    pub attributes: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowOutcome {
    Imported,
    Updated,
    Suppressed,
    Bounced,
    Complained,
    Unsubscribed,
}

impl RowOutcome {
    fn parse(text: &str) -> Self {
        match text {
            "imported" => Self::Imported,
            "updated" => Self::Updated,
            "bounced" => Self::Bounced,
            "complained" => Self::Complained,
            "unsubscribed" => Self::Unsubscribed,
            _ => Self::Suppressed,
        }
    }

    /// Why a row was not merged, in words for the report.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Imported | Self::Updated => "",
            Self::Suppressed => "the address is suppressed (erased, hard-bounced or complained) and is never resubscribed",
            Self::Bounced => "the subscriber is marked bounced and is not resubscribed",
            Self::Complained => "the subscriber complained and is not resubscribed",
            Self::Unsubscribed => "the subscriber unsubscribed from this list and is not resubscribed",
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct SkippedRow {
    pub line: u64,
    pub email: String,
    pub outcome: RowOutcome,
}

#[derive(Debug, Default)]
pub struct ImportBatchOutcome {
    pub imported: u64,
    pub updated: u64,
    pub skipped: Vec<SkippedRow>,
}

/// Rows per multi-row INSERT into the staging table: 6 parameters each, well under SQLite's
/// 32,766-parameter limit and PostgreSQL's 65,535.
const STAGE_CHUNK: usize = 500;

const CREATE_STAGE: &str = "CREATE TEMP TABLE IF NOT EXISTS import_rows (
    line INTEGER PRIMARY KEY, email TEXT NOT NULL, email_key TEXT NOT NULL, email_hash TEXT NOT NULL,
    name TEXT NOT NULL, attributes TEXT NOT NULL, subscriber_id INTEGER, subscriber_status TEXT,
    list_status TEXT, outcome TEXT)";

impl Store {
    /// Merges one batch in one transaction: all of its rows land, or none do.
    pub async fn import_batch(&self, list_id: i64, confirmed: bool, rows: &[ImportRow]) -> Result<ImportBatchOutcome> {
        let now = super::now();
        let mut tx = self.write().await?;
        sqlx::query(CREATE_STAGE).execute(&mut *tx).await?;
        sqlx::query("CREATE INDEX IF NOT EXISTS temp.import_rows_key ON import_rows (email_key, line)").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM import_rows").execute(&mut *tx).await?;
        for chunk in rows.chunks(STAGE_CHUNK) {
            stage(&mut tx, chunk).await?;
        }
        classify(&mut tx, list_id).await?;
        merge_subscribers(&mut tx, now).await?;
        merge_subscriptions(&mut tx, list_id, confirmed, now).await?;
        let outcome = tally(&mut tx).await?;
        sqlx::query("DELETE FROM import_rows").execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}

async fn stage(conn: &mut SqliteConnection, rows: &[ImportRow]) -> Result<()> {
    let placeholders: Vec<String> = (0..rows.len())
        .map(|i| {
            let b = i * 6;
            format!("(${}, ${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6)
        })
        .collect();
    let sql = format!("INSERT INTO import_rows (line, email, email_key, email_hash, name, attributes) VALUES {}", placeholders.join(", "));
    let mut query = sqlx::query(&sql);
    for row in rows {
        query = query
            .bind(row.line as i64)
            .bind(row.email.as_str())
            .bind(row.email.key())
            .bind(row.email.suppression_hash())
            .bind(row.name.as_str())
            .bind(&row.attributes);
    }
    query.execute(conn).await?;
    Ok(())
}

/// Decides each row's outcome. Order matters: a suppression beats everything, and a repeat of an
/// address earlier in the same batch is an update of that row.
async fn classify(conn: &mut SqliteConnection, list_id: i64) -> Result<()> {
    sqlx::query(
        "UPDATE import_rows SET subscriber_id = s.id, subscriber_status = s.status
         FROM subscribers s WHERE s.email_key = import_rows.email_key",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE import_rows SET list_status = u.status
         FROM subscriptions u WHERE u.list_id = $1 AND u.subscriber_id = import_rows.subscriber_id",
    )
    .bind(list_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE import_rows SET outcome = CASE
            WHEN EXISTS (SELECT 1 FROM suppressions x WHERE x.email_hash = import_rows.email_hash) THEN 'suppressed'
            WHEN subscriber_status IN ('bounced', 'complained') THEN subscriber_status
            WHEN list_status = 'unsubscribed' THEN 'unsubscribed'
            WHEN list_status IS NOT NULL THEN 'updated'
            WHEN EXISTS (SELECT 1 FROM import_rows p WHERE p.email_key = import_rows.email_key AND p.line < import_rows.line) THEN 'updated'
            ELSE 'imported' END",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// New people are added; known ones get the file's name (when it has one) and its attributes
/// merged over theirs. The address's spelling on record is kept.
async fn merge_subscribers(conn: &mut SqliteConnection, now: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO subscribers (email, email_key, name, attributes, created_at, updated_at)
         SELECT email, email_key, name, attributes, $1, $1 FROM import_rows
         WHERE outcome IN ('imported', 'updated') ORDER BY line
         ON CONFLICT (email_key) DO UPDATE SET
            name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE subscribers.name END,
            attributes = json_patch(subscribers.attributes, excluded.attributes),
            updated_at = excluded.updated_at",
    )
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// New subscriptions with the import as consent evidence; with `--confirmed`, pending ones are
/// confirmed. Unsubscribed ones never reach here (classified out above).
async fn merge_subscriptions(conn: &mut SqliteConnection, list_id: i64, confirmed: bool, now: DateTime<Utc>) -> Result<()> {
    let status = if confirmed { "confirmed" } else { "pending" };
    let confirmed_at = confirmed.then_some(now);
    sqlx::query(
        "INSERT INTO subscriptions (list_id, subscriber_id, status, consent_source, consent_at, confirmed_at, updated_at)
         SELECT $1, s.id, $2, 'import', $3, $4, $3
         FROM import_rows r JOIN subscribers s ON s.email_key = r.email_key
         WHERE r.outcome = 'imported'
         ON CONFLICT (list_id, subscriber_id) DO NOTHING",
    )
    .bind(list_id)
    .bind(status)
    .bind(now)
    .bind(confirmed_at)
    .execute(&mut *conn)
    .await?;
    if confirmed {
        sqlx::query(
            "UPDATE subscriptions SET status = 'confirmed', confirmed_at = $2, updated_at = $2
             WHERE list_id = $1 AND status = 'pending'
               AND subscriber_id IN (SELECT subscriber_id FROM import_rows WHERE outcome = 'updated' AND list_status = 'pending')",
        )
        .bind(list_id)
        .bind(now)
        .execute(conn)
        .await?;
    }
    Ok(())
}

async fn tally(conn: &mut SqliteConnection) -> Result<ImportBatchOutcome> {
    let counts: Vec<(String, i64)> = sqlx::query_as("SELECT outcome, COUNT(*) FROM import_rows GROUP BY outcome").fetch_all(&mut *conn).await?;
    let mut outcome = ImportBatchOutcome::default();
    for (kind, n) in counts {
        match kind.as_str() {
            "imported" => outcome.imported = n as u64,
            "updated" => outcome.updated = n as u64,
            _ => {}
        }
    }
    let skipped: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT line, email, outcome FROM import_rows WHERE outcome NOT IN ('imported', 'updated') ORDER BY line",
    )
    .fetch_all(conn)
    .await?;
    outcome.skipped = skipped.into_iter().map(|(line, email, kind)| SkippedRow { line: line as u64, email, outcome: RowOutcome::parse(&kind) }).collect();
    Ok(outcome)
}
