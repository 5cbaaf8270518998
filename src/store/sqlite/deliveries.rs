//! The delivery queue on SQLite: one writer claims at a time, on the host's clock.

use chrono::{DateTime, Duration, Utc};
use sqlx::SqliteConnection;

use crate::store::conn::Later;
use crate::store::deliveries::{Claimed, Outcome, OutcomeColumns};
use crate::store::Result;

/// The audience snapshot (binds: issue, list, now).
pub const SNAPSHOT: &str = "INSERT INTO deliveries (issue_id, subscriber_id, state, next_attempt_at, updated_at)
     SELECT $1, u.subscriber_id, 'queued', $3, $3
     FROM subscriptions u JOIN subscribers s ON s.id = u.subscriber_id
     WHERE u.list_id = $2 AND u.status = 'confirmed' AND s.status = 'active'
     ORDER BY u.subscriber_id
     ON CONFLICT (issue_id, subscriber_id) DO NOTHING";

/// Whether any scheduled issue is due (binds: now).
pub const ANY_DUE_ISSUE: &str = "SELECT id FROM issues WHERE status = 'scheduled' AND send_at <= $1 LIMIT 1";

/// Scheduled issues whose time has come (binds: now).
pub const DUE_ISSUES: &str = "SELECT id FROM issues WHERE status = 'scheduled' AND send_at <= $1 ORDER BY send_at";

/// Claims up to `limit` due rows of the oldest sending issue that has any, inside the writer's
/// transaction.
pub async fn claim(tx: &mut SqliteConnection, owner: &str, limit: i64, lease: Duration) -> Result<Vec<Claimed>> {
    let now = crate::store::now();
    // The oldest sending issue with something due: one whose remaining rows all wait for a retry
    // must not hold up the next issue.
    let issue: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM issues i WHERE status = 'sending'
           AND EXISTS (SELECT 1 FROM deliveries d WHERE d.issue_id = i.id AND d.state = 'queued' AND d.next_attempt_at <= $1)
         ORDER BY started_at, id LIMIT 1",
    )
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(issue_id) = issue else { return Ok(Vec::new()) };
    // No UPDATE … LIMIT in SQLite: claim through a sub-select.
    let ids: Vec<i64> = sqlx::query_scalar(
        "UPDATE deliveries SET state = 'sending', lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3
         WHERE id IN (SELECT id FROM deliveries WHERE issue_id = $4 AND state = 'queued' AND next_attempt_at <= $3
                      ORDER BY next_attempt_at, id LIMIT $5)
         RETURNING id",
    )
    .bind(owner)
    .bind(Later(lease))
    .bind(now)
    .bind(issue_id)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT d.id, d.issue_id, d.subscriber_id, d.attempts, s.email, s.name, s.status AS subscriber_status, u.status AS subscription_status
         FROM deliveries d JOIN issues i ON i.id = d.issue_id
         LEFT JOIN subscribers s ON s.id = d.subscriber_id
         LEFT JOIN subscriptions u ON u.list_id = i.list_id AND u.subscriber_id = d.subscriber_id
         WHERE d.id IN ({}) ORDER BY d.id",
        vec!["?"; ids.len()].join(", ")
    );
    let mut query = sqlx::query_as(&sql);
    for id in &ids {
        query = query.bind(id);
    }
    Ok(query.fetch_all(&mut *tx).await?)
}

/// Writes the outcomes, a statement each (SQLite statements cost microseconds, in-process);
/// returns the ids of the rows that were still `owner`'s and changed.
pub async fn record(tx: &mut SqliteConnection, owner: &str, outcomes: &[(Claimed, Outcome)], now: DateTime<Utc>) -> Result<Vec<i64>> {
    let mut changed = Vec::with_capacity(outcomes.len());
    for (d, outcome) in outcomes {
        let o = OutcomeColumns::of(outcome);
        let rows = sqlx::query(
            "UPDATE deliveries SET state = $1, next_attempt_at = COALESCE($2, next_attempt_at), smtp_code = $3, last_error = $4,
                attempts = attempts - $5, sent_at = CASE WHEN $1 = 'sent' THEN $6 ELSE sent_at END,
                lease_owner = NULL, lease_until = NULL, updated_at = $6
             WHERE id = $7 AND lease_owner = $8 AND state = 'sending'",
        )
        .bind(o.state)
        .bind(o.due_in.map(Later))
        .bind(o.code)
        .bind(o.error)
        .bind(o.attempts_back)
        .bind(now)
        .bind(d.id)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if rows == 1 {
            changed.push(d.id);
        }
    }
    Ok(changed)
}
