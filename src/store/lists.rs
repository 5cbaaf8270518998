//! Lists and their subscriber counts.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::conn::q;
use super::events::{Actor, NewEvent, append};
use super::{Result, Store, StoreError, unique_violation, unknown_list};
use crate::domain::{LanguageTag, ListSlug};

#[derive(Debug)]
pub struct NewList {
    pub slug: ListSlug,
    pub name: String,
    pub language: LanguageTag,
    pub description: String,
    pub public: bool,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct List {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub language: String,
    pub public: bool,
    pub created_at: DateTime<Utc>,
}

/// Subscriptions of one list by status. `bounced` and `complained` count people who are still on
/// the list but may no longer be mailed at all.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ListCounts {
    pub slug: String,
    pub name: String,
    pub language: String,
    pub pending: i64,
    pub confirmed: i64,
    pub unsubscribed: i64,
    pub bounced: i64,
    pub complained: i64,
}

/// Subscriptions by status, for `lists l` joined with `COUNT_JOINS`.
const COUNTS: &str = "COALESCE(SUM(CASE WHEN u.status = 'pending' AND s.status = 'active' THEN 1 ELSE 0 END), 0) AS pending,
    COALESCE(SUM(CASE WHEN u.status = 'confirmed' AND s.status = 'active' THEN 1 ELSE 0 END), 0) AS confirmed,
    COALESCE(SUM(CASE WHEN u.status = 'unsubscribed' THEN 1 ELSE 0 END), 0) AS unsubscribed,
    COALESCE(SUM(CASE WHEN u.status <> 'unsubscribed' AND s.status = 'bounced' THEN 1 ELSE 0 END), 0) AS bounced,
    COALESCE(SUM(CASE WHEN u.status <> 'unsubscribed' AND s.status = 'complained' THEN 1 ELSE 0 END), 0) AS complained";
const COUNT_JOINS: &str = "LEFT JOIN subscriptions u ON u.list_id = l.id LEFT JOIN subscribers s ON s.id = u.subscriber_id";

impl Store {
    pub async fn create_list(&self, list: NewList, actor: &Actor) -> Result<List> {
        let now = super::now();
        let mut tx = self.write().await?;
        let created: List = q!(one, &mut tx, "INSERT INTO lists (slug, name, description, language, created_at, public) VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id, slug, name, description, language, public, created_at", list.slug.as_str(), &list.name, &list.description, list.language.as_str(), now, list.public)
        .map_err(|e| if unique_violation(&e) { StoreError::ListExists(list.slug.to_string()) } else { e.into() })?;
        let event = NewEvent { kind: "list.created", actor, subscriber_id: None, list_id: Some(created.id), issue_id: None, detail: json!({"slug": created.slug}) };
        append(&mut tx, event, now).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn list_by_slug(&self, slug: &ListSlug) -> Result<List> {
        q!(opt, &mut self.read().await?, "SELECT id, slug, name, description, language, public, created_at FROM lists WHERE slug = $1", slug.as_str())?
            .ok_or_else(|| unknown_list(slug))
    }

    /// Exact counts, computed now (a full pass over the subscriptions: the CLI's `list ls`).
    pub async fn list_counts(&self) -> Result<Vec<ListCounts>> {
        let sql = format!("SELECT l.slug, l.name, l.language, {COUNTS} FROM lists l {COUNT_JOINS} GROUP BY l.id, l.slug, l.name, l.language ORDER BY l.slug");
        Ok(q!(all, &mut self.read().await?, sql)?)
    }

    /// The counts as last recomputed (see `refresh_list_stats`); lists never counted yet are
    /// counted first. `counted_at` is the oldest of the rows.
    pub async fn list_counts_summary(&self) -> Result<(Vec<ListCounts>, Option<DateTime<Utc>>)> {
        let uncounted: i64 = q!(scalar, &mut self.read().await?, "SELECT COUNT(*) FROM lists l WHERE NOT EXISTS (SELECT 1 FROM list_stats x WHERE x.list_id = l.id)")?;
        if uncounted > 0 {
            self.refresh_list_stats().await?;
        }
        let rows: Vec<ListCounts> = q!(all, &mut self.read().await?, "SELECT l.slug, l.name, l.language, x.pending, x.confirmed, x.unsubscribed, x.bounced, x.complained
             FROM lists l JOIN list_stats x ON x.list_id = l.id ORDER BY l.slug")?;
        let at: Option<DateTime<Utc>> = q!(scalar, &mut self.read().await?, "SELECT MIN(counted_at) FROM list_stats")?;
        Ok((rows, at))
    }

    /// Recounts every list when something happened since the last count (or `force`d). The
    /// count reads outside the writer's turn; only the small upsert takes it.
    pub async fn refresh_list_stats_if_changed(&self) -> Result<bool> {
        let newest: i64 = q!(scalar, &mut self.read().await?, "SELECT COALESCE(MAX(id), 0) FROM events")?;
        let counted: Option<i64> = q!(scalar, &mut self.read().await?, "SELECT MIN(as_of_event) FROM list_stats")?;
        if counted.is_some_and(|c| c >= newest) {
            return Ok(false);
        }
        self.refresh_list_stats().await?;
        Ok(true)
    }

    pub async fn refresh_list_stats(&self) -> Result<()> {
        // Instances sharing PostgreSQL count in turn: one counts, the others find it taken.
        let Some(_turn) = self.elect(super::Job::ListStats).await? else { return Ok(()) };
        let newest: i64 = q!(scalar, &mut self.read().await?, "SELECT COALESCE(MAX(id), 0) FROM events")?;
        let sql = format!("SELECT l.id, {COUNTS} FROM lists l {COUNT_JOINS} GROUP BY l.id");
        let counts: Vec<(i64, i64, i64, i64, i64, i64)> = q!(all, &mut self.read().await?, sql)?;
        let now = super::now();
        let mut tx = self.write().await?;
        for (list_id, pending, confirmed, unsubscribed, bounced, complained) in counts {
            q!(exec, &mut tx, "INSERT INTO list_stats (list_id, pending, confirmed, unsubscribed, bounced, complained, as_of_event, counted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (list_id) DO UPDATE SET pending = excluded.pending, confirmed = excluded.confirmed, unsubscribed = excluded.unsubscribed,
                   bounced = excluded.bounced, complained = excluded.complained, as_of_event = excluded.as_of_event, counted_at = excluded.counted_at", list_id, pending, confirmed, unsubscribed, bounced, complained, newest, now)?;
        }
        tx.commit().await
    }

    /// Confirmed subscribers of one list who may be mailed: what a send to it reaches, exactly.
    pub async fn mailable_count(&self, list_id: i64) -> Result<i64> {
        Ok(q!(scalar, &mut self.read().await?, "SELECT COUNT(*) FROM subscriptions u JOIN subscribers s ON s.id = u.subscriber_id WHERE u.list_id = $1 AND u.status = 'confirmed' AND s.status = 'active'", list_id)?)
    }

    /// Every list, without counts.
    pub async fn lists(&self) -> Result<Vec<List>> {
        Ok(q!(all, &mut self.read().await?, "SELECT id, slug, name, description, language, public, created_at FROM lists ORDER BY slug")?)
    }
}
