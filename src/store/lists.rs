//! Lists and their subscriber counts.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::events::{Actor, NewEvent, append};
use super::{Result, Store, StoreError, unique_violation, unknown_list};
use crate::domain::{LanguageTag, ListSlug};

#[derive(Debug)]
pub struct NewList {
    pub slug: ListSlug,
    pub name: String,
    pub language: LanguageTag,
    pub description: String,
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

impl Store {
    pub async fn create_list(&self, list: NewList, actor: &Actor) -> Result<List> {
        let now = super::now();
        let mut tx = self.write().await?;
        let created: List = sqlx::query_as(
            "INSERT INTO lists (slug, name, description, language, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id, slug, name, description, language, public, created_at",
        )
        .bind(list.slug.as_str())
        .bind(&list.name)
        .bind(&list.description)
        .bind(list.language.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| if unique_violation(&e) { StoreError::ListExists(list.slug.to_string()) } else { e.into() })?;
        let event = NewEvent { kind: "list.created", actor, subscriber_id: None, list_id: Some(created.id), issue_id: None, detail: json!({"slug": created.slug}) };
        append(&mut tx, event, now).await?;
        tx.commit().await?;
        Ok(created)
    }

    pub async fn list_by_slug(&self, slug: &ListSlug) -> Result<List> {
        sqlx::query_as("SELECT id, slug, name, description, language, public, created_at FROM lists WHERE slug = $1")
            .bind(slug.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| unknown_list(slug))
    }

    pub async fn list_counts(&self) -> Result<Vec<ListCounts>> {
        Ok(sqlx::query_as(
            "SELECT l.slug, l.name, l.language,
                COALESCE(SUM(CASE WHEN u.status = 'pending' AND s.status = 'active' THEN 1 ELSE 0 END), 0) AS pending,
                COALESCE(SUM(CASE WHEN u.status = 'confirmed' AND s.status = 'active' THEN 1 ELSE 0 END), 0) AS confirmed,
                COALESCE(SUM(CASE WHEN u.status = 'unsubscribed' THEN 1 ELSE 0 END), 0) AS unsubscribed,
                COALESCE(SUM(CASE WHEN u.status <> 'unsubscribed' AND s.status = 'bounced' THEN 1 ELSE 0 END), 0) AS bounced,
                COALESCE(SUM(CASE WHEN u.status <> 'unsubscribed' AND s.status = 'complained' THEN 1 ELSE 0 END), 0) AS complained
             FROM lists l
             LEFT JOIN subscriptions u ON u.list_id = l.id
             LEFT JOIN subscribers s ON s.id = u.subscriber_id
             GROUP BY l.id, l.slug, l.name, l.language
             ORDER BY l.slug",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
