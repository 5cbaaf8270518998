//! The append-only event log.

use chrono::{DateTime, Utc};
use serde_json::Value;
use super::conn::{AsConn, q};
use super::{Result, Store};
use crate::domain::personal::scrub_addresses;

/// Who caused an event: `cli`, `import`, `web`, `system`, or `staff:<email>` later.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

impl Actor {
    pub fn cli() -> Self {
        Self("cli".into())
    }

    /// Who, without the " from <address>" the web adds: the key for limits per staff member or
    /// token (an address changes with every IPv6 source a client picks).
    pub fn who(&self) -> &str {
        self.0.split(" from ").next().unwrap_or_default()
    }
}

/// An event about to be written. `detail` never holds an address or a name: erasing a person
/// must leave nothing of them in the log.
#[derive(Debug)]
pub struct NewEvent<'a> {
    pub kind: &'a str,
    pub actor: &'a Actor,
    pub subscriber_id: Option<i64>,
    pub list_id: Option<i64>,
    pub issue_id: Option<i64>,
    pub detail: Value,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EventRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    pub actor: String,
    pub list: Option<String>,
    #[schema(value_type = Object)]
    pub detail: sqlx::types::Json<Value>,
}

pub(super) async fn append(c: &mut impl AsConn, event: NewEvent<'_>, at: DateTime<Utc>) -> Result<()> {
    // No reader's address in the append-only log: it could never be erased from there.
    // JSON escapes a NUL character as \u0000, which PostgreSQL's jsonb refuses: it goes.
    let detail = scrub_addresses(&event.detail.to_string()).replace("\\u0000", "");
    q!(exec, c, [events::APPEND], at, event.kind, &event.actor.0, event.subscriber_id, event.list_id, event.issue_id, detail)?;
    Ok(())
}

impl Store {
    /// The id of the newest event: anything staff would see change has one.
    pub async fn newest_event_id(&self) -> Result<i64> {
        Ok(q!(scalar, &mut self.read().await?, "SELECT COALESCE(MAX(id), 0) FROM events")?)
    }

    pub async fn record_event(&self, event: NewEvent<'_>) -> Result<()> {
        let mut tx = self.write().await?;
        append(&mut tx, event, super::now()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn events_of_subscriber(&self, subscriber_id: i64, limit: i64) -> Result<Vec<EventRecord>> {
        Ok(q!(
            all,
            &mut self.read().await?,
            "SELECT e.id, e.at, e.type, e.actor, l.slug AS list, e.detail
             FROM events e LEFT JOIN lists l ON l.id = e.list_id
             WHERE e.subscriber_id = $1 ORDER BY e.id DESC LIMIT $2",
            subscriber_id,
            limit
        )?)
    }
}
