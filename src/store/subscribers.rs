//! Subscribers, their subscriptions, suppression, and what is held about one person.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use super::conn::{AsConn, Conn, q};
use super::events::{Actor, EventRecord, NewEvent, append};
use super::{Result, Store, StoreError, unknown_subscriber};
use crate::domain::personal::scrub_addresses;
use crate::domain::{ConsentSource, EmailAddress, SubscriberName, SubscriptionStatus};

/// One person asking (or being put) on one list.
#[derive(Debug)]
pub struct NewSubscription<'a> {
    pub email: &'a EmailAddress,
    pub name: &'a SubscriberName,
    pub list_id: i64,
    pub confirmed: bool,
    pub source: ConsentSource,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// A JSON object merged into the subscriber's attributes (keys set to null are removed).
    pub attributes: Option<&'a serde_json::Map<String, Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddOutcome {
    /// A new subscription, in the given status.
    Added(SubscriptionStatus),
    /// Was pending; now confirmed.
    Confirmed,
    /// Was unsubscribed; subscribed again (pending unless confirmed by staff).
    Resubscribed(SubscriptionStatus),
    /// Nothing to do: already in this status (a pending one gets its confirmation again).
    Unchanged(SubscriptionStatus),
}

#[derive(Debug, Default, serde::Serialize)]
pub struct UnsubscribeOutcome {
    pub unsubscribed: Vec<String>,
    pub already: Vec<String>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SubscriberDetail {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub status: String,
    pub attributes: Value,
    pub soft_bounces: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub subscriptions: Vec<SubscriptionRecord>,
    pub delivery_counts: Value,
    pub deliveries: Vec<DeliveryRecord>,
    pub bounces: Vec<BounceRecord>,
    pub events: Vec<EventRecord>,
}

#[derive(Debug, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SubscriptionRecord {
    pub list: String,
    pub status: String,
    pub consent_source: String,
    pub consent_ip: Option<String>,
    pub consent_user_agent: Option<String>,
    pub consent_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub unsubscribed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DeliveryRecord {
    pub issue: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct BounceRecord {
    pub kind: String,
    pub reason: String,
    pub source: String,
    pub status_code: Option<String>,
    pub diagnostic: Option<String>,
    pub issue: Option<String>,
    pub received_at: DateTime<Utc>,
    /// False when only the address a report named ties it to the subscriber (evidence only).
    pub verified: bool,
}

const RECENT: i64 = 50;

#[derive(sqlx::FromRow)]
struct SubscriberRow {
    id: i64,
    email: String,
    name: String,
    status: String,
    attributes: sqlx::types::Json<Value>,
    soft_bounces: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

async fn suppression_reason(c: &mut impl AsConn, email: &EmailAddress) -> Result<Option<String>> {
    let entry = super::suppressions::entry(c, email).await?;
    Ok(q!(scalar_opt, c, "SELECT reason FROM suppressions WHERE email_hash = $1", entry)?)
}

/// The person with this address, locked for the rest of the transaction on PostgreSQL.
async fn find_subscriber(c: &mut impl AsConn, email: &EmailAddress) -> Result<Option<(i64, String)>> {
    Ok(q!(opt, c, [subscribers::FIND], email.key())?)
}

/// Finds or creates the person; refuses an address that is suppressed or may not be mailed.
async fn admit_subscriber(c: &mut impl AsConn, new: &NewSubscription<'_>, now: DateTime<Utc>) -> Result<i64> {
    lock_address(c, new.email).await?;
    if let Some(reason) = suppression_reason(c, new.email).await? {
        return Err(StoreError::Suppressed { address: new.email.to_string(), reason });
    }
    match find_subscriber(c, new.email).await? {
        Some((_, status)) if status != "active" => Err(StoreError::Suppressed { address: new.email.to_string(), reason: status }),
        Some((id, _)) => {
            // A public form is anyone's: it may not rename a person who is already known.
            if !new.name.is_empty() && new.source != ConsentSource::Form {
                q!(exec, c, "UPDATE subscribers SET name = $1, updated_at = $2 WHERE id = $3", new.name.as_str(), now, id)?;
            }
            Ok(id)
        }
        None => Ok(q!(scalar, c, "INSERT INTO subscribers (email, email_key, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id", new.email.as_str(), new.email.key(), new.name.as_str(), now)?),
    }
}

fn parse_status(text: &str) -> Result<SubscriptionStatus> {
    SubscriptionStatus::parse(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// Puts a person on a list, recording the consent evidence, or says why not.
    pub async fn add_subscription(&self, new: NewSubscription<'_>, actor: &Actor) -> Result<AddOutcome> {
        let now = super::now();
        let mut tx = self.write().await?;
        let subscriber_id = admit_subscriber(&mut tx, &new, now).await?;
        if let Some(attributes) = new.attributes {
            q!(exec, &mut tx, [subscribers::MERGE_ATTRIBUTES], Value::Object(attributes.clone()).to_string(), subscriber_id)?;
        }
        let current: Option<String> = q!(scalar_opt, &mut tx, "SELECT status FROM subscriptions WHERE list_id = $1 AND subscriber_id = $2", new.list_id, subscriber_id)?;
        let target = if new.confirmed { SubscriptionStatus::Confirmed } else { SubscriptionStatus::Pending };
        let outcome = match current.as_deref().map(parse_status).transpose()? {
            None => AddOutcome::Added(target),
            Some(SubscriptionStatus::Unsubscribed) => AddOutcome::Resubscribed(target),
            Some(SubscriptionStatus::Pending) if new.confirmed => AddOutcome::Confirmed,
            Some(status) => AddOutcome::Unchanged(status),
        };
        write_subscription(&mut tx, &new, subscriber_id, outcome, now).await?;
        let kind = match outcome {
            AddOutcome::Confirmed | AddOutcome::Added(SubscriptionStatus::Confirmed) | AddOutcome::Resubscribed(SubscriptionStatus::Confirmed) => "subscription.confirmed",
            AddOutcome::Unchanged(_) => "subscription.requested_again",
            _ => "subscription.requested",
        };
        let detail = json!({"source": new.source.as_str(), "outcome": outcome});
        append(&mut tx, NewEvent { kind, actor, subscriber_id: Some(subscriber_id), list_id: Some(new.list_id), issue_id: None, detail }, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Staff-side unsubscribe, from one list or from all of a person's lists.
    pub async fn unsubscribe(&self, email: &EmailAddress, list_id: Option<i64>, actor: &Actor) -> Result<UnsubscribeOutcome> {
        let now = super::now();
        let mut tx = self.write().await?;
        lock_address(&mut tx, email).await?;
        let (subscriber_id, _) = find_subscriber(&mut tx, email).await?.ok_or_else(|| unknown_subscriber(email))?;
        let rows: Vec<(i64, String, String)> = q!(all, &mut tx, "SELECT u.list_id, l.slug, u.status FROM subscriptions u JOIN lists l ON l.id = u.list_id
             WHERE u.subscriber_id = $1 AND ($2 IS NULL OR u.list_id = $2) ORDER BY l.slug", subscriber_id, list_id)?;
        if rows.is_empty() {
            return Err(unknown_subscriber(email));
        }
        let mut outcome = UnsubscribeOutcome::default();
        for (list_id, slug, status) in rows {
            if status == "unsubscribed" {
                outcome.already.push(slug);
                continue;
            }
            q!(exec, &mut tx, "UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = $1, updated_at = $1 WHERE list_id = $2 AND subscriber_id = $3", now, list_id, subscriber_id)?;
            let event = NewEvent { kind: "subscription.unsubscribed", actor, subscriber_id: Some(subscriber_id), list_id: Some(list_id), issue_id: None, detail: json!({"previous": status}) };
            append(&mut tx, event, now).await?;
            outcome.unsubscribed.push(slug);
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// Deletes everything held about a person and keeps only the hash of their address, so the
    /// address is never mailed again. Deliveries and events stay, unlinked, for the counts.
    pub async fn erase_subscriber(&self, email: &EmailAddress, actor: &Actor) -> Result<()> {
        let now = super::now();
        let mut tx = self.write().await?;
        lock_address(&mut tx, email).await?;
        let (subscriber_id, _) = find_subscriber(&mut tx, email).await?.ok_or_else(|| unknown_subscriber(email))?;
        let entry = super::suppressions::entry(&mut tx, email).await?;
        q!(exec, &mut tx, "INSERT INTO suppressions (email_hash, reason, created_at) VALUES ($1, 'erased', $2) ON CONFLICT (email_hash) DO UPDATE SET reason = 'erased'", entry, now)?;
        q!(exec, &mut tx, "DELETE FROM subscribers WHERE id = $1", subscriber_id)?;
        // An import's report lists rows it refused or skipped by their address.
        let reports: Vec<(i64, String, Option<String>)> = q!(all, &mut tx, [subscribers::REPORTS_NAMING], email.key())?;
        for (id, problems, error) in reports {
            let (problems, error) = (scrub_addresses(&problems).into_owned(), error.map(|e| scrub_addresses(&e).into_owned()));
            q!(exec, &mut tx, [subscribers::SCRUB_REPORT], problems, error, id)?;
        }
        append(&mut tx, NewEvent { kind: "subscriber.erased", actor, subscriber_id: None, list_id: None, issue_id: None, detail: json!({}) }, now).await?;
        tx.commit().await?;
        self.checkpoint().await
    }

    /// Whether an address may never be mailed, and why.
    pub async fn suppression_of(&self, email: &EmailAddress) -> Result<Option<String>> {
        suppression_reason(&mut self.read().await?, email).await
    }

    /// Everything held about one person.
    pub async fn subscriber_detail(&self, email: &EmailAddress) -> Result<SubscriberDetail> {
        let row: SubscriberRow = q!(opt, &mut self.read().await?, "SELECT id, email, name, status, attributes, soft_bounces, created_at, updated_at FROM subscribers WHERE email_key = $1", email.key())?
        .ok_or_else(|| unknown_subscriber(email))?;
        Ok(SubscriberDetail {
            subscriptions: self.subscriptions_of(row.id).await?,
            delivery_counts: self.delivery_counts_of(row.id).await?,
            deliveries: self.deliveries_of(row.id).await?,
            bounces: self.bounces_of(row.id).await?,
            events: self.events_of_subscriber(row.id, RECENT).await?,
            id: row.id,
            email: row.email,
            name: row.name,
            status: row.status,
            attributes: row.attributes.0,
            soft_bounces: row.soft_bounces,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    async fn subscriptions_of(&self, subscriber_id: i64) -> Result<Vec<SubscriptionRecord>> {
        Ok(q!(all, &mut self.read().await?, "SELECT l.slug AS list, u.status, u.consent_source, u.consent_ip, u.consent_user_agent, u.consent_at, u.confirmed_at, u.unsubscribed_at
             FROM subscriptions u JOIN lists l ON l.id = u.list_id WHERE u.subscriber_id = $1 ORDER BY l.slug", subscriber_id)?)
    }

    async fn delivery_counts_of(&self, subscriber_id: i64) -> Result<Value> {
        let rows: Vec<(String, i64)> = q!(all, &mut self.read().await?, "SELECT state, COUNT(*) FROM deliveries WHERE subscriber_id = $1 GROUP BY state ORDER BY state", subscriber_id)?;
        Ok(Value::Object(rows.into_iter().map(|(k, v)| (k, v.into())).collect()))
    }

    async fn deliveries_of(&self, subscriber_id: i64) -> Result<Vec<DeliveryRecord>> {
        Ok(q!(all, &mut self.read().await?, "SELECT i.slug AS issue, d.state, d.attempts, d.last_error, d.sent_at, d.updated_at
             FROM deliveries d JOIN issues i ON i.id = d.issue_id WHERE d.subscriber_id = $1 ORDER BY d.id DESC LIMIT $2", subscriber_id, RECENT)?)
    }

    async fn bounces_of(&self, subscriber_id: i64) -> Result<Vec<BounceRecord>> {
        Ok(q!(all, &mut self.read().await?, "SELECT b.kind, b.reason, b.source, b.status_code, b.diagnostic, i.slug AS issue, b.received_at, b.verified
             FROM bounces b LEFT JOIN issues i ON i.id = b.issue_id WHERE b.subscriber_id = $1 ORDER BY b.id DESC LIMIT $2", subscriber_id, RECENT)?)
    }
}

/// A pending person who asks again gets a new confirmation email after this long.
const CONFIRMATION_RESEND_MINUTES: i64 = 15;

async fn write_subscription(c: &mut impl AsConn, new: &NewSubscription<'_>, subscriber_id: i64, outcome: AddOutcome, now: DateTime<Utc>) -> Result<()> {
    let status = match outcome {
        AddOutcome::Added(s) | AddOutcome::Resubscribed(s) => s,
        AddOutcome::Confirmed => {
            // The original sign-up stays the consent evidence; only its confirmation is added.
            q!(exec, c, "UPDATE subscriptions SET status = 'confirmed', confirmed_at = $1, updated_at = $1 WHERE list_id = $2 AND subscriber_id = $3", now, new.list_id, subscriber_id)?;
            return Ok(());
        }
        AddOutcome::Unchanged(SubscriptionStatus::Pending) => {
            // Asking again re-sends the confirmation (the engine picks up rows with no sent time),
            // but not more than once in a while: a form cannot be used to bomb someone's inbox.
            q!(exec, c, "UPDATE subscriptions SET confirmation_sent_at = NULL, confirmation_attempts = 0, updated_at = $1
                 WHERE list_id = $2 AND subscriber_id = $3 AND confirmation_sent_at < $4", now, new.list_id, subscriber_id, now - chrono::Duration::minutes(CONFIRMATION_RESEND_MINUTES))?;
            return Ok(());
        }
        AddOutcome::Unchanged(_) => return Ok(()),
    };
    let confirmed_at = (status == SubscriptionStatus::Confirmed).then_some(now);
    q!(exec, c, "INSERT INTO subscriptions (list_id, subscriber_id, status, consent_source, consent_ip, consent_user_agent, consent_at, confirmed_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7)
         ON CONFLICT (list_id, subscriber_id) DO UPDATE SET
            status = excluded.status, consent_source = excluded.consent_source, consent_ip = excluded.consent_ip,
            consent_user_agent = excluded.consent_user_agent, consent_at = excluded.consent_at,
            confirmed_at = excluded.confirmed_at, unsubscribed_at = NULL, confirmation_sent_at = NULL,
            confirmation_not_before = NULL, confirmation_attempts = 0, updated_at = excluded.updated_at", new.list_id, subscriber_id, status.as_str(), new.source.as_str(), new.ip, new.user_agent, now, confirmed_at)?;
    Ok(())
}

/// On PostgreSQL, serialises what happens to one address for the rest of the transaction: two
/// sign-ups of a new address on two instances must not both insert it. (SQLite has one writer.)
async fn lock_address(c: &mut impl AsConn, email: &EmailAddress) -> Result<()> {
    if let Conn::Postgres(c) = c.conn() {
        sqlx::query(super::postgres::subscribers::LOCK_ADDRESS).bind(email.key()).execute(&mut *c).await?;
    }
    Ok(())
}
