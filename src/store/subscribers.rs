//! Subscribers, their subscriptions, suppression, and what is held about one person.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::SqliteConnection;

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
    attributes: String,
    soft_bounces: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

async fn suppression_reason(conn: &mut SqliteConnection, email: &EmailAddress) -> Result<Option<String>> {
    let entry = super::suppressions::entry(conn, email).await?;
    Ok(sqlx::query_scalar("SELECT reason FROM suppressions WHERE email_hash = $1")
        .bind(entry)
        .fetch_optional(conn)
        .await?)
}

async fn find_subscriber(conn: &mut SqliteConnection, email: &EmailAddress) -> Result<Option<(i64, String)>> {
    Ok(sqlx::query_as("SELECT id, status FROM subscribers WHERE email_key = $1")
        .bind(email.key())
        .fetch_optional(conn)
        .await?)
}

/// Finds or creates the person; refuses an address that is suppressed or may not be mailed.
async fn admit_subscriber(conn: &mut SqliteConnection, new: &NewSubscription<'_>, now: DateTime<Utc>) -> Result<i64> {
    if let Some(reason) = suppression_reason(conn, new.email).await? {
        return Err(StoreError::Suppressed { address: new.email.to_string(), reason });
    }
    match find_subscriber(conn, new.email).await? {
        Some((_, status)) if status != "active" => Err(StoreError::Suppressed { address: new.email.to_string(), reason: status }),
        Some((id, _)) => {
            // A public form is anyone's: it may not rename a person who is already known.
            if !new.name.is_empty() && new.source != ConsentSource::Form {
                sqlx::query("UPDATE subscribers SET name = $1, updated_at = $2 WHERE id = $3")
                    .bind(new.name.as_str())
                    .bind(now)
                    .bind(id)
                    .execute(conn)
                    .await?;
            }
            Ok(id)
        }
        None => Ok(sqlx::query_scalar(
            "INSERT INTO subscribers (email, email_key, name, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(new.email.as_str())
        .bind(new.email.key())
        .bind(new.name.as_str())
        .bind(now)
        .fetch_one(conn)
        .await?),
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
            // SQLite-only: json_patch (PostgreSQL: attributes || $1, then strip nulls).
            sqlx::query("UPDATE subscribers SET attributes = json_patch(attributes, $1) WHERE id = $2")
                .bind(Value::Object(attributes.clone()).to_string())
                .bind(subscriber_id)
                .execute(&mut *tx)
                .await?;
        }
        let current: Option<String> = sqlx::query_scalar("SELECT status FROM subscriptions WHERE list_id = $1 AND subscriber_id = $2")
            .bind(new.list_id)
            .bind(subscriber_id)
            .fetch_optional(&mut *tx)
            .await?;
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
        let (subscriber_id, _) = find_subscriber(&mut tx, email).await?.ok_or_else(|| unknown_subscriber(email))?;
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT u.list_id, l.slug, u.status FROM subscriptions u JOIN lists l ON l.id = u.list_id
             WHERE u.subscriber_id = $1 AND ($2 IS NULL OR u.list_id = $2) ORDER BY l.slug",
        )
        .bind(subscriber_id)
        .bind(list_id)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Err(unknown_subscriber(email));
        }
        let mut outcome = UnsubscribeOutcome::default();
        for (list_id, slug, status) in rows {
            if status == "unsubscribed" {
                outcome.already.push(slug);
                continue;
            }
            sqlx::query("UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = $1, updated_at = $1 WHERE list_id = $2 AND subscriber_id = $3")
                .bind(now)
                .bind(list_id)
                .bind(subscriber_id)
                .execute(&mut *tx)
                .await?;
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
        let (subscriber_id, _) = find_subscriber(&mut tx, email).await?.ok_or_else(|| unknown_subscriber(email))?;
        let entry = super::suppressions::entry(&mut tx, email).await?;
        sqlx::query("INSERT INTO suppressions (email_hash, reason, created_at) VALUES ($1, 'erased', $2) ON CONFLICT (email_hash) DO UPDATE SET reason = 'erased'")
            .bind(entry)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM subscribers WHERE id = $1").bind(subscriber_id).execute(&mut *tx).await?;
        // An import's report lists rows it refused or skipped by their address.
        let reports: Vec<(i64, String, Option<String>)> = sqlx::query_as("SELECT id, problems, error FROM import_jobs WHERE problems LIKE '%' || $1 || '%' OR error LIKE '%' || $1 || '%'")
            .bind(email.key())
            .fetch_all(&mut *tx)
            .await?;
        for (id, problems, error) in reports {
            let (problems, error) = (scrub_addresses(&problems).into_owned(), error.map(|e| scrub_addresses(&e).into_owned()));
            sqlx::query("UPDATE import_jobs SET problems = $1, error = $2 WHERE id = $3").bind(problems).bind(error).bind(id).execute(&mut *tx).await?;
        }
        append(&mut tx, NewEvent { kind: "subscriber.erased", actor, subscriber_id: None, list_id: None, issue_id: None, detail: json!({}) }, now).await?;
        tx.commit().await?;
        self.checkpoint().await
    }

    /// Whether an address may never be mailed, and why.
    pub async fn suppression_of(&self, email: &EmailAddress) -> Result<Option<String>> {
        let mut conn = self.pool.acquire().await?;
        suppression_reason(&mut conn, email).await
    }

    /// Everything held about one person.
    pub async fn subscriber_detail(&self, email: &EmailAddress) -> Result<SubscriberDetail> {
        let row: SubscriberRow = sqlx::query_as(
            "SELECT id, email, name, status, attributes, soft_bounces, created_at, updated_at FROM subscribers WHERE email_key = $1",
        )
        .bind(email.key())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| unknown_subscriber(email))?;
        let attributes = serde_json::from_str(&row.attributes).map_err(|e| StoreError::Corrupt(format!("attributes of subscriber {}: {e}", row.id)))?;
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
            attributes,
            soft_bounces: row.soft_bounces,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    async fn subscriptions_of(&self, subscriber_id: i64) -> Result<Vec<SubscriptionRecord>> {
        Ok(sqlx::query_as(
            "SELECT l.slug AS list, u.status, u.consent_source, u.consent_ip, u.consent_user_agent, u.consent_at, u.confirmed_at, u.unsubscribed_at
             FROM subscriptions u JOIN lists l ON l.id = u.list_id WHERE u.subscriber_id = $1 ORDER BY l.slug",
        )
        .bind(subscriber_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn delivery_counts_of(&self, subscriber_id: i64) -> Result<Value> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT state, COUNT(*) FROM deliveries WHERE subscriber_id = $1 GROUP BY state ORDER BY state")
            .bind(subscriber_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(Value::Object(rows.into_iter().map(|(k, v)| (k, v.into())).collect()))
    }

    async fn deliveries_of(&self, subscriber_id: i64) -> Result<Vec<DeliveryRecord>> {
        Ok(sqlx::query_as(
            "SELECT i.slug AS issue, d.state, d.attempts, d.last_error, d.sent_at, d.updated_at
             FROM deliveries d JOIN issues i ON i.id = d.issue_id WHERE d.subscriber_id = $1 ORDER BY d.id DESC LIMIT $2",
        )
        .bind(subscriber_id)
        .bind(RECENT)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn bounces_of(&self, subscriber_id: i64) -> Result<Vec<BounceRecord>> {
        Ok(sqlx::query_as(
            "SELECT b.kind, b.reason, b.source, b.status_code, b.diagnostic, i.slug AS issue, b.received_at, b.verified
             FROM bounces b LEFT JOIN issues i ON i.id = b.issue_id WHERE b.subscriber_id = $1 ORDER BY b.id DESC LIMIT $2",
        )
        .bind(subscriber_id)
        .bind(RECENT)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A pending person who asks again gets a new confirmation email after this long.
const CONFIRMATION_RESEND_MINUTES: i64 = 15;

async fn write_subscription(conn: &mut SqliteConnection, new: &NewSubscription<'_>, subscriber_id: i64, outcome: AddOutcome, now: DateTime<Utc>) -> Result<()> {
    let status = match outcome {
        AddOutcome::Added(s) | AddOutcome::Resubscribed(s) => s,
        AddOutcome::Confirmed => {
            // The original sign-up stays the consent evidence; only its confirmation is added.
            sqlx::query("UPDATE subscriptions SET status = 'confirmed', confirmed_at = $1, updated_at = $1 WHERE list_id = $2 AND subscriber_id = $3")
                .bind(now)
                .bind(new.list_id)
                .bind(subscriber_id)
                .execute(conn)
                .await?;
            return Ok(());
        }
        AddOutcome::Unchanged(SubscriptionStatus::Pending) => {
            // Asking again re-sends the confirmation (the engine picks up rows with no sent time),
            // but not more than once in a while: a form cannot be used to bomb someone's inbox.
            sqlx::query(
                "UPDATE subscriptions SET confirmation_sent_at = NULL, confirmation_attempts = 0, updated_at = $1
                 WHERE list_id = $2 AND subscriber_id = $3 AND confirmation_sent_at < $4",
            )
                .bind(now)
                .bind(new.list_id)
                .bind(subscriber_id)
                .bind(now - chrono::Duration::minutes(CONFIRMATION_RESEND_MINUTES))
                .execute(conn)
                .await?;
            return Ok(());
        }
        AddOutcome::Unchanged(_) => return Ok(()),
    };
    let confirmed_at = (status == SubscriptionStatus::Confirmed).then_some(now);
    sqlx::query(
        "INSERT INTO subscriptions (list_id, subscriber_id, status, consent_source, consent_ip, consent_user_agent, consent_at, confirmed_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7)
         ON CONFLICT (list_id, subscriber_id) DO UPDATE SET
            status = excluded.status, consent_source = excluded.consent_source, consent_ip = excluded.consent_ip,
            consent_user_agent = excluded.consent_user_agent, consent_at = excluded.consent_at,
            confirmed_at = excluded.confirmed_at, unsubscribed_at = NULL, confirmation_sent_at = NULL,
            confirmation_not_before = NULL, confirmation_attempts = 0, updated_at = excluded.updated_at",
    )
    .bind(new.list_id)
    .bind(subscriber_id)
    .bind(status.as_str())
    .bind(new.source.as_str())
    .bind(new.ip)
    .bind(new.user_agent)
    .bind(now)
    .bind(confirmed_at)
    .execute(conn)
    .await?;
    Ok(())
}
