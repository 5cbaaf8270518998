//! Bulk import: one batch of parsed rows merged into subscribers and one list's subscriptions.
//!
//! One read finds what the database already knows about the batch's addresses, the outcomes are
//! decided here (the same decisions on both backends), and a few bulk writes merge them. How the
//! rows travel is each backend's own: multi-row statements on SQLite, `COPY` into a staging
//! table and array parameters on PostgreSQL.

use std::collections::HashMap;

use super::conn::Tx;
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

/// What the database holds about one row's address.
#[derive(sqlx::FromRow)]
pub(crate) struct Known {
    pub idx: i64,
    pub subscriber_status: Option<String>,
    pub list_status: Option<String>,
    pub suppressed: bool,
}

/// The writes a batch needs once its outcomes are decided.
pub(crate) struct Plan<'r> {
    /// Rows whose person is added or updated, in file order (an address may repeat), and
    /// whether that person was on record before the batch.
    pub merged: Vec<(&'r ImportRow, bool)>,
    /// Addresses that get a new subscription.
    pub new: Vec<&'r str>,
    /// Addresses whose pending subscription the file confirms (`--confirmed` only).
    pub pending: Vec<&'r str>,
}

impl ImportRow {
    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    pub(crate) fn digest(&self) -> &[u8; 32] {
        &self.digest
    }
}

impl Store {
    /// Merges one batch in one transaction: all of its rows land, or none do.
    pub async fn import_batch(&self, list_id: i64, confirmed: bool, rows: &[ImportRow]) -> Result<ImportBatchOutcome> {
        let now = super::now();
        let mut tx = self.write().await?;
        let suppression = super::suppressions::key(&mut tx).await?;
        let known: HashMap<usize, Known> = match &mut tx {
            Tx::Sqlite(c) => super::sqlite::import::lookup(c, list_id, rows, &suppression).await?,
            Tx::Postgres(c) => super::postgres::import::lookup(c, list_id, rows, &suppression).await?,
        }
        .into_iter()
        .map(|k| (k.idx as usize, k))
        .collect();
        let outcomes = decide(rows, &known);
        let plan = plan(rows, &outcomes, &known, confirmed);
        match &mut tx {
            Tx::Sqlite(c) => super::sqlite::import::apply(c, list_id, confirmed, &plan, now).await?,
            Tx::Postgres(c) => super::postgres::import::apply(c, list_id, confirmed, &plan, now).await?,
        }
        tx.commit().await?;
        Ok(summarise(rows, &outcomes))
    }
}

fn plan<'r>(rows: &'r [ImportRow], outcomes: &[RowOutcome], known: &HashMap<usize, Known>, confirmed: bool) -> Plan<'r> {
    let on_record = |i: usize| known.get(&i).is_some_and(|k| k.subscriber_status.is_some());
    let merged = rows.iter().enumerate().filter(|(i, _)| outcomes[*i].is_merged()).map(|(i, r)| (r, on_record(i))).collect();
    let new = rows.iter().zip(outcomes).filter(|(_, o)| **o == RowOutcome::Imported).map(|(r, _)| r.key.as_str()).collect();
    let pending = if confirmed {
        rows.iter()
            .enumerate()
            .filter(|(i, _)| outcomes[*i] == RowOutcome::Updated && known.get(i).and_then(|k| k.list_status.as_deref()) == Some("pending"))
            .map(|(_, r)| r.key.as_str())
            .collect()
    } else {
        Vec::new()
    };
    Plan { merged, new, pending }
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
