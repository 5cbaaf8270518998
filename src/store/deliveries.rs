//! The delivery queue: one row per recipient of an issue, claimed in batches under a lease.
//!
//! Claiming marks rows `sending` with the claimer's instance id; results are written back in one
//! transaction per batch. A process that dies leaves `sending` rows behind, which
//! [`Store::reclaim_leases`] returns to the queue as soon as the process is known to be gone.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::events::{Actor, NewEvent, append};
use super::bounces::{BouncePolicy, NewBounce, apply_bounce};
use super::{Result, Store, StoreError};
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
    /// A temporary failure: try again at the given time.
    Retry { at: DateTime<Utc>, code: Option<u16>, error: String },
    /// The relay could not be reached: back to the queue without spending an attempt.
    Requeue { at: DateTime<Utc>, error: String },
    /// Out of attempts.
    Failed { code: Option<u16>, error: String },
    /// The relay refused the recipient for good (5xx): recorded as a bounce too.
    Rejected { code: Option<u16>, error: String, hard: bool, reason: &'static str },
    /// Not sent: the person left, bounced or was erased after the send was queued.
    Skipped { why: &'static str },
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

impl Store {
    /// Snapshots the audience: one queued delivery per confirmed, active subscriber of the list,
    /// in one statement, and marks the issue sending. Returns the number of recipients.
    pub async fn queue_issue(&self, issue_id: i64, actor: &Actor) -> Result<u64> {
        let now = super::now();
        let mut tx = self.write().await?;
        let (list_id, status, slug): (i64, String, String) = sqlx::query_as("SELECT list_id, status, slug FROM issues WHERE id = $1").bind(issue_id).fetch_one(&mut *tx).await?;
        if !matches!(status.as_str(), "draft" | "scheduled") {
            return Err(StoreError::IssueLocked { slug, status });
        }
        let queued = sqlx::query(
            "INSERT INTO deliveries (issue_id, subscriber_id, state, next_attempt_at, updated_at)
             SELECT $1, u.subscriber_id, 'queued', $3, $3
             FROM subscriptions u JOIN subscribers s ON s.id = u.subscriber_id
             WHERE u.list_id = $2 AND u.status = 'confirmed' AND s.status = 'active'
             ORDER BY u.subscriber_id
             ON CONFLICT (issue_id, subscriber_id) DO NOTHING",
        )
        .bind(issue_id)
        .bind(list_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("UPDATE issues SET status = 'sending', queued_at = $2, started_at = COALESCE(started_at, $2), updated_at = $2 WHERE id = $1")
            .bind(issue_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        append(&mut tx, NewEvent { kind: "issue.queued", actor, subscriber_id: None, list_id: Some(list_id), issue_id: Some(issue_id), detail: json!({"recipients": queued}) }, now).await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// Sets a draft's send time; the scheduler queues it when due.
    pub async fn schedule_issue(&self, issue_id: i64, at: DateTime<Utc>, actor: &Actor) -> Result<()> {
        self.change_issue_status(issue_id, &["draft", "scheduled"], "scheduled", Some(at), actor).await
    }

    /// Scheduled issues whose time has come.
    pub async fn due_issues(&self, now: DateTime<Utc>) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar("SELECT id FROM issues WHERE status = 'scheduled' AND send_at <= $1 ORDER BY send_at").bind(now).fetch_all(&self.pool).await?)
    }

    /// Moves an issue between statuses, refusing when it is not in one of `from`.
    pub async fn change_issue_status(&self, issue_id: i64, from: &[&str], to: &str, send_at: Option<DateTime<Utc>>, actor: &Actor) -> Result<()> {
        let now = super::now();
        let mut tx = self.write().await?;
        let (list_id, status, slug): (i64, String, String) = sqlx::query_as("SELECT list_id, status, slug FROM issues WHERE id = $1").bind(issue_id).fetch_one(&mut *tx).await?;
        if !from.contains(&status.as_str()) {
            return Err(StoreError::IssueState { slug, status, wanted: to.to_string() });
        }
        sqlx::query("UPDATE issues SET status = $2, send_at = COALESCE($3, send_at), updated_at = $4 WHERE id = $1").bind(issue_id).bind(to).bind(send_at).bind(now).execute(&mut *tx).await?;
        if to == "cancelled" {
            sqlx::query("UPDATE deliveries SET state = 'skipped', last_error = 'send cancelled', updated_at = $2 WHERE issue_id = $1 AND state = 'queued'").bind(issue_id).bind(now).execute(&mut *tx).await?;
        }
        let kind = format!("issue.{to}");
        append(&mut tx, NewEvent { kind: &kind, actor, subscriber_id: None, list_id: Some(list_id), issue_id: Some(issue_id), detail: json!({"from": status}) }, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims up to `limit` due deliveries of issues that are sending, oldest issue first, under
    /// a lease held by `owner`. Each claim counts as an attempt.
    pub async fn claim_deliveries(&self, owner: &str, limit: i64, lease_until: DateTime<Utc>) -> Result<Vec<Claimed>> {
        let now = super::now();
        let mut tx = self.write().await?;
        // The oldest sending issue with something due: one whose remaining rows all wait for a retry
        // must not hold up the next issue.
        let Some(issue_id): Option<i64> = sqlx::query_scalar(
            "SELECT id FROM issues i WHERE status = 'sending'
               AND EXISTS (SELECT 1 FROM deliveries d WHERE d.issue_id = i.id AND d.state = 'queued' AND d.next_attempt_at <= $1)
             ORDER BY started_at, id LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(Vec::new());
        };
        // No UPDATE … LIMIT in SQLite: claim through a sub-select (PostgreSQL: add FOR UPDATE SKIP LOCKED).
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE deliveries SET state = 'sending', lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3
             WHERE id IN (SELECT id FROM deliveries WHERE issue_id = $4 AND state = 'queued' AND next_attempt_at <= $3
                          ORDER BY next_attempt_at, id LIMIT $5)
             RETURNING id",
        )
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(issue_id)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let claimed = if ids.is_empty() {
            Vec::new()
        } else {
            let placeholders = vec!["?"; ids.len()].join(", ");
            let sql = format!(
                "SELECT d.id, d.issue_id, d.subscriber_id, d.attempts, s.email, s.name, s.status AS subscriber_status, u.status AS subscription_status
                 FROM deliveries d JOIN issues i ON i.id = d.issue_id
                 LEFT JOIN subscribers s ON s.id = d.subscriber_id
                 LEFT JOIN subscriptions u ON u.list_id = i.list_id AND u.subscriber_id = d.subscriber_id
                 WHERE d.id IN ({placeholders}) ORDER BY d.id"
            );
            let mut query = sqlx::query_as(&sql);
            for id in &ids {
                query = query.bind(id);
            }
            query.fetch_all(&mut *tx).await?
        };
        tx.commit().await?;
        Ok(claimed)
    }

    /// Writes a batch of outcomes in one transaction. Only rows still leased by `owner` change,
    /// so a lease that was reclaimed meanwhile is not overwritten.
    pub async fn record_outcomes(&self, owner: &str, outcomes: &[(Claimed, Outcome)], policy: BouncePolicy) -> Result<()> {
        let now = super::now();
        let mut tx = self.write().await?;
        for (d, outcome) in outcomes {
            let (state, next, code, error, attempts_back) = match outcome {
                Outcome::Sent => ("sent", None, Some(250), None, 0),
                Outcome::Retry { at, code, error } => ("queued", Some(*at), *code, Some(error.as_str()), 0),
                Outcome::Requeue { at, error } => ("queued", Some(*at), None, Some(error.as_str()), 1),
                Outcome::Failed { code, error } => ("failed", None, *code, Some(error.as_str()), 0),
                Outcome::Rejected { code, error, hard, .. } => (if *hard { "bounced" } else { "failed" }, None, *code, Some(error.as_str()), 0),
                Outcome::Skipped { why } => ("skipped", None, None, Some(*why), 0),
            };
            let changed = sqlx::query(
                "UPDATE deliveries SET state = $1, next_attempt_at = COALESCE($2, next_attempt_at), smtp_code = $3, last_error = $4,
                    attempts = attempts - $5, sent_at = CASE WHEN $1 = 'sent' THEN $6 ELSE sent_at END,
                    lease_owner = NULL, lease_until = NULL, updated_at = $6
                 WHERE id = $7 AND lease_owner = $8 AND state = 'sending'",
            )
            .bind(state)
            .bind(next)
            .bind(code.map(i64::from))
            // The relay's reply names the reader; the row outlives an erasure of them.
            .bind(error.map(|e| scrub_addresses(e).into_owned()))
            .bind(attempts_back)
            .bind(now)
            .bind(d.id)
            .bind(owner)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 1
                && let Outcome::Rejected { code, error, hard, reason } = outcome
            {
                if let Some(subscriber_id) = d.subscriber_id {
                    record_smtp_bounce(&mut tx, subscriber_id, Some(d.issue_id), *code, error, *hard, reason, policy, now).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks sending issues with nothing left to deliver as sent; returns their ids.
    pub async fn finish_issues(&self) -> Result<Vec<i64>> {
        let now = super::now();
        let mut tx = self.write().await?;
        let done: Vec<(i64, i64)> = sqlx::query_as(
            "UPDATE issues SET status = 'sent', finished_at = $1, updated_at = $1
             WHERE status = 'sending' AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.issue_id = issues.id AND d.state IN ('queued', 'sending'))
             RETURNING id, list_id",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for (issue_id, list_id) in &done {
            append(&mut tx, NewEvent { kind: "issue.sent", actor: &Actor("system".into()), subscriber_id: None, list_id: Some(*list_id), issue_id: Some(*issue_id), detail: json!({}) }, now).await?;
        }
        tx.commit().await?;
        Ok(done.into_iter().map(|(id, _)| id).collect())
    }

    /// The earliest time a queued delivery of a sending issue becomes due, if any.
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(d.next_attempt_at) FROM deliveries d JOIN issues i ON i.id = d.issue_id WHERE i.status = 'sending' AND d.state = 'queued'",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn delivery_counts(&self, issue_id: i64) -> Result<DeliveryCounts> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT state, COUNT(*) FROM deliveries WHERE issue_id = $1 GROUP BY state").bind(issue_id).fetch_all(&self.pool).await?;
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
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE issue_id = $1 AND state = 'sent' AND sent_at >= $2").bind(issue_id).bind(since).fetch_one(&self.pool).await?)
    }

    /// The most frequent errors of an issue's deliveries.
    pub async fn top_errors(&self, issue_id: i64, limit: i64) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as(
            "SELECT last_error, COUNT(*) AS n FROM deliveries WHERE issue_id = $1 AND last_error IS NOT NULL AND state <> 'sent'
             GROUP BY last_error ORDER BY n DESC LIMIT $2",
        )
        .bind(issue_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A 5xx at send time is evidence about the address: it goes in the bounce log with the issue,
/// and the bounce policy applies to it as to any bounce.
#[allow(clippy::too_many_arguments)]
pub(super) async fn record_smtp_bounce(
    conn: &mut sqlx::SqliteConnection,
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
    apply_bounce(conn, &bounce, policy, now).await.map(|_| ())
}
