//! The bounce log and the policy it feeds: a hard bounce marks the person bounced and suppresses
//! the address; soft bounces about the address count within a window; a complaint unsubscribes
//! from every list and suppresses. Refusals of our message (`blocked`) are logged for staff and
//! never count against the reader. Every decision is an event with its evidence.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use super::conn::{AsConn, q};
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
        Ok(q!(scalar_opt, &mut self.read().await?, "SELECT id FROM subscribers WHERE email_key = $1", key)?)
    }

    /// An issue's slug by id, for reports.
    pub async fn issue_slug(&self, id: i64) -> Result<Option<String>> {
        Ok(q!(scalar_opt, &mut self.read().await?, "SELECT slug FROM issues WHERE id = $1", id)?)
    }
}

/// Logs a bounce and applies the policy, inside the caller's transaction.
pub(super) async fn apply_bounce(c: &mut impl AsConn, b: &NewBounce<'_>, policy: BouncePolicy, now: DateTime<Utc>) -> Result<Decision> {
    let person: Option<(String, String)> = q!(opt, c, [subscribers::PERSON_FOR_BOUNCE], b.subscriber_id)?;
    let Some((email_key, status)) = person else { return Ok(Decision::UnknownSubscriber) };
    let inserted = q!(exec, c, "INSERT INTO bounces (subscriber_id, issue_id, kind, reason, source, status_code, action, diagnostic, remote_mta, receiving_domain, provider_event_id, received_at, verified)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (provider_event_id) DO NOTHING", b.subscriber_id, b.issue_id, b.kind, b.reason, b.source, text(b.status_code), text(b.action), text(b.diagnostic), text(b.remote_mta), text(b.receiving_domain).or_else(|| email_key.rsplit_once('@').map(|(_, d)| d.to_string())), text(b.provider_event_id), now, !b.unverified)?;
    if inserted == 0 {
        return Ok(Decision::Duplicate);
    }
    if b.unverified {
        return record_unverified(c, b, &status, policy, now).await;
    }
    if let Some(issue) = b.issue_id.filter(|_| b.action != Some("delayed") && b.kind != "complaint") {
        // The message did not arrive after all: the send's counts say so.
        let moved = q!(exec, c, "UPDATE deliveries SET state = 'bounced', last_error = $3, updated_at = $4 WHERE issue_id = $1 AND subscriber_id = $2 AND state = 'sent'", issue, b.subscriber_id, crate::domain::personal::scrub_addresses(b.diagnostic.unwrap_or(b.reason)).as_ref(), now)?;
        if moved > 0 {
            // A finished send's summary is what its pages read: it moves with the row.
            q!(exec, c, "UPDATE issue_summaries SET sent = sent - $2, bounced = bounced + $2 WHERE issue_id = $1", issue, moved as i64)?;
        }
    }
    let decision = match b.kind {
        "complaint" => {
            complain(c, b.subscriber_id, &email_key, now).await?;
            Decision::Complained
        }
        "hard" if status == "active" => {
            mark_bounced(c, b.subscriber_id, Some(&email_key), now).await?;
            Decision::MarkedBounced
        }
        "soft" if status == "active" && counts_against_address(b) => {
            let recent = recount_soft(c, b.subscriber_id, policy, now).await?;
            if recent >= i64::from(policy.soft_threshold) {
                mark_bounced(c, b.subscriber_id, None, now).await?;
                Decision::MarkedBounced
            } else {
                Decision::Logged
            }
        }
        _ => Decision::Logged,
    };
    let detail = json!({"kind": b.kind, "reason": b.reason, "source": b.source, "status": b.status_code, "diagnostic": b.diagnostic, "decision": decision});
    let event = NewEvent { kind: "bounce.recorded", actor: &Actor("bounces".into()), subscriber_id: Some(b.subscriber_id), list_id: None, issue_id: b.issue_id, detail };
    append(c, event, now).await?;
    Ok(decision)
}

/// A report's field as stored (reports come from anywhere and may hold NUL characters).
fn text(field: Option<&str>) -> Option<String> {
    field.map(|f| super::storable(f).into_owned())
}

/// An address-only match: the soft counter moves (a verified soft bounce may then reach the
/// threshold), nothing else does.
async fn record_unverified(c: &mut impl AsConn, b: &NewBounce<'_>, status: &str, policy: BouncePolicy, now: DateTime<Utc>) -> Result<Decision> {
    if b.kind != "complaint" && status == "active" && counts_against_address(b) {
        recount_soft(c, b.subscriber_id, policy, now).await?;
    }
    let detail = json!({"kind": b.kind, "reason": b.reason, "source": b.source, "status": b.status_code, "diagnostic": b.diagnostic, "decision": Decision::Unverified});
    let event = NewEvent { kind: "bounce.unverified", actor: &Actor("bounces".into()), subscriber_id: Some(b.subscriber_id), list_id: None, issue_id: b.issue_id, detail };
    append(c, event, now).await?;
    Ok(Decision::Unverified)
}

/// Counts the address's recent soft bounces (verified or not: hard ones named by address alone
/// count as soft) into `subscribers.soft_bounces`.
async fn recount_soft(c: &mut impl AsConn, subscriber_id: i64, policy: BouncePolicy, now: DateTime<Utc>) -> Result<i64> {
    let since = now - Duration::days(i64::from(policy.window_days));
    let recent: i64 = q!(scalar, c, "SELECT COUNT(*) FROM bounces WHERE subscriber_id = $1 AND (kind = 'soft' OR (kind = 'hard' AND NOT verified)) AND reason NOT IN ('blocked', 'rate_limited')
           AND (action IS NULL OR action <> 'delayed') AND received_at >= $2", subscriber_id, since)?;
    q!(exec, c, "UPDATE subscribers SET soft_bounces = $2 WHERE id = $1", subscriber_id, recent)?;
    Ok(recent)
}

/// Soft bounces that say something about the address count; blocks, rate limits and delay
/// warnings do not.
fn counts_against_address(b: &NewBounce<'_>) -> bool {
    !matches!(b.reason, "blocked" | "rate_limited") && b.action != Some("delayed")
}

/// A hard bounce also suppresses the address (`email_key` given), so it is never re-imported.
async fn mark_bounced(c: &mut impl AsConn, subscriber_id: i64, email_key: Option<&str>, now: DateTime<Utc>) -> Result<()> {
    q!(exec, c, "UPDATE subscribers SET status = 'bounced', updated_at = $2 WHERE id = $1", subscriber_id, now)?;
    if let Some(key) = email_key {
        suppress(c, key, "hard_bounce", now).await?;
    }
    Ok(())
}

async fn complain(c: &mut impl AsConn, subscriber_id: i64, email_key: &str, now: DateTime<Utc>) -> Result<()> {
    q!(exec, c, "UPDATE subscribers SET status = 'complained', updated_at = $2 WHERE id = $1", subscriber_id, now)?;
    q!(exec, c, "UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = $2, updated_at = $2 WHERE subscriber_id = $1 AND status <> 'unsubscribed'", subscriber_id, now)?;
    suppress(c, email_key, "complaint", now).await
}

async fn suppress(c: &mut impl AsConn, email_key: &str, reason: &str, now: DateTime<Utc>) -> Result<()> {
    // The stored key is a normalised address, so it parses; the hash is the one import checks.
    let Ok(address) = crate::domain::EmailAddress::parse(email_key) else { return Ok(()) };
    let hash = super::suppressions::entry(c, &address).await?;
    q!(exec, c, "INSERT INTO suppressions (email_hash, reason, created_at) VALUES ($1, $2, $3) ON CONFLICT (email_hash) DO NOTHING", hash, reason, now)?;
    Ok(())
}
