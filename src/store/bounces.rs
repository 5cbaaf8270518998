//! The bounce log and the policy it feeds: a hard bounce marks the person bounced and suppresses
//! the address; soft bounces about the address count within a window; a complaint unsubscribes
//! from every list and suppresses. Refusals of our message (`blocked`) are logged for staff and
//! never count against the reader. Every decision is an event with its evidence.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::SqliteConnection;

use super::events::{Actor, NewEvent, append};
use super::{Result, Store};

/// `[bounce]` as the store needs it.
#[derive(Debug, Clone, Copy)]
pub struct BouncePolicy {
    pub soft_threshold: u32,
    pub window_days: u32,
}

#[derive(Debug, Clone, Default)]
pub struct NewBounce<'a> {
    pub subscriber_id: i64,
    pub issue_id: Option<i64>,
    /// hard, soft or complaint.
    pub kind: &'a str,
    pub reason: &'a str,
    /// smtp, dsn, arf, heuristic, verp, webhook:<provider>
    pub source: &'a str,
    pub status_code: Option<&'a str>,
    pub action: Option<&'a str>,
    pub diagnostic: Option<&'a str>,
    pub remote_mta: Option<&'a str>,
    pub receiving_domain: Option<&'a str>,
    pub provider_event_id: Option<&'a str>,
    /// Only a signed VERP tag, our signed Message-ID or an authenticated webhook proves whom a
    /// bounce is about; an address named in a report may be forged. Unverified bounces are
    /// evidence for staff and feed the soft counter, never suppression or unsubscription.
    pub unverified: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Logged; the person is still mailed.
    Logged,
    /// The address is now bounced (and, for a hard bounce, suppressed).
    MarkedBounced,
    /// Unsubscribed from every list and suppressed.
    Complained,
    /// Seen before (same provider event): nothing done.
    Duplicate,
    /// The subscriber is gone (erased).
    UnknownSubscriber,
    /// Matched by the address alone: kept as evidence, nothing changed.
    Unverified,
}

impl Store {
    pub async fn record_bounce(&self, bounce: &NewBounce<'_>, policy: BouncePolicy) -> Result<Decision> {
        let mut tx = self.write().await?;
        let decision = apply_bounce(&mut tx, bounce, policy, super::now()).await?;
        tx.commit().await?;
        Ok(decision)
    }

    /// The subscriber with this address, if any (by the normalised key).
    pub async fn subscriber_id_by_key(&self, key: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT id FROM subscribers WHERE email_key = $1").bind(key).fetch_optional(&self.pool).await?)
    }

    /// An issue's slug by id, for reports.
    pub async fn issue_slug(&self, id: i64) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT slug FROM issues WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
    }
}

/// Logs a bounce and applies the policy, inside the caller's transaction.
pub(super) async fn apply_bounce(conn: &mut SqliteConnection, b: &NewBounce<'_>, policy: BouncePolicy, now: DateTime<Utc>) -> Result<Decision> {
    let person: Option<(String, String)> = sqlx::query_as("SELECT email_key, status FROM subscribers WHERE id = $1").bind(b.subscriber_id).fetch_optional(&mut *conn).await?;
    let Some((email_key, status)) = person else { return Ok(Decision::UnknownSubscriber) };
    let inserted = sqlx::query(
        "INSERT INTO bounces (subscriber_id, issue_id, kind, reason, source, status_code, action, diagnostic, remote_mta, receiving_domain, provider_event_id, received_at, verified)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (provider_event_id) DO NOTHING",
    )
    .bind(b.subscriber_id)
    .bind(b.issue_id)
    .bind(b.kind)
    .bind(b.reason)
    .bind(b.source)
    .bind(b.status_code)
    .bind(b.action)
    .bind(b.diagnostic)
    .bind(b.remote_mta)
    .bind(b.receiving_domain.map(str::to_string).or_else(|| email_key.rsplit_once('@').map(|(_, d)| d.to_string())))
    .bind(b.provider_event_id)
    .bind(now)
    .bind(!b.unverified)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(Decision::Duplicate);
    }
    if b.unverified {
        return record_unverified(conn, b, &status, policy, now).await;
    }
    if let Some(issue) = b.issue_id.filter(|_| b.action != Some("delayed") && b.kind != "complaint") {
        // The message did not arrive after all: the send's counts say so.
        sqlx::query("UPDATE deliveries SET state = 'bounced', last_error = $3, updated_at = $4 WHERE issue_id = $1 AND subscriber_id = $2 AND state = 'sent'")
            .bind(issue)
            .bind(b.subscriber_id)
            .bind(crate::domain::personal::scrub_addresses(b.diagnostic.unwrap_or(b.reason)).as_ref())
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    let decision = match b.kind {
        "complaint" => {
            complain(conn, b.subscriber_id, &email_key, now).await?;
            Decision::Complained
        }
        "hard" if status == "active" => {
            mark_bounced(conn, b.subscriber_id, Some(&email_key), now).await?;
            Decision::MarkedBounced
        }
        "soft" if status == "active" && counts_against_address(b) => {
            let recent = recount_soft(conn, b.subscriber_id, policy, now).await?;
            if recent >= i64::from(policy.soft_threshold) {
                mark_bounced(conn, b.subscriber_id, None, now).await?;
                Decision::MarkedBounced
            } else {
                Decision::Logged
            }
        }
        _ => Decision::Logged,
    };
    let detail = json!({"kind": b.kind, "reason": b.reason, "source": b.source, "status": b.status_code, "diagnostic": b.diagnostic, "decision": decision});
    let event = NewEvent { kind: "bounce.recorded", actor: &Actor("bounces".into()), subscriber_id: Some(b.subscriber_id), list_id: None, issue_id: b.issue_id, detail };
    append(conn, event, now).await?;
    Ok(decision)
}

/// An address-only match: the soft counter moves (a verified soft bounce may then reach the
/// threshold), nothing else does.
async fn record_unverified(conn: &mut SqliteConnection, b: &NewBounce<'_>, status: &str, policy: BouncePolicy, now: DateTime<Utc>) -> Result<Decision> {
    if b.kind != "complaint" && status == "active" && counts_against_address(b) {
        recount_soft(conn, b.subscriber_id, policy, now).await?;
    }
    let detail = json!({"kind": b.kind, "reason": b.reason, "source": b.source, "status": b.status_code, "diagnostic": b.diagnostic, "decision": Decision::Unverified});
    let event = NewEvent { kind: "bounce.unverified", actor: &Actor("bounces".into()), subscriber_id: Some(b.subscriber_id), list_id: None, issue_id: b.issue_id, detail };
    append(conn, event, now).await?;
    Ok(Decision::Unverified)
}

/// Counts the address's recent soft bounces (verified or not: hard ones named by address alone
/// count as soft) into `subscribers.soft_bounces`.
async fn recount_soft(conn: &mut SqliteConnection, subscriber_id: i64, policy: BouncePolicy, now: DateTime<Utc>) -> Result<i64> {
    let since = now - Duration::days(i64::from(policy.window_days));
    let recent: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM bounces WHERE subscriber_id = $1 AND (kind = 'soft' OR (kind = 'hard' AND verified = 0)) AND reason NOT IN ('blocked', 'rate_limited')
           AND (action IS NULL OR action <> 'delayed') AND received_at >= $2",
    )
    .bind(subscriber_id)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("UPDATE subscribers SET soft_bounces = $2 WHERE id = $1").bind(subscriber_id).bind(recent).execute(&mut *conn).await?;
    Ok(recent)
}

/// Soft bounces that say something about the address count; blocks, rate limits and delay
/// warnings do not.
fn counts_against_address(b: &NewBounce<'_>) -> bool {
    !matches!(b.reason, "blocked" | "rate_limited") && b.action != Some("delayed")
}

/// A hard bounce also suppresses the address (`email_key` given), so it is never re-imported.
async fn mark_bounced(conn: &mut SqliteConnection, subscriber_id: i64, email_key: Option<&str>, now: DateTime<Utc>) -> Result<()> {
    sqlx::query("UPDATE subscribers SET status = 'bounced', updated_at = $2 WHERE id = $1").bind(subscriber_id).bind(now).execute(&mut *conn).await?;
    if let Some(key) = email_key {
        suppress(conn, key, "hard_bounce", now).await?;
    }
    Ok(())
}

async fn complain(conn: &mut SqliteConnection, subscriber_id: i64, email_key: &str, now: DateTime<Utc>) -> Result<()> {
    sqlx::query("UPDATE subscribers SET status = 'complained', updated_at = $2 WHERE id = $1").bind(subscriber_id).bind(now).execute(&mut *conn).await?;
    sqlx::query("UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = $2, updated_at = $2 WHERE subscriber_id = $1 AND status <> 'unsubscribed'")
        .bind(subscriber_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    suppress(conn, email_key, "complaint", now).await
}

async fn suppress(conn: &mut SqliteConnection, email_key: &str, reason: &str, now: DateTime<Utc>) -> Result<()> {
    // The stored key is a normalised address, so it parses; the hash is the one import checks.
    let Ok(address) = crate::domain::EmailAddress::parse(email_key) else { return Ok(()) };
    let hash = super::suppressions::entry(conn, &address).await?;
    sqlx::query("INSERT INTO suppressions (email_hash, reason, created_at) VALUES ($1, $2, $3) ON CONFLICT (email_hash) DO NOTHING")
        .bind(hash)
        .bind(reason)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
