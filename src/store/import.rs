//! Bulk import: one batch of parsed rows merged into subscribers and one list's subscriptions.
//!
//! Rows go to the database in multi-row statements of [`CHUNK`] rows: one read finds what the
//! database already knows about their addresses, the outcomes are decided here, and two writes
//! merge them — a few statements a chunk instead of several a row.
//!
//! SQLite-specific on purpose: these statements use anonymous `?` parameters, because SQLite
//! finds each *numbered* parameter by a linear scan (quadratic in a statement of thousands),
//! and `json_patch`. A PostgreSQL store would bulk-load with `UNNEST` arrays or `COPY` instead.

use std::collections::HashMap;

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
    key: String,
    digest: [u8; 32],
}

impl ImportRow {
    /// Derives the address's key and suppression digest once, on the caller's (parsing) thread.
    pub fn new(line: u64, email: EmailAddress, name: SubscriberName, attributes: String) -> Self {
        let (key, digest) = (email.key(), email.suppression_digest());
        Self { line, email, name, attributes, key, digest }
    }
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
    fn is_merged(self) -> bool {
        matches!(self, Self::Imported | Self::Updated)
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

/// Rows per statement: at most 4 parameters a row, well under SQLite's 32,766.
const CHUNK: usize = 1_000;

/// What the database holds about one row's address.
#[derive(sqlx::FromRow)]
struct Known {
    idx: i64,
    subscriber_status: Option<String>,
    list_status: Option<String>,
    suppressed: bool,
}

impl Store {
    /// Merges one batch in one transaction: all of its rows land, or none do.
    pub async fn import_batch(&self, list_id: i64, confirmed: bool, rows: &[ImportRow]) -> Result<ImportBatchOutcome> {
        let now = super::now();
        let mut tx = self.write().await?;
        let mut known = HashMap::new();
        for (n, chunk) in rows.chunks(CHUNK).enumerate() {
            known.extend(lookup(&mut tx, list_id, chunk).await?.into_iter().map(|k| (n * CHUNK + k.idx as usize, k)));
        }
        let outcomes = decide(rows, &known);
        let merged: Vec<&ImportRow> = rows.iter().zip(&outcomes).filter(|(_, o)| o.is_merged()).map(|(r, _)| r).collect();
        for chunk in merged.chunks(CHUNK) {
            merge_subscribers(&mut tx, chunk, now).await?;
        }
        let new: Vec<&str> = rows.iter().zip(&outcomes).filter(|(_, o)| **o == RowOutcome::Imported).map(|(r, _)| r.key.as_str()).collect();
        for chunk in new.chunks(CHUNK) {
            add_subscriptions(&mut tx, list_id, confirmed, chunk, now).await?;
        }
        if confirmed {
            let pending: Vec<&str> = rows
                .iter()
                .enumerate()
                .filter(|(i, _)| outcomes[*i] == RowOutcome::Updated && known.get(i).and_then(|k| k.list_status.as_deref()) == Some("pending"))
                .map(|(_, r)| r.key.as_str())
                .collect();
            for chunk in pending.chunks(CHUNK) {
                confirm_pending(&mut tx, list_id, chunk, now).await?;
            }
        }
        tx.commit().await?;
        Ok(summarise(rows, &outcomes))
    }
}

/// `n` comma-separated copies of `group`, e.g. `(?, ?), (?, ?)`.
fn repeat(group: &str, n: usize) -> String {
    vec![group; n].join(", ")
}

/// Only rows whose address the database knows come back, so a fresh import reads nothing.
async fn lookup(conn: &mut SqliteConnection, list_id: i64, rows: &[ImportRow]) -> Result<Vec<Known>> {
    let sql = format!(
        "WITH batch (idx, email_key, email_hash) AS (VALUES {})
         SELECT batch.idx, s.status AS subscriber_status, u.status AS list_status, x.email_hash IS NOT NULL AS suppressed
         FROM batch
         LEFT JOIN subscribers s ON s.email_key = batch.email_key
         LEFT JOIN subscriptions u ON u.list_id = ? AND u.subscriber_id = s.id
         LEFT JOIN suppressions x ON x.email_hash = batch.email_hash
         WHERE s.id IS NOT NULL OR x.email_hash IS NOT NULL",
        repeat("(?, ?, ?)", rows.len())
    );
    let suppression = super::suppressions::key(&mut *conn).await?;
    let mut query = sqlx::query_as(&sql);
    for (i, row) in rows.iter().enumerate() {
        query = query.bind(i as i64).bind(&row.key).bind(suppression.hash_digest(&row.digest));
    }
    Ok(query.bind(list_id).fetch_all(conn).await?)
}

/// A suppression beats everything; a repeat of an address earlier in the batch shares that
/// row's fate, as an update when it was merged.
fn decide(rows: &[ImportRow], known: &HashMap<usize, Known>) -> Vec<RowOutcome> {
    let mut first_seen: HashMap<&str, RowOutcome> = HashMap::with_capacity(rows.len());
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let own = match known.get(&i) {
                Some(k) if k.suppressed => RowOutcome::Suppressed,
                Some(k) if k.subscriber_status.as_deref() == Some("bounced") => RowOutcome::Bounced,
                Some(k) if k.subscriber_status.as_deref() == Some("complained") => RowOutcome::Complained,
                Some(k) if k.list_status.as_deref() == Some("unsubscribed") => RowOutcome::Unsubscribed,
                Some(k) if k.list_status.is_some() => RowOutcome::Updated,
                _ => RowOutcome::Imported,
            };
            match first_seen.get(row.key.as_str()) {
                Some(first) if first.is_merged() => RowOutcome::Updated,
                Some(first) => *first,
                None => {
                    first_seen.insert(&row.key, own);
                    own
                }
            }
        })
        .collect()
}

/// New people are added; known ones get the file's name (when it has one) and its attributes
/// merged over theirs. The address's spelling on record is kept.
async fn merge_subscribers(conn: &mut SqliteConnection, rows: &[&ImportRow], now: DateTime<Utc>) -> Result<()> {
    let sql = format!(
        "INSERT INTO subscribers (email, email_key, name, attributes, created_at, updated_at) VALUES {}
         ON CONFLICT (email_key) DO UPDATE SET
            name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE subscribers.name END,
            attributes = json_patch(subscribers.attributes, excluded.attributes),
            updated_at = excluded.updated_at",
        repeat("(?, ?, ?, ?, ?, ?)", rows.len())
    );
    let mut query = sqlx::query(&sql);
    for row in rows {
        query = query.bind(row.email.as_str()).bind(&row.key).bind(row.name.as_str()).bind(&row.attributes).bind(now).bind(now);
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

fn summarise(rows: &[ImportRow], outcomes: &[RowOutcome]) -> ImportBatchOutcome {
    let mut summary = ImportBatchOutcome::default();
    for (row, outcome) in rows.iter().zip(outcomes) {
        match outcome {
            RowOutcome::Imported => summary.imported += 1,
            RowOutcome::Updated => summary.updated += 1,
            _ => summary.skipped.push(SkippedRow { line: row.line, email: row.email.to_string(), outcome: *outcome }),
        }
    }
    summary
}
