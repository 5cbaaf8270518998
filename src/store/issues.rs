//! Issues: their source, their rendered forms, and which of them the public may see.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;

use super::conn::{Job, q, serialise};
use super::events::{Actor, NewEvent, append};
use super::{Result, Store, StoreError};

/// An issue about to be stored, rendered already.
#[derive(Debug)]
pub struct NewIssue<'a> {
    pub list_id: i64,
    pub slug: &'a str,
    pub title: &'a str,
    pub subtitle: &'a str,
    pub volume: Option<u32>,
    pub number: Option<u32>,
    pub published_on: NaiveDate,
    pub language: &'a str,
    pub summary: &'a str,
    pub source_path: Option<&'a str>,
    pub source_markdown: &'a str,
    /// SHA-256 of the whole file the issue came from, when it came from one.
    pub source_digest: Option<&'a str>,
    pub body_html: &'a str,
    pub email_html: &'a str,
    pub email_text: &'a str,
    pub send_at: Option<DateTime<Utc>>,
    /// Public on its date without a send (the operator's own files); once released, an issue
    /// stays released.
    pub released: bool,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Issue {
    pub id: i64,
    pub list_id: i64,
    pub list_slug: String,
    pub list_name: String,
    /// Whether the issue's list is public (a private list's issues are never on public pages).
    #[serde(skip)]
    pub list_public: bool,
    pub slug: String,
    pub title: String,
    pub subtitle: String,
    pub volume: Option<i64>,
    pub number: Option<i64>,
    pub published_on: NaiveDate,
    pub language: String,
    pub summary: String,
    #[serde(skip)]
    pub body_html: String,
    #[serde(skip)]
    pub email_html: String,
    #[serde(skip)]
    pub email_text: String,
    pub status: String,
    pub send_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IssueSaved {
    Created,
    Updated,
}

pub(super) const ISSUE_COLUMNS: &str = "i.id, i.list_id, l.slug AS list_slug, l.name AS list_name, l.public AS list_public, i.slug, i.title, i.subtitle, i.volume, i.number,
    i.published_on, i.language, i.summary, i.body_html, i.email_html, i.email_text, i.status, i.send_at, i.created_at, i.updated_at";

/// Which issues the archive and feeds show (binds: $1 list id or NULL, $2 today, $3 now): those
/// of public lists whose date has come and whose send time, if any, has passed, and which the
/// operator published or an owner scheduled or sent (an editor's draft is not public).
const PUBLIC: &str = "l.public AND ($1 IS NULL OR i.list_id = $1) AND i.published_on <= $2
    AND (i.send_at IS NULL OR i.send_at <= $3) AND i.status <> 'cancelled'
    AND (i.released OR i.status IN ('scheduled', 'sending', 'paused', 'sent'))";

/// The same for one list, public or private (binds: $1 list id, $2 today, $3 now): what its own
/// readers' personal feeds show.
const OUT: &str = "i.list_id = $1 AND i.published_on <= $2
    AND (i.send_at IS NULL OR i.send_at <= $3) AND i.status <> 'cancelled'
    AND (i.released OR i.status IN ('scheduled', 'sending', 'paused', 'sent'))";

/// Statuses in which an issue's content can still change: nobody has been sent it yet.
const EDITABLE: [&str; 2] = ["draft", "scheduled"];

impl Store {
    /// Creates the issue, or replaces a draft's content; refuses once sending has started.
    pub async fn save_issue(&self, issue: NewIssue<'_>, actor: &Actor) -> Result<(i64, IssueSaved)> {
        let now = super::now();
        let status = if issue.send_at.is_some() { "scheduled" } else { "draft" };
        let mut tx = self.write().await?;
        let existing: Option<String> = q!(scalar_opt, &mut tx, [issues::STATUS_BY_SLUG], issue.slug)?;
        let saved = match existing {
            Some(current) if !EDITABLE.contains(&current.as_str()) => {
                return Err(StoreError::IssueLocked { slug: issue.slug.to_string(), status: current });
            }
            Some(_) => IssueSaved::Updated,
            None => IssueSaved::Created,
        };
        let id: i64 = q!(scalar, &mut tx, "INSERT INTO issues (list_id, slug, title, subtitle, volume, number, published_on, language, summary, source_path,
                source_markdown, body_html, email_html, email_text, send_at, status, created_at, updated_at, source_digest, released)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18, $19)
             ON CONFLICT (slug) DO UPDATE SET list_id = excluded.list_id, title = excluded.title, subtitle = excluded.subtitle,
                volume = excluded.volume, number = excluded.number, published_on = excluded.published_on, language = excluded.language,
                summary = excluded.summary, source_path = excluded.source_path, source_markdown = excluded.source_markdown,
                body_html = excluded.body_html, email_html = excluded.email_html, email_text = excluded.email_text,
                send_at = excluded.send_at, status = excluded.status, updated_at = excluded.updated_at,
                source_digest = excluded.source_digest, released = (issues.released OR excluded.released)
             RETURNING id", issue.list_id, issue.slug, issue.title, issue.subtitle, issue.volume.map(i64::from), issue.number.map(i64::from), issue.published_on, issue.language, issue.summary, issue.source_path, issue.source_markdown, issue.body_html, issue.email_html, issue.email_text, issue.send_at, status, now, issue.source_digest, issue.released)?;
        let kind = if saved == IssueSaved::Created { "issue.created" } else { "issue.updated" };
        append(&mut tx, NewEvent { kind, actor, subscriber_id: None, list_id: Some(issue.list_id), issue_id: Some(id), detail: json!({"slug": issue.slug, "status": status}) }, now).await?;
        tx.commit().await?;
        Ok((id, saved))
    }

    /// Whether an issue was last added from a file with exactly this content.
    pub async fn issue_source_known(&self, digest: &str) -> Result<bool> {
        let found: Option<i64> = q!(scalar_opt, &mut self.read().await?, "SELECT id FROM issues WHERE source_digest = $1 LIMIT 1", digest)?;
        Ok(found.is_some())
    }

    pub async fn issue_by_id(&self, id: i64) -> Result<Issue> {
        let sql = format!("SELECT {ISSUE_COLUMNS} FROM issues i JOIN lists l ON l.id = i.list_id WHERE i.id = $1");
        q!(opt, &mut self.read().await?, sql, id)?.ok_or_else(|| StoreError::UnknownIssue(id.to_string()))
    }

    pub async fn issue_by_slug(&self, slug: &str) -> Result<Issue> {
        if slug.contains('\0') {
            return Err(StoreError::UnknownIssue(slug.replace('\0', "")));
        }
        let sql = format!("SELECT {ISSUE_COLUMNS} FROM issues i JOIN lists l ON l.id = i.list_id WHERE i.slug = $1");
        q!(opt, &mut self.read().await?, sql, slug)?.ok_or_else(|| StoreError::UnknownIssue(slug.to_string()))
    }

    /// Issues the public may read, newest first: on a public list, dated today or earlier, and
    /// not scheduled for later (an issue goes public when it is due to go out), nor cancelled.
    pub async fn public_issues(&self, list_id: Option<i64>, now: DateTime<Utc>, limit: i64, offset: i64) -> Result<Vec<Issue>> {
        let sql = format!("SELECT {ISSUE_COLUMNS} FROM issues i JOIN lists l ON l.id = i.list_id WHERE {PUBLIC} ORDER BY i.published_on DESC, i.id DESC LIMIT $4 OFFSET $5");
        Ok(q!(all, &mut self.read().await?, sql, list_id, now.date_naive(), now, limit, offset)?)
    }

    /// An issue by slug if the archive may show it now.
    pub async fn public_issue(&self, slug: &str, now: DateTime<Utc>) -> Result<Option<Issue>> {
        if slug.contains('\0') {
            return Ok(None);
        }
        let sql = format!("SELECT {ISSUE_COLUMNS} FROM issues i JOIN lists l ON l.id = i.list_id WHERE {PUBLIC} AND i.slug = $4");
        Ok(q!(opt, &mut self.read().await?, sql, None::<i64>, now.date_naive(), now, slug)?)
    }

    pub async fn count_public_issues(&self, list_id: Option<i64>, now: DateTime<Utc>) -> Result<i64> {
        Ok(self.archive_version(list_id, now).await?.0)
    }

    /// How many issues are public now, and when the latest of them changed: what an archive
    /// page or feed depends on, so a cache and the HTTP validators can be keyed by it.
    pub async fn archive_version(&self, list_id: Option<i64>, now: DateTime<Utc>) -> Result<(i64, Option<DateTime<Utc>>)> {
        let sql = format!("SELECT COUNT(*), MAX(i.updated_at) FROM issues i JOIN lists l ON l.id = i.list_id WHERE {PUBLIC}");
        Ok(q!(one, &mut self.read().await?, sql, list_id, now.date_naive(), now)?)
    }

    /// The issues of one list that are out (a private list's too), newest first.
    pub async fn list_issues(&self, list_id: i64, now: DateTime<Utc>, limit: i64, offset: i64) -> Result<Vec<Issue>> {
        let sql = format!("SELECT {ISSUE_COLUMNS} FROM issues i JOIN lists l ON l.id = i.list_id WHERE {OUT} ORDER BY i.published_on DESC, i.id DESC LIMIT $4 OFFSET $5");
        Ok(q!(all, &mut self.read().await?, sql, list_id, now.date_naive(), now, limit, offset)?)
    }

    /// [`Store::archive_version`] of one list's issues that are out, public or not.
    pub async fn list_version(&self, list_id: i64, now: DateTime<Utc>) -> Result<(i64, Option<DateTime<Utc>>)> {
        let sql = format!("SELECT COUNT(*), MAX(i.updated_at) FROM issues i JOIN lists l ON l.id = i.list_id WHERE {OUT}");
        Ok(q!(one, &mut self.read().await?, sql, list_id, now.date_naive(), now)?)
    }

    pub async fn public_lists(&self) -> Result<Vec<super::List>> {
        Ok(q!(all, &mut self.read().await?, "SELECT id, slug, name, description, language, public, created_at FROM lists WHERE public ORDER BY slug")?)
    }

    /// The signing key kept in the database when `security.secret_key` is not set: created once,
    /// at random, so a fresh install is secure without configuration.
    pub async fn generated_secret_key(&self) -> Result<String> {
        let mut tx = self.write().await?;
        serialise(&mut tx, Job::SecretKey).await?;
        let existing: Option<String> = q!(scalar_opt, &mut tx, "SELECT value FROM settings WHERE key = 'secret_key'")?;
        if let Some(key) = existing {
            return Ok(key);
        }
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|e| StoreError::Corrupt(format!("no randomness for a secret key: {e}")))?;
        let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        q!(exec, &mut tx, "INSERT INTO settings (key, value) VALUES ('secret_key', $1)", &key)?;
        tx.commit().await?;
        Ok(key)
    }
}

impl Store {
    /// The Markdown body an issue was made from (its front matter is rebuilt from the columns).
    pub async fn issue_markdown(&self, slug: &str) -> Result<String> {
        if slug.contains('\0') {
            return Err(StoreError::UnknownIssue(slug.replace('\0', "")));
        }
        q!(scalar_opt, &mut self.read().await?, "SELECT source_markdown FROM issues WHERE slug = $1", slug)?.ok_or_else(|| StoreError::UnknownIssue(slug.to_string()))
    }
}
