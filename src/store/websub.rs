//! The WebSub hub's tables: requests waiting for their intent to be verified, verified
//! subscriptions with their leases, the state each topic's subscribers were last told of, and the
//! pushes still to make.
//!
//! Written for several instances at once: a request is taken by the one `DELETE … RETURNING`
//! that removes it, a topic's change is queued by the one upsert that changes its version, and a
//! push is claimed by an `UPDATE` that re-checks it is still due, so no two hubs do the same work.

use chrono::{DateTime, Duration, Utc};

use super::conn::q;
use super::{Result, Store};

/// A subscribe or unsubscribe request, as `POST /websub` accepted it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HubRequest {
    pub id: i64,
    pub mode: String,
    pub topic: String,
    pub callback: String,
    pub secret: Option<String>,
    pub lease_seconds: i64,
}

/// A push to make: the subscription and how many attempts it has had (this one included).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HubPush {
    pub subscription_id: i64,
    pub topic: String,
    pub callback: String,
    pub secret: Option<String>,
    pub attempts: i64,
}

impl Store {
    /// Keeps a request for the hub to verify; returns its id.
    pub async fn add_hub_request(&self, mode: &str, topic: &str, callback: &str, secret: Option<&str>, lease_seconds: i64) -> Result<i64> {
        let mut tx = self.write().await?;
        let id = q!(scalar, &mut tx, "INSERT INTO websub_requests (mode, topic, callback, secret, lease_seconds, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", mode, topic, callback, secret, lease_seconds, super::now())?;
        tx.commit().await?;
        Ok(id)
    }

    /// Requests waiting, and subscriptions kept: what bounds the hub's tables.
    pub async fn hub_sizes(&self) -> Result<(i64, i64)> {
        let mut c = self.read().await?;
        let pending = q!(scalar, &mut c, "SELECT COUNT(*) FROM websub_requests")?;
        let subscriptions = q!(scalar, &mut c, "SELECT COUNT(*) FROM websub_subscriptions")?;
        Ok((pending, subscriptions))
    }

    /// Takes up to `limit` requests, oldest first; each is this caller's alone.
    pub async fn take_hub_requests(&self, limit: i64) -> Result<Vec<HubRequest>> {
        let mut tx = self.write().await?;
        let taken = q!(all, &mut tx, "DELETE FROM websub_requests WHERE id IN (SELECT id FROM websub_requests ORDER BY id LIMIT $1) RETURNING id, mode, topic, callback, secret, lease_seconds", limit)?;
        tx.commit().await?;
        Ok(taken)
    }

    /// A verified subscription (a renewal replaces the secret and the lease). `version` is the
    /// topic's state now: the subscriber is told of changes after this one.
    pub async fn hub_subscribe(&self, request: &HubRequest, version: &str) -> Result<()> {
        let now = super::now();
        let expires_at = now + Duration::seconds(request.lease_seconds);
        let mut tx = self.write().await?;
        q!(
            exec,
            &mut tx,
            "INSERT INTO websub_subscriptions (topic, callback, secret, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (topic, callback) DO UPDATE SET secret = excluded.secret, expires_at = excluded.expires_at, failures = 0",
            &request.topic,
            &request.callback,
            &request.secret,
            expires_at,
            now
        )?;
        q!(exec, &mut tx, "INSERT INTO websub_topics (topic, version) VALUES ($1, $2) ON CONFLICT (topic) DO NOTHING", &request.topic, version)?;
        tx.commit().await
    }

    /// Ends a subscription (a verified unsubscribe, a callback that answered 410 Gone, or one that
    /// failed too often); its waiting push goes with it.
    pub async fn hub_unsubscribe(&self, topic: &str, callback: &str) -> Result<u64> {
        let mut tx = self.write().await?;
        q!(exec, &mut tx, "DELETE FROM websub_pushes WHERE subscription_id IN (SELECT id FROM websub_subscriptions WHERE topic = $1 AND callback = $2)", topic, callback)?;
        let gone = q!(exec, &mut tx, "DELETE FROM websub_subscriptions WHERE topic = $1 AND callback = $2", topic, callback)?;
        tx.commit().await?;
        Ok(gone)
    }

    /// Drops the subscriptions whose lease has run out.
    pub async fn expire_hub_subscriptions(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.write().await?;
        q!(exec, &mut tx, "DELETE FROM websub_pushes WHERE subscription_id IN (SELECT id FROM websub_subscriptions WHERE expires_at <= $1)", now)?;
        let gone = q!(exec, &mut tx, "DELETE FROM websub_subscriptions WHERE expires_at <= $1", now)?;
        tx.commit().await?;
        Ok(gone)
    }

    /// The topics that have subscribers, or whose state the hub keeps (for an external hub).
    pub async fn hub_topics(&self) -> Result<Vec<String>> {
        Ok(q!(scalar_all, &mut self.read().await?, "SELECT topic FROM websub_topics WHERE topic IN (SELECT topic FROM websub_subscriptions) ORDER BY topic")?)
    }

    /// Records that `topic` is now at `version`. When that is news, every live subscription of
    /// the topic gets a push (replacing one still waiting: it will carry the newest feed anyway)
    /// and this returns true; a topic seen for the first time only has its state kept.
    pub async fn hub_topic_changed(&self, topic: &str, version: &str) -> Result<bool> {
        let now = super::now();
        let mut tx = self.write().await?;
        let known: Option<String> = q!(scalar_opt, &mut tx, "SELECT version FROM websub_topics WHERE topic = $1", topic)?;
        let Some(known) = known else {
            q!(exec, &mut tx, "INSERT INTO websub_topics (topic, version) VALUES ($1, $2) ON CONFLICT (topic) DO NOTHING", topic, version)?;
            tx.commit().await?;
            return Ok(false);
        };
        if known == version {
            return Ok(false);
        }
        // The version in the WHERE makes this the only caller that moves the topic on.
        let moved = q!(exec, &mut tx, "UPDATE websub_topics SET version = $2 WHERE topic = $1 AND version = $3", topic, version, &known)?;
        if moved == 1 {
            q!(
                exec,
                &mut tx,
                "INSERT INTO websub_pushes (subscription_id, due_at, attempts) SELECT id, $2, 0 FROM websub_subscriptions WHERE topic = $1 AND expires_at > $2
                 ON CONFLICT (subscription_id) DO UPDATE SET due_at = excluded.due_at, attempts = 0, last_error = NULL",
                topic,
                now
            )?;
        }
        tx.commit().await?;
        Ok(moved == 1)
    }

    /// Claims up to `limit` pushes that are due: each is held for `hold` (a hub that dies with it
    /// in hand leaves it to be retried then) and counts one more attempt.
    pub async fn claim_hub_pushes(&self, limit: i64, hold: Duration) -> Result<Vec<HubPush>> {
        let now = super::now();
        let held_until = now + hold;
        let mut tx = self.write().await?;
        let claimed: Vec<(i64, i64)> = q!(
            all,
            &mut tx,
            "UPDATE websub_pushes SET due_at = $2, attempts = attempts + 1
             WHERE due_at <= $1 AND subscription_id IN (SELECT subscription_id FROM websub_pushes WHERE due_at <= $1 ORDER BY due_at LIMIT $3)
             RETURNING subscription_id, attempts",
            now,
            held_until,
            limit
        )?;
        let mut pushes = Vec::with_capacity(claimed.len());
        for (id, attempts) in claimed {
            let row: Option<(String, String, Option<String>)> = q!(opt, &mut tx, "SELECT topic, callback, secret FROM websub_subscriptions WHERE id = $1", id)?;
            if let Some((topic, callback, secret)) = row {
                pushes.push(HubPush { subscription_id: id, topic, callback, secret, attempts });
            }
        }
        tx.commit().await?;
        Ok(pushes)
    }

    /// The callback took the push.
    pub async fn hub_pushed(&self, subscription_id: i64) -> Result<()> {
        let mut tx = self.write().await?;
        q!(exec, &mut tx, "DELETE FROM websub_pushes WHERE subscription_id = $1", subscription_id)?;
        q!(exec, &mut tx, "UPDATE websub_subscriptions SET failures = 0 WHERE id = $1", subscription_id)?;
        tx.commit().await
    }

    /// The push failed: try again at `retry_at`, or give it up. A subscription whose pushes have
    /// been given up `drop_after` times in a row is dropped; returns whether it was.
    pub async fn hub_push_failed(&self, subscription_id: i64, error: &str, retry_at: Option<DateTime<Utc>>, drop_after: i64) -> Result<bool> {
        let error = super::storable(error);
        let mut tx = self.write().await?;
        if let Some(at) = retry_at {
            q!(exec, &mut tx, "UPDATE websub_pushes SET due_at = $2, last_error = $3 WHERE subscription_id = $1", subscription_id, at, &error)?;
            tx.commit().await?;
            return Ok(false);
        }
        q!(exec, &mut tx, "DELETE FROM websub_pushes WHERE subscription_id = $1", subscription_id)?;
        let failures: Option<i64> = q!(scalar_opt, &mut tx, "UPDATE websub_subscriptions SET failures = failures + 1 WHERE id = $1 RETURNING failures", subscription_id)?;
        let dropped = failures.is_some_and(|f| f >= drop_after);
        if dropped {
            q!(exec, &mut tx, "DELETE FROM websub_subscriptions WHERE id = $1", subscription_id)?;
        }
        tx.commit().await?;
        Ok(dropped)
    }

    /// Ends one subscription by id (its callback answered 410 Gone).
    pub async fn hub_drop(&self, subscription_id: i64) -> Result<()> {
        let mut tx = self.write().await?;
        q!(exec, &mut tx, "DELETE FROM websub_pushes WHERE subscription_id = $1", subscription_id)?;
        q!(exec, &mut tx, "DELETE FROM websub_subscriptions WHERE id = $1", subscription_id)?;
        tx.commit().await
    }
}
