//! What the links in an email do: confirm a sign-up, leave a list, choose lists. Each call is
//! made with ids taken from a verified token, and each change is an event.

use serde_json::json;

use super::conn::q;
use super::events::{Actor, NewEvent, append};
use super::{List, Result, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmOutcome {
    Confirmed,
    AlreadyConfirmed,
    /// The person left the list (or was never on it) since the link was sent: nothing changes.
    NotPending,
}

/// A list as the preferences page shows it to one person.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListChoice {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub language: String,
    /// pending, confirmed, unsubscribed, or None when never subscribed.
    pub status: Option<String>,
    pub public: bool,
}

impl Store {
    pub async fn confirm_subscription(&self, subscriber_id: i64, list_id: i64, actor: &Actor) -> Result<ConfirmOutcome> {
        let now = super::now();
        let mut tx = self.write().await?;
        let status: Option<String> = q!(scalar_opt, &mut tx, [subscribers::SUBSCRIPTION_STATUS], list_id, subscriber_id)?;
        let outcome = match status.as_deref() {
            Some("pending") => ConfirmOutcome::Confirmed,
            Some("confirmed") => ConfirmOutcome::AlreadyConfirmed,
            _ => ConfirmOutcome::NotPending,
        };
        if outcome == ConfirmOutcome::Confirmed {
            q!(exec, &mut tx, "UPDATE subscriptions SET status = 'confirmed', confirmed_at = $1, updated_at = $1 WHERE list_id = $2 AND subscriber_id = $3", now, list_id, subscriber_id)?;
            let event = NewEvent { kind: "subscription.confirmed", actor, subscriber_id: Some(subscriber_id), list_id: Some(list_id), issue_id: None, detail: json!({"via": "confirm_link"}) };
            append(&mut tx, event, now).await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// Takes a person off one list; `via` says how (one_click, unsubscribe_page, preferences,
    /// mailto). Returns whether anything changed: a repeated request is answered the same way.
    pub async fn unsubscribe_by_id(&self, subscriber_id: i64, list_id: i64, via: &str, actor: &Actor) -> Result<bool> {
        Ok(self.unsubscribe_many(&[(subscriber_id, list_id)], via, actor).await?[0])
    }

    /// Many unsubscribes, (subscriber, list) each, in one transaction: what a burst of one-click
    /// requests becomes, so they share one commit.
    pub async fn unsubscribe_many(&self, pairs: &[(i64, i64)], via: &str, actor: &Actor) -> Result<Vec<bool>> {
        let now = super::now();
        let mut tx = self.write().await?;
        let mut changed = vec![false; pairs.len()];
        // In one order everywhere, so two instances' batches cannot deadlock on each other's rows.
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        order.sort_by_key(|&i| pairs[i]);
        for i in order {
            let (subscriber_id, list_id) = pairs[i];
            let did = q!(exec, &mut tx, "UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = $1, updated_at = $1
                 WHERE list_id = $2 AND subscriber_id = $3 AND status <> 'unsubscribed'", now, list_id, subscriber_id)?
                > 0;
            if did {
                let event = NewEvent { kind: "subscription.unsubscribed", actor, subscriber_id: Some(subscriber_id), list_id: Some(list_id), issue_id: None, detail: json!({"via": via}) };
                append(&mut tx, event, now).await?;
            }
            changed[i] = did;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// The lists a person may choose from: every public list, and any list they are on.
    pub async fn list_choices(&self, subscriber_id: i64) -> Result<Vec<ListChoice>> {
        Ok(q!(all, &mut self.read().await?, "SELECT l.id, l.slug, l.name, l.description, l.language, u.status, l.public
             FROM lists l LEFT JOIN subscriptions u ON u.list_id = l.id AND u.subscriber_id = $1
             WHERE l.public OR u.status IS NOT NULL ORDER BY l.name", subscriber_id)?)
    }

    /// Applies the preferences form: on exactly the `wanted` lists among `choices`. Joining a list
    /// from here needs no second confirmation: the link came to this mailbox. Returns the number
    /// of changes.
    pub async fn set_list_choices(&self, subscriber_id: i64, wanted: &[i64], actor: &Actor) -> Result<usize> {
        let choices = self.list_choices(subscriber_id).await?;
        let now = super::now();
        let mut tx = self.write().await?;
        let active: Option<String> = q!(scalar_opt, &mut tx, [subscribers::STATUS_BY_ID], subscriber_id)?;
        match active.as_deref() {
            None => return Err(StoreError::UnknownSubscriber(format!("subscriber {subscriber_id}"))),
            Some(status) if status != "active" && !wanted.is_empty() => {
                return Err(StoreError::Suppressed { address: format!("subscriber {subscriber_id}"), reason: status.to_string() });
            }
            _ => {}
        }
        let mut changes = 0;
        for choice in &choices {
            let on = matches!(choice.status.as_deref(), Some("confirmed" | "pending"));
            let want = wanted.contains(&choice.id);
            let (kind, sql) = match (on, want) {
                (true, false) => ("subscription.unsubscribed", "UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = $1, updated_at = $1 WHERE list_id = $2 AND subscriber_id = $3"),
                (false, true) => (
                    "subscription.confirmed",
                    "INSERT INTO subscriptions (list_id, subscriber_id, status, consent_source, consent_at, confirmed_at, updated_at)
                     VALUES ($2, $3, 'confirmed', 'form', $1, $1, $1)
                     ON CONFLICT (list_id, subscriber_id) DO UPDATE SET status = 'confirmed', consent_source = 'form', consent_at = $1,
                        confirmed_at = $1, unsubscribed_at = NULL, updated_at = $1",
                ),
                _ => continue,
            };
            q!(exec, &mut tx, sql, now, choice.id, subscriber_id)?;
            let event = NewEvent { kind, actor, subscriber_id: Some(subscriber_id), list_id: Some(choice.id), issue_id: None, detail: json!({"via": "preferences"}) };
            append(&mut tx, event, now).await?;
            changes += 1;
        }
        tx.commit().await?;
        Ok(changes)
    }

    /// The list, while this person is a confirmed subscriber of it who may be mailed: what a
    /// personal feed needs to keep working.
    pub async fn subscribed_list(&self, subscriber_id: i64, list_id: i64) -> Result<Option<List>> {
        Ok(q!(
            opt,
            &mut self.read().await?,
            "SELECT l.id, l.slug, l.name, l.description, l.language, l.public, l.created_at FROM lists l
             JOIN subscriptions u ON u.list_id = l.id JOIN subscribers s ON s.id = u.subscriber_id
             WHERE l.id = $1 AND u.subscriber_id = $2 AND u.status = 'confirmed' AND s.status = 'active'",
            list_id,
            subscriber_id
        )?)
    }

    pub async fn list_by_id(&self, id: i64) -> Result<List> {
        q!(opt, &mut self.read().await?, "SELECT id, slug, name, description, language, public, created_at FROM lists WHERE id = $1", id)?
            .ok_or_else(|| StoreError::UnknownList(format!("#{id}")))
    }
}

impl Store {
    /// The address of a subscriber known by id (from a verified link), if not erased.
    pub async fn subscriber_email(&self, subscriber_id: i64) -> Result<Option<String>> {
        Ok(q!(scalar_opt, &mut self.read().await?, "SELECT email FROM subscribers WHERE id = $1", subscriber_id)?)
    }
}

impl Store {
    /// A trivial query: the database answers.
    pub async fn ping(&self) -> Result<()> {
        q!(exec, &mut self.read().await?, "SELECT 1")?;
        Ok(())
    }

    /// Deliveries of all issues by state (every state present, zero when none).
    pub async fn delivery_state_totals(&self) -> Result<Vec<(String, i64)>> {
        let mut found: Vec<(String, i64)> = q!(all, &mut self.read().await?, "SELECT state, COUNT(*) FROM deliveries WHERE issue_id NOT IN (SELECT issue_id FROM issue_summaries) GROUP BY state")?;
        // Summarised (pruned) issues' deliveries are counted from their summaries.
        let pruned: (i64, i64, i64, i64, i64, i64) = q!(
            one,
            &mut self.read().await?,
            "SELECT CAST(COALESCE(SUM(queued), 0) AS BIGINT), CAST(COALESCE(SUM(sending), 0) AS BIGINT), CAST(COALESCE(SUM(sent), 0) AS BIGINT),
                    CAST(COALESCE(SUM(failed), 0) AS BIGINT), CAST(COALESCE(SUM(bounced), 0) AS BIGINT), CAST(COALESCE(SUM(skipped), 0) AS BIGINT)
             FROM issue_summaries"
        )?;
        let (q0, q1, q2, q3, q4, q5) = pruned;
        for (state, n) in [("queued", q0), ("sending", q1), ("sent", q2), ("failed", q3), ("bounced", q4), ("skipped", q5)] {
            match found.iter_mut().find(|(s, _)| s == state) {
                Some((_, m)) => *m += n,
                None => found.push((state.to_string(), n)),
            }
        }
        Ok(["queued", "sending", "sent", "failed", "bounced", "skipped"]
            .iter()
            .map(|s| (s.to_string(), found.iter().find(|(f, _)| f == s).map_or(0, |(_, n)| *n)))
            .collect())
    }

    pub async fn bounce_totals(&self) -> Result<Vec<(String, i64)>> {
        Ok(q!(all, &mut self.read().await?, "SELECT kind, COUNT(*) FROM bounces GROUP BY kind ORDER BY kind")?)
    }
}
