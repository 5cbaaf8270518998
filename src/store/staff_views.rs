//! What staff browse: subscriber search, every issue, the bounce log and the event log. Each
//! pages with a cursor on an indexed column, so page 1,000 costs what page 1 does.

use chrono::{DateTime, Utc};

use super::events::EventRecord;
use super::conn::q;
use super::{Issue, Result, Store};

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SubscriberRow {
    pub email: String,
    pub name: String,
    /// active, bounced or complained
    pub status: String,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub email_key: String,
}

/// `status` is a subscription status (pending, confirmed, unsubscribed: on `list` when given, on
/// any list otherwise) or a subscriber status (active, bounced, complained).
#[derive(Debug, Default)]
pub struct SubscriberQuery<'a> {
    pub list_id: Option<i64>,
    pub status: Option<&'a str>,
    /// The start of the address (case-insensitive).
    pub prefix: Option<&'a str>,
    /// The last `email_key` of the previous page.
    pub after: Option<&'a str>,
    pub limit: i64,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct BounceLogEntry {
    pub id: i64,
    /// None once the subscriber has been erased.
    pub email: Option<String>,
    pub kind: String,
    pub reason: String,
    pub source: String,
    pub status_code: Option<String>,
    pub diagnostic: Option<String>,
    pub receiving_domain: Option<String>,
    pub issue: Option<String>,
    pub received_at: DateTime<Utc>,
    /// False when only the address a report named ties it to the subscriber (evidence only).
    pub verified: bool,
}

const SUBSCRIPTION_STATUSES: [&str; 3] = ["pending", "confirmed", "unsubscribed"];

impl Store {
    pub async fn search_subscribers(&self, q: &SubscriberQuery<'_>) -> Result<Vec<SubscriberRow>> {
        if q.prefix.is_some_and(|p| p.contains('\0')) {
            // No address holds a NUL character (and PostgreSQL cannot compare with one).
            return Ok(Vec::new());
        }
        let prefix = q.prefix.map(str::to_lowercase).unwrap_or_default();
        // Every key starting with `prefix` sorts below prefix + U+10FFFF (bytewise, as SQLite's
        // BINARY collation compares), so the range stays on the unique index of `email_key`.
        let upper = format!("{prefix}\u{10FFFF}");
        let lower = match q.after {
            Some(after) if after > prefix.as_str() => after.to_string(),
            _ => prefix.clone(),
        };
        let strict = q.after.is_some_and(|a| a >= prefix.as_str());
        let (sub_status, person_status) = match q.status {
            Some(s) if SUBSCRIPTION_STATUSES.contains(&s) => (Some(s), None),
            other => (None, other),
        };
        Ok(q!(all, &mut self.read().await?, "SELECT s.email, s.name, s.status, s.created_at, s.email_key FROM subscribers s
             WHERE (s.email_key > $1 OR (NOT $2 AND s.email_key = $1)) AND s.email_key < $3
               AND ($4 IS NULL OR s.status = $4)
               AND (($5 IS NULL AND $6 IS NULL) OR EXISTS (
                    SELECT 1 FROM subscriptions x WHERE x.subscriber_id = s.id
                      AND ($5 IS NULL OR x.list_id = $5) AND ($6 IS NULL OR x.status = $6)))
             ORDER BY s.email_key LIMIT $7", lower, strict, upper, person_status, q.list_id, sub_status, q.limit)?)
    }

    /// Every issue, newest first.
    pub async fn all_issues(&self, limit: i64) -> Result<Vec<Issue>> {
        // The rendered bodies stay in the database: a listing needs none of them.
        let columns = super::issues::ISSUE_COLUMNS.replace("i.body_html, i.email_html, i.email_text", "'' AS body_html, '' AS email_html, '' AS email_text");
        let sql = format!("SELECT {columns} FROM issues i JOIN lists l ON l.id = i.list_id ORDER BY i.published_on DESC, i.id DESC LIMIT $1");
        Ok(q!(all, &mut self.read().await?, sql, limit)?)
    }

    /// Newest first; `before` is the last id of the previous page. With `since`, the rows are
    /// found by time on its index first (a script polling for what is new reads only that).
    pub async fn bounce_log(&self, since: Option<DateTime<Utc>>, before: Option<i64>, limit: i64) -> Result<Vec<BounceLogEntry>> {
        const COLUMNS: &str = "SELECT b.id, s.email, b.kind, b.reason, b.source, b.status_code, b.diagnostic, b.receiving_domain, i.slug AS issue, b.received_at, b.verified
             FROM bounces b LEFT JOIN subscribers s ON s.id = b.subscriber_id LEFT JOIN issues i ON i.id = b.issue_id";
        let sql = match since {
            Some(_) => format!("{COLUMNS} WHERE b.received_at >= $2 AND ($1 IS NULL OR b.id < $1) ORDER BY b.id DESC LIMIT $3"),
            None => format!("{COLUMNS} WHERE ($1 IS NULL OR b.id < $1) AND $2 IS NULL ORDER BY b.id DESC LIMIT $3"),
        };
        Ok(q!(all, &mut self.read().await?, sql, before, since, limit)?)
    }

    /// Newest first; `before` is the last id of the previous page; `since` as for bounces.
    pub async fn event_log(&self, since: Option<DateTime<Utc>>, kind: Option<&str>, before: Option<i64>, limit: i64) -> Result<Vec<EventRecord>> {
        const COLUMNS: &str = "SELECT e.id, e.at, e.type, e.actor, l.slug AS list, e.detail FROM events e LEFT JOIN lists l ON l.id = e.list_id";
        let sql = match since {
            Some(_) => format!("{COLUMNS} WHERE e.at >= $2 AND ($1 IS NULL OR e.id < $1) AND ($3 IS NULL OR e.type = $3) ORDER BY e.id DESC LIMIT $4"),
            None => format!("{COLUMNS} WHERE ($1 IS NULL OR e.id < $1) AND $2 IS NULL AND ($3 IS NULL OR e.type = $3) ORDER BY e.id DESC LIMIT $4"),
        };
        Ok(q!(all, &mut self.read().await?, sql, before, since, kind, limit)?)
    }
}
