//! Progress of one issue's send: counts by state, the current rate, the time left, and the most
//! frequent errors.

use chrono::{Duration, Utc};

use crate::app::App;
use crate::store::{DeliveryCounts, StoreError};

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SendStatus {
    pub issue: String,
    pub status: String,
    pub deliveries: DeliveryCounts,
    pub total: i64,
    /// Messages a minute over the last minute.
    pub rate_per_minute: i64,
    pub eta_seconds: Option<i64>,
    pub top_errors: Vec<ErrorCount>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorCount {
    pub error: String,
    pub count: i64,
}

pub async fn send_status(app: &App, slug: &str) -> Result<SendStatus, StoreError> {
    let issue = app.store.issue_by_slug(slug).await?;
    let deliveries = app.store.delivery_counts(issue.id).await?;
    let rate_per_minute = app.store.sent_since(issue.id, Utc::now() - Duration::minutes(1)).await?;
    let eta_seconds = (rate_per_minute > 0 && deliveries.remaining() > 0).then(|| deliveries.remaining() * 60 / rate_per_minute);
    let top_errors = app.store.top_errors(issue.id, 5).await?.into_iter().map(|(error, count)| ErrorCount { error, count }).collect();
    Ok(SendStatus { issue: issue.slug, status: issue.status, total: deliveries.total(), deliveries, rate_per_minute, eta_seconds, top_errors })
}
