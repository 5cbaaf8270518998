//! Reading subscriptions out in pages, for `subscriber export`.
//!
//! Pages are keyed on (list, subscriber) rather than one long cursor, so an export of a million
//! rows holds neither the rows in memory nor a read transaction open against the writers.

use chrono::{DateTime, Utc};

use super::conn::q;
use super::{Result, Store};

/// Which subscriptions to export. `status` is the effective status: `bounced` and `complained`
/// (the person) win over `pending` and `confirmed` (the subscription).
#[derive(Debug, Default, Clone)]
pub struct ExportFilter {
    pub list_id: Option<i64>,
    pub status: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct ExportRow {
    pub list_id: i64,
    pub subscriber_id: i64,
    pub email: String,
    pub name: String,
    pub attributes: sqlx::types::Json<serde_json::Map<String, serde_json::Value>>,
    pub list: String,
    pub status: String,
    pub consent_source: String,
    pub consent_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub unsubscribed_at: Option<DateTime<Utc>>,
}

const EFFECTIVE_STATUS: &str =
    "CASE WHEN s.status <> 'active' AND u.status <> 'unsubscribed' THEN s.status ELSE u.status END";

impl Store {
    /// The attribute names found on the exported rows, sorted: the CSV's extra columns.
    pub async fn export_attribute_keys(&self, filter: &ExportFilter) -> Result<Vec<String>> {
        Ok(q!(scalar_all, &mut self.read().await?, [export::ATTRIBUTE_KEYS], filter.list_id, &filter.status)?)
    }

    /// The next page after `after` (list id, subscriber id), in that order.
    pub async fn export_page(&self, filter: &ExportFilter, after: (i64, i64), limit: i64) -> Result<Vec<ExportRow>> {
        let sql = format!(
            "SELECT u.list_id, u.subscriber_id, s.email, s.name, s.attributes, l.slug AS list, {EFFECTIVE_STATUS} AS status,
                    u.consent_source, u.consent_at, u.confirmed_at, u.unsubscribed_at
             FROM subscriptions u JOIN subscribers s ON s.id = u.subscriber_id JOIN lists l ON l.id = u.list_id
             WHERE (u.list_id > $1 OR (u.list_id = $1 AND u.subscriber_id > $2))
               AND ($3 IS NULL OR u.list_id = $3) AND ($4 IS NULL OR {EFFECTIVE_STATUS} = $4)
             ORDER BY u.list_id, u.subscriber_id LIMIT $5"
        );
        Ok(q!(all, &mut self.read().await?, sql, after.0, after.1, filter.list_id, &filter.status, limit)?)
    }
}
