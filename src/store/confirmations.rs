//! The double opt-in confirmation emails' queue: pending subscriptions whose email is still to
//! be sent. Claimed under a lease like deliveries, ahead of any issue.

use chrono::Duration;
use serde_json::json;

use super::deliveries::Outcome;
use super::conn::{Later, q};
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
    /// Claims up to `limit` due confirmations, oldest sign-up first, for `lease`.
    pub async fn claim_confirmations(&self, limit: i64, lease: Duration) -> Result<Vec<PendingConfirmation>> {
        let now = super::now();
        let mut tx = self.write().await?;
        let claimed: Vec<(i64, i64)> = q!(all, &mut tx, [confirmations::CLAIM], Later(lease), now, limit)?;
        let mut pending = Vec::with_capacity(claimed.len());
        for (list_id, subscriber_id) in claimed {
            let row: PendingConfirmation = q!(one, &mut tx, "SELECT u.list_id, u.subscriber_id, u.confirmation_attempts AS attempts, s.email, s.name, s.status AS subscriber_status,
                        l.name AS list_name, l.language AS list_language
                 FROM subscriptions u JOIN subscribers s ON s.id = u.subscriber_id JOIN lists l ON l.id = u.list_id
                 WHERE u.list_id = $1 AND u.subscriber_id = $2", list_id, subscriber_id)?;
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
            Outcome::Retry { after, .. } => (None, Some(Later(*after)), 0),
            Outcome::Requeue { .. } | Outcome::Released => (None, Some(Later(Duration::zero())), 1),
            _ => (Some(now), None, 0),
        };
        q!(exec, &mut tx, [confirmations::RECORD], sent_at, not_before, attempts_back, c.list_id, c.subscriber_id)?;
        let (kind, detail) = match outcome {
            Outcome::Sent => ("confirmation.sent", json!({})),
            Outcome::Retry { .. } | Outcome::Requeue { .. } | Outcome::Released => {
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
