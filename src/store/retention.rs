//! Retention: a finished send's delivery rows, and old bounce and confirmation events, are
//! pruned in small batches; each issue's numbers are first kept in its summary row, which every
//! reader of an issue's numbers uses once the rows are gone.
//!
//! Never pruned: a send that is not finished (draft, scheduled, sending, paused), consent evidence
//! (subscriptions and their `subscription.*` events), suppressions, bounces, and the audit events
//! of staff and sends (`staff.*`, `token.*`, `list.*`, `issue.*`, `subscriber.erased`).

use chrono::{DateTime, Utc};

use super::conn::q;
use super::deliveries::DeliveryCounts;
use super::{CurveMinute, Result, Store};

/// The bounce and confirmation events the prune may take (by type prefix, as ranges an index
/// answers): the only ones the event log's guard lets go. (The backends' DELETE_EVENTS say the same.)
const PRUNABLE_EVENTS: &str = "((type >= 'bounce.' AND type < 'bounce/') OR (type >= 'confirmation.' AND type < 'confirmation/'))";

/// A pruned issue's numbers.
#[derive(Debug, Clone)]
pub struct IssueSummary {
    pub counts: DeliveryCounts,
    pub curve: Vec<CurveMinute>,
    pub top_errors: Vec<(String, i64)>,
    /// No prune has begun: every delivery row of the issue is still there.
    pub rows_whole: bool,
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    queued: i64,
    sending: i64,
    sent: i64,
    failed: i64,
    bounced: i64,
    skipped: i64,
    curve: sqlx::types::Json<Vec<(String, i64, i64)>>,
    top_errors: sqlx::types::Json<Vec<(String, i64)>>,
    rows_whole: bool,
}

/// What a prune would take, or took.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Prunable {
    pub issues: i64,
    pub deliveries: i64,
    pub events: i64,
}

impl Store {
    /// The summary of a finished issue, once written: from then on its numbers are read from it,
    /// whether its rows are all gone, some, or none yet (a prune may stop half way).
    pub async fn issue_summary(&self, issue_id: i64) -> Result<Option<IssueSummary>> {
        let row: Option<SummaryRow> = q!(
            opt,
            &mut self.read().await?,
            "SELECT queued, sending, sent, failed, bounced, skipped, curve, top_errors, prune_started_at IS NULL AS rows_whole FROM issue_summaries WHERE issue_id = $1",
            issue_id
        )?;
        Ok(row.map(|r| IssueSummary {
            counts: DeliveryCounts { queued: r.queued, sending: r.sending, sent: r.sent, failed: r.failed, bounced: r.bounced, skipped: r.skipped },
            curve: r.curve.0.into_iter().map(|(minute, sent, failed)| CurveMinute { minute, sent, failed }).collect(),
            top_errors: r.top_errors.0,
            rows_whole: r.rows_whole,
        }))
    }

    /// Finished sends (sent or cancelled before `before`) whose rows are not pruned yet.
    pub async fn issues_to_prune(&self, before: DateTime<Utc>) -> Result<Vec<i64>> {
        Ok(q!(
            scalar_all,
            &mut self.read().await?,
            "SELECT i.id FROM issues i WHERE i.status IN ('sent', 'cancelled') AND COALESCE(i.finished_at, i.updated_at) < $1
               AND NOT EXISTS (SELECT 1 FROM issue_summaries s WHERE s.issue_id = i.id AND s.pruned_at IS NOT NULL)
             ORDER BY i.id",
            before
        )?)
    }

    /// How much a prune with these bounds would take (`tidings prune --dry-run`).
    pub async fn prunable(&self, deliveries_before: Option<DateTime<Utc>>, events_before: Option<DateTime<Utc>>) -> Result<Prunable> {
        let mut found = Prunable::default();
        if let Some(before) = deliveries_before {
            let issues = self.issues_to_prune(before).await?;
            found.issues = issues.len() as i64;
            for issue in issues {
                let rows: i64 = q!(scalar, &mut self.read().await?, "SELECT COUNT(*) FROM deliveries WHERE issue_id = $1", issue)?;
                found.deliveries += rows;
            }
        }
        if let Some(before) = events_before {
            let sql = format!("SELECT COUNT(*) FROM events WHERE at < $1 AND {PRUNABLE_EVENTS}");
            found.events = q!(scalar, &mut self.read().await?, sql, before)?;
        }
        Ok(found)
    }

    /// Keeps an issue's numbers in its summary row, once: when its send finishes, or before a
    /// prune. A summary is never written again, since some of the rows it counts may be gone by
    /// then (a prune interrupted and resumed); late bounces move its counts one by one.
    pub async fn summarise_issue(&self, issue_id: i64) -> Result<()> {
        let exists: Option<i64> = q!(scalar_opt, &mut self.read().await?, "SELECT issue_id FROM issue_summaries WHERE issue_id = $1", issue_id)?;
        if exists.is_some() {
            return Ok(());
        }
        let counts = self.delivery_counts(issue_id).await?;
        let curve: Vec<(String, i64, i64)> = self.delivery_curve(issue_id).await?.into_iter().map(|m| (m.minute, m.sent, m.failed)).collect();
        let errors = self.top_errors(issue_id, 10).await?;
        let mut tx = self.write().await?;
        // A bounce recorded while the rows were counted found no summary to move: recount the
        // bounced (few, and indexed) under the write lock; sent and bounced together stay fixed.
        let bounced: i64 = q!(scalar, &mut tx, "SELECT COUNT(*) FROM deliveries WHERE issue_id = $1 AND state = 'bounced'", issue_id)?;
        let (sent, bounced) = if counts.sent + counts.bounced >= bounced { (counts.sent + counts.bounced - bounced, bounced) } else { (counts.sent, counts.bounced) };
        q!(
            exec,
            &mut tx,
            "INSERT INTO issue_summaries (issue_id, queued, sending, sent, failed, bounced, skipped, curve, top_errors, summarised_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (issue_id) DO NOTHING",
            issue_id,
            counts.queued,
            counts.sending,
            sent,
            counts.failed,
            bounced,
            counts.skipped,
            sqlx::types::Json(curve),
            sqlx::types::Json(errors),
            super::now()
        )?;
        tx.commit().await
    }

    /// Deletes up to `batch` delivery rows of a summarised issue; when none are left, marks the
    /// issue pruned. Returns how many rows went.
    pub async fn prune_issue_batch(&self, issue_id: i64, batch: i64) -> Result<u64> {
        let mut tx = self.write().await?;
        let summarised: Option<i64> = q!(scalar_opt, &mut tx, "SELECT issue_id FROM issue_summaries WHERE issue_id = $1", issue_id)?;
        if summarised.is_none() {
            return Err(super::StoreError::Corrupt(format!("issue {issue_id} has no summary: its deliveries are kept")));
        }
        q!(exec, &mut tx, "UPDATE issue_summaries SET prune_started_at = $2 WHERE issue_id = $1 AND prune_started_at IS NULL", issue_id, super::now())?;
        let deleted = q!(exec, &mut tx, [retention::DELETE_DELIVERIES], issue_id, batch)?;
        if deleted == 0 {
            q!(exec, &mut tx, "UPDATE issue_summaries SET pruned_at = $2 WHERE issue_id = $1 AND pruned_at IS NULL", issue_id, super::now())?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    /// Deletes up to `batch` bounce and confirmation events older than `before`, opening the
    /// event log's guard for that transaction only.
    pub async fn prune_events_batch(&self, before: DateTime<Utc>, batch: i64) -> Result<u64> {
        let mut tx = self.write().await?;
        q!(exec, &mut tx, "UPDATE event_retention SET prune_before = $1 WHERE id = 1", before)?;
        let deleted = q!(exec, &mut tx, [retention::DELETE_EVENTS], before, batch)?;
        q!(exec, &mut tx, "UPDATE event_retention SET prune_before = NULL WHERE id = 1")?;
        tx.commit().await?;
        Ok(deleted)
    }
}

impl Store {
    /// Gives up to `pages` free pages back to the file system (SQLite's incremental vacuum);
    /// returns how many free pages remain. PostgreSQL's autovacuum makes freed space reusable
    /// on its own: nothing to do there.
    pub async fn reclaim_space(&self, pages: i64) -> Result<i64> {
        let super::Backend::Sqlite(db) = &self.backend else { return Ok(0) };
        let mut conn = db.pool.acquire().await?;
        if !super::sqlite::incremental_vacuum_on(&mut conn).await? {
            return Ok(0);
        }
        sqlx::query(&format!("PRAGMA incremental_vacuum({})", pages.max(1))).execute(&mut *conn).await?;
        Ok(sqlx::query_scalar("PRAGMA freelist_count").fetch_one(&mut *conn).await?)
    }

    /// Whether freed space goes back to the file system (SQLite: `auto_vacuum = INCREMENTAL`;
    /// always on PostgreSQL's terms).
    pub async fn returns_free_space(&self) -> Result<bool> {
        match &self.backend {
            super::Backend::Sqlite(db) => super::sqlite::incremental_vacuum_on(&mut *db.pool.acquire().await?).await,
            super::Backend::Postgres(_) => Ok(true),
        }
    }

    /// Turns SQLite's incremental vacuum on for a database made before it was the default: a
    /// whole `VACUUM`, once (it rewrites the file; `tidings init` does it). Returns whether it ran.
    pub async fn enable_incremental_vacuum(&self) -> Result<bool> {
        let super::Backend::Sqlite(db) = &self.backend else { return Ok(false) };
        let mut conn = db.pool.acquire().await?;
        if super::sqlite::incremental_vacuum_on(&mut conn).await? {
            return Ok(false);
        }
        sqlx::query("PRAGMA auto_vacuum = INCREMENTAL").execute(&mut *conn).await?;
        sqlx::query("VACUUM").execute(&mut *conn).await?;
        Ok(true)
    }
}
