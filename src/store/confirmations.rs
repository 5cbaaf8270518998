//! The double opt-in confirmation emails' queue: pending subscriptions whose email is still to
//! be sent. Claimed under a lease like deliveries, ahead of any issue.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::deliveries::Outcome;
use super::events::{Actor, NewEvent, append};
use super::{Result, Store};

/// A pending subscription whose confirmation email is to be sent now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingConfirmation {
    pub list_id: i64,
    pub subscriber_id: i64,
    pub attempts: i64,
    pub email: String,
    pub name: String,
    pub subscriber_status: String,
    pub list_name: String,
    pub list_language: String,
}

impl Store {
    /// Claims up to `limit` due confirmations, oldest sign-up first, until `lease_until`.
    pub async fn claim_confirmations(&self, limit: i64, lease_until: DateTime<Utc>) -> Result<Vec<PendingConfirmation>> {
        let now = super::now();
        let mut tx = self.write().await?;
        let claimed: Vec<(i64, i64)> = sqlx::query_as(
            "UPDATE subscriptions SET confirmation_not_before = $1, confirmation_attempts = confirmation_attempts + 1
             WHERE (list_id, subscriber_id) IN (
                 SELECT list_id, subscriber_id FROM subscriptions
                 WHERE status = 'pending' AND confirmation_sent_at IS NULL
                   AND (confirmation_not_before IS NULL OR confirmation_not_before <= $2)
                 ORDER BY consent_at LIMIT $3)
             RETURNING list_id, subscriber_id",
        )
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut pending = Vec::with_capacity(claimed.len());
        for (list_id, subscriber_id) in claimed {
            let row: PendingConfirmation = sqlx::query_as(
                "SELECT u.list_id, u.subscriber_id, u.confirmation_attempts AS attempts, s.email, s.name, s.status AS subscriber_status,
                        l.name AS list_name, l.language AS list_language
                 FROM subscriptions u JOIN subscribers s ON s.id = u.subscriber_id JOIN lists l ON l.id = u.list_id
                 WHERE u.list_id = $1 AND u.subscriber_id = $2",
            )
            .bind(list_id)
            .bind(subscriber_id)
            .fetch_one(&mut *tx)
            .await?;
            pending.push(row);
        }
        tx.commit().await?;
        Ok(pending)
    }

    /// Writes what became of a confirmation email. Given up (out of attempts, refused, or not
    /// to be sent at all) counts as done, with the reason in the event log.
    pub async fn record_confirmation(&self, c: &PendingConfirmation, outcome: &Outcome, policy: super::BouncePolicy) -> Result<()> {
        let now = super::now();
        let mut tx = self.write().await?;
        let (sent_at, not_before, attempts_back) = match outcome {
            Outcome::Retry { at, .. } => (None, Some(*at), 0),
            Outcome::Requeue { at, .. } => (None, Some(*at), 1),
            _ => (Some(now), None, 0),
        };
        sqlx::query(
            "UPDATE subscriptions SET confirmation_sent_at = $1, confirmation_not_before = $2, confirmation_attempts = confirmation_attempts - $3
             WHERE list_id = $4 AND subscriber_id = $5 AND status = 'pending'",
        )
        .bind(sent_at)
        .bind(not_before)
        .bind(attempts_back)
        .bind(c.list_id)
        .bind(c.subscriber_id)
        .execute(&mut *tx)
        .await?;
        let (kind, detail) = match outcome {
            Outcome::Sent => ("confirmation.sent", json!({})),
            Outcome::Retry { .. } | Outcome::Requeue { .. } => {
                tx.commit().await?;
                return Ok(());
            }
            Outcome::Skipped { why } => ("confirmation.skipped", json!({"why": why})),
            Outcome::Failed { code, error } => ("confirmation.failed", json!({"code": code, "error": error})),
            Outcome::Rejected { code, error, hard, reason } => {
                super::deliveries::record_smtp_bounce(&mut tx, c.subscriber_id, None, *code, error, *hard, reason, policy, now).await?;
                ("confirmation.failed", json!({"code": code, "error": error}))
            }
        };
        let actor = Actor("delivery".into());
        append(&mut tx, NewEvent { kind, actor: &actor, subscriber_id: Some(c.subscriber_id), list_id: Some(c.list_id), issue_id: None, detail }, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
