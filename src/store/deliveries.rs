//! The delivery queue: one row per recipient of an issue, claimed in batches under a lease.
//!
//! Claiming marks rows `sending` with the claimer's instance id; results are written back in one
//! transaction per batch. A process that dies leaves `sending` rows behind, which
//! [`Store::reclaim_leases`] returns to the queue as soon as the process is known to be gone.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::bounces::{BouncePolicy, NewBounce, apply_bounce};
use super::conn::{AsConn, Job, Tx, elect, q};
use super::events::{Actor, NewEvent, append};
use super::{Backend, Result, Store, StoreError};
use crate::domain::personal::scrub_addresses;

/// A claimed delivery with what is needed to write its message.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub issue_id: i64,
    pub subscriber_id: Option<i64>,
    pub attempts: i64,
    pub email: Option<String>,
    pub name: Option<String>,
    pub subscriber_status: Option<String>,
    pub subscription_status: Option<String>,
}

/// What became of one claimed delivery.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent,
    /// A temporary failure: try again this long from now.
    Retry { after: Duration, code: Option<u16>, error: String },
    /// The relay could not be reached: back to the queue without spending an attempt.
    Requeue { error: String },
    /// Out of attempts.
    Failed { code: Option<u16>, error: String },
    /// The relay refused the recipient for good (5xx): recorded as a bounce too.
    Rejected { code: Option<u16>, error: String, hard: bool, reason: &'static str },
    /// Not sent: the person left, bounced or was erased after the send was queued.
    Skipped { why: &'static str },
    /// Not tried: this instance could not confirm it still holds the lease; back to the queue,
    /// the attempt not counted.
    Released,
}

#[derive(Debug, Default, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryCounts {
    pub queued: i64,
    pub sending: i64,
    pub sent: i64,
    pub failed: i64,
    pub bounced: i64,
    pub skipped: i64,
}

impl DeliveryCounts {
    pub fn total(&self) -> i64 {
        self.queued + self.sending + self.sent + self.failed + self.bounced + self.skipped
    }

    pub fn remaining(&self) -> i64 {
        self.queued + self.sending
    }
}

/// What one outcome writes into its delivery row.
pub(crate) struct OutcomeColumns {
    pub state: &'static str,
    /// When set, the row is due again this long from now.
    pub due_in: Option<Duration>,
    pub code: Option<i64>,
    /// The relay's reply, without the reader's address (the row outlives an erasure of them).
    pub error: Option<String>,
    /// 1 when the attempt does not count (the relay, not the reader, failed).
    pub attempts_back: i64,
}

impl OutcomeColumns {
    pub fn of(outcome: &Outcome) -> Self {
        let (state, due_in, code, error, attempts_back) = match outcome {
            Outcome::Sent => ("sent", None, Some(250), None, 0),
            Outcome::Retry { after, code, error } => ("queued", Some(*after), *code, Some(error.as_str()), 0),
            Outcome::Requeue { error } => ("queued", Some(Duration::zero()), None, Some(error.as_str()), 1),
            Outcome::Failed { code, error } => ("failed", None, *code, Some(error.as_str()), 0),
            Outcome::Rejected { code, error, hard, .. } => (if *hard { "bounced" } else { "failed" }, None, *code, Some(error.as_str()), 0),
            Outcome::Skipped { why } => ("skipped", None, None, Some(*why), 0),
            Outcome::Released => ("queued", Some(Duration::zero()), None, None, 1),
        };
        let error = error.map(|e| scrub_addresses(&super::storable(e)).into_owned());
        Self { state, due_in, code: code.map(i64::from), error, attempts_back }
    }
}

impl Store {
    /// Snapshots the audience: one queued delivery per confirmed, active subscriber of the list,
    /// in one statement, and marks the issue sending. Returns the number of recipients.
    pub async fn queue_issue(&self, issue_id: i64, actor: &Actor) -> Result<u64> {
        let mut tx = self.write().await?;
        let queued = queue_in(&mut tx, issue_id, &["draft", "scheduled"], actor).await?;
        tx.commit().await?;
        self.analyze_after_snapshot(queued).await?;
        Ok(queued)
    }

    /// Queues the scheduled issues whose time has come; returns (issue, recipients) of each.
    /// With several instances, one queues while the others find the work taken: the first to
    /// take the scheduler's lock does it, and an issue another queued meanwhile is left alone.
    pub async fn queue_due_issues(&self, actor: &Actor) -> Result<Vec<(i64, u64)>> {
        // Asked every turn of every instance, and nearly always answered no: one cheap read first.
        let any: Option<i64> = q!(scalar_opt, &mut self.read().await?, [deliveries::ANY_DUE_ISSUE], super::now())?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self.write().await?;
        if !elect(&mut tx, Job::Scheduler).await? {
            return Ok(Vec::new());
        }
        let due: Vec<i64> = q!(scalar_all, &mut tx, [deliveries::DUE_ISSUES], super::now())?;
        let mut queued = Vec::with_capacity(due.len());
        for issue_id in due {
            match queue_in(&mut tx, issue_id, &["scheduled"], actor).await {
                Ok(n) => queued.push((issue_id, n)),
                Err(StoreError::IssueLocked { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        for (_, n) in &queued {
            self.analyze_after_snapshot(*n).await?;
        }
        Ok(queued)
    }

    /// A snapshot of hundreds of thousands of rows changes what the planner should expect of
    /// `deliveries`; PostgreSQL's autovacuum would notice late, mid-send.
    async fn analyze_after_snapshot(&self, queued: u64) -> Result<()> {
        if self.is_postgres() && queued >= 100_000 {
            q!(exec, &mut self.read().await?, "ANALYZE deliveries")?;
        }
        Ok(())
    }

    /// Sets a draft's send time; the scheduler queues it when due.
    pub async fn schedule_issue(&self, issue_id: i64, at: DateTime<Utc>, actor: &Actor) -> Result<()> {
        self.change_issue_status(issue_id, &["draft", "scheduled"], "scheduled", Some(at), actor).await
    }

    /// Moves an issue between statuses, refusing when it is not in one of `from`.
    pub async fn change_issue_status(&self, issue_id: i64, from: &[&str], to: &str, send_at: Option<DateTime<Utc>>, actor: &Actor) -> Result<()> {
        let now = super::now();
        let mut tx = self.write().await?;
        let (list_id, status, slug): (i64, String, String) = q!(one, &mut tx, [issues::LOCK], issue_id)?;
        if !from.contains(&status.as_str()) {
            return Err(StoreError::IssueState { slug, status, wanted: to.to_string() });
        }
        // `updated_at` is when the issue's content last changed (feeds show it as an update), so a
        // change of status leaves it alone.
        let finished_at = (to == "cancelled").then_some(now);
        q!(exec, &mut tx, "UPDATE issues SET status = $2, send_at = COALESCE($3, send_at), finished_at = COALESCE($4, finished_at) WHERE id = $1", issue_id, to, send_at, finished_at)?;
        if to == "cancelled" {
            q!(exec, &mut tx, "UPDATE deliveries SET state = 'skipped', last_error = 'send cancelled', updated_at = $2 WHERE issue_id = $1 AND state = 'queued'", issue_id, now)?;
        }
        let kind = format!("issue.{to}");
        append(&mut tx, NewEvent { kind: &kind, actor, subscriber_id: None, list_id: Some(list_id), issue_id: Some(issue_id), detail: json!({"from": status}) }, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `limit` due deliveries of issues that are sending, oldest issue first, under
    /// a lease of `lease` held by `owner`. Each claim counts as an attempt. Instances sharing a
    /// PostgreSQL database claim disjoint rows.
    pub async fn claim_deliveries(&self, owner: &str, limit: i64, lease: Duration) -> Result<Vec<Claimed>> {
        match &self.backend {
            Backend::Sqlite(_) => {
                let Tx::Sqlite(mut tx) = self.write().await? else { unreachable!("a SQLite store writes SQLite transactions") };
                let claimed = super::sqlite::deliveries::claim(&mut tx, owner, limit, lease).await?;
                tx.commit().await?;
                Ok(claimed)
            }
            Backend::Postgres(db) => super::postgres::deliveries::claim(&db.pool, owner, limit, lease).await,
        }
    }

    /// Writes a batch of outcomes. Only rows still leased by `owner` change, so a lease that was
    /// reclaimed meanwhile (the owner was thought dead) is not overwritten.
    pub async fn record_outcomes(&self, owner: &str, outcomes: &[(Claimed, Outcome)], policy: BouncePolicy) -> Result<()> {
        let now = super::now();
        if let Backend::Postgres(db) = &self.backend
            && !outcomes.iter().any(|(_, o)| matches!(o, Outcome::Rejected { .. }))
        {
            // One statement, nothing else to write with it: no transaction around it.
            super::postgres::deliveries::record(&mut *db.pool.acquire().await?, owner, outcomes).await?;
            return Ok(());
        }
        let mut tx = self.write().await?;
        let changed: Vec<i64> = match &mut tx {
            Tx::Sqlite(tx) => super::sqlite::deliveries::record(tx, owner, outcomes, now).await?,
            Tx::Postgres(tx) => super::postgres::deliveries::record(tx, owner, outcomes).await?,
        };
        for (d, outcome) in outcomes {
            if let (Outcome::Rejected { code, error, hard, reason }, Some(subscriber_id)) = (outcome, d.subscriber_id)
                && changed.contains(&d.id)
            {
                record_smtp_bounce(&mut tx, subscriber_id, Some(d.issue_id), *code, error, *hard, reason, policy, now).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks sending issues with nothing left to deliver as sent; returns their ids.
    pub async fn finish_issues(&self) -> Result<Vec<i64>> {
        let now = super::now();
        let mut tx = self.write().await?;
        let done: Vec<(i64, i64)> = q!(all, &mut tx, "UPDATE issues SET status = 'sent', finished_at = $1
             WHERE status = 'sending' AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.issue_id = issues.id AND d.state IN ('queued', 'sending'))
             RETURNING id, list_id", now)?;
        for (issue_id, list_id) in &done {
            append(&mut tx, NewEvent { kind: "issue.sent", actor: &Actor("system".into()), subscriber_id: None, list_id: Some(*list_id), issue_id: Some(*issue_id), detail: json!({}) }, now).await?;
        }
        tx.commit().await?;
        Ok(done.into_iter().map(|(id, _)| id).collect())
    }

    /// The earliest time a queued delivery of a sending issue becomes due, if any.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(q!(scalar, &mut self.read().await?, "SELECT MIN(d.next_attempt_at) FROM deliveries d JOIN issues i ON i.id = d.issue_id WHERE i.status = 'sending' AND d.state = 'queued'")?)
    }

    pub async fn delivery_counts(&self, issue_id: i64) -> Result<DeliveryCounts> {
        if let Some(summary) = self.issue_summary(issue_id).await? {
            return Ok(summary.counts);
        }
        let rows: Vec<(String, i64)> = q!(all, &mut self.read().await?, "SELECT state, COUNT(*) FROM deliveries WHERE issue_id = $1 GROUP BY state", issue_id)?;
        let mut c = DeliveryCounts::default();
        for (state, n) in rows {
            match state.as_str() {
                "queued" => c.queued = n,
                "sending" => c.sending = n,
                "sent" => c.sent = n,
                "failed" => c.failed = n,
                "bounced" => c.bounced = n,
                _ => c.skipped = n,
            }
        }
        Ok(c)
    }

    /// Messages sent since `since`, for the current rate.
    pub async fn sent_since(&self, issue_id: i64, since: DateTime<Utc>) -> Result<i64> {
        Ok(q!(scalar, &mut self.read().await?, "SELECT COUNT(*) FROM deliveries WHERE issue_id = $1 AND state = 'sent' AND sent_at >= $2", issue_id, since)?)
    }

    /// The most frequent errors of an issue's deliveries.
    pub async fn top_errors(&self, issue_id: i64, limit: i64) -> Result<Vec<(String, i64)>> {
        if let Some(summary) = self.issue_summary(issue_id).await?.filter(|s| !s.rows_whole) {
            return Ok(summary.top_errors.into_iter().take(limit.max(0) as usize).collect());
        }
        Ok(q!(all, &mut self.read().await?, "SELECT last_error, COUNT(*) AS n FROM deliveries WHERE issue_id = $1 AND last_error IS NOT NULL AND state <> 'sent'
             GROUP BY last_error ORDER BY n DESC LIMIT $2", issue_id, limit)?)
    }
}

/// A 5xx at send time is evidence about the address: it goes in the bounce log with the issue,
/// and the bounce policy applies to it as to any bounce.
#[allow(clippy::too_many_arguments)]
pub(super) async fn record_smtp_bounce(
    c: &mut impl AsConn,
    subscriber_id: i64,
    issue_id: Option<i64>,
    code: Option<u16>,
    error: &str,
    hard: bool,
    reason: &str,
    policy: BouncePolicy,
    now: DateTime<Utc>,
) -> Result<()> {
    let code = code.map(|c| c.to_string());
    let bounce = NewBounce {
        subscriber_id,
        issue_id,
        kind: if hard { "hard" } else { "soft" },
        reason,
        source: "smtp",
        status_code: code.as_deref(),
        action: Some("failed"),
        diagnostic: Some(error),
        ..Default::default()
    };
    apply_bounce(c, &bounce, policy, now).await.map(|_| ())
}

/// Locks the issue, checks it may be queued (it is in one of `from`), snapshots its audience and
/// marks it sending, inside the caller's transaction.
async fn queue_in(tx: &mut Tx, issue_id: i64, from: &[&str], actor: &Actor) -> Result<u64> {
    let now = super::now();
    let (list_id, status, slug): (i64, String, String) = q!(one, tx, [issues::LOCK], issue_id)?;
    if !from.contains(&status.as_str()) {
        return Err(StoreError::IssueLocked { slug, status });
    }
    let queued = q!(exec, tx, [deliveries::SNAPSHOT], issue_id, list_id, now)?;
    q!(exec, tx, "UPDATE issues SET status = 'sending', queued_at = $2, started_at = COALESCE(started_at, $2) WHERE id = $1", issue_id, now)?;
    append(tx, NewEvent { kind: "issue.queued", actor, subscriber_id: None, list_id: Some(list_id), issue_id: Some(issue_id), detail: json!({"recipients": queued}) }, now).await?;
    Ok(queued)
}
