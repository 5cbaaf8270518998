//! The bounce log and the event log, newest first, paged by id.

use axum::Json;
use axum::extract::State as Extract;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{ApiError, ApiQuery, Caller, MAX_PAGE_SIZE, PAGE_SIZE, Page};
use crate::domain::Permission;
use crate::operations::sends::parse_time;
use crate::store::{BounceLogEntry, EventRecord};
use crate::web::State;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// Only entries at or after this time (RFC 3339)
    since: Option<String>,
    /// Only events of this type (events only), e.g. `subscription.confirmed`
    #[serde(rename = "type")]
    kind: Option<String>,
    /// `next_cursor` of the previous page
    cursor: Option<String>,
    /// Page size, 1–500 (default 50)
    limit: Option<i64>,
}

impl LogParams {
    fn read(&self) -> Result<(Option<chrono::DateTime<chrono::Utc>>, Option<i64>, i64), ApiError> {
        let since = self.since.as_deref().filter(|s| !s.is_empty()).map(|s| parse_time("since", s)).transpose()?;
        let before = self.cursor.as_deref().filter(|c| !c.is_empty()).map(|c| c.parse::<i64>().map_err(|_| ApiError::invalid("cursor", "the cursor is not one this API gave"))).transpose()?;
        Ok((since, before, self.limit.unwrap_or(PAGE_SIZE).clamp(1, MAX_PAGE_SIZE)))
    }
}

fn page<T: utoipa::ToSchema>(mut items: Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> Page<T> {
    let next_cursor = (items.len() as i64 > limit).then(|| {
        items.truncate(limit as usize);
        id(&items[items.len() - 1]).to_string()
    });
    Page { items, next_cursor }
}

#[utoipa::path(get, path = "/api/v1/bounces", tag = "logs", params(LogParams), responses((status = 200, body = Page<BounceLogEntry>)))]
pub async fn bounces(caller: Caller, Extract(state): Extract<State>, ApiQuery(p): ApiQuery<LogParams>) -> Result<Json<Page<BounceLogEntry>>, ApiError> {
    caller.may(Permission::Read)?;
    let (since, before, limit) = p.read()?;
    let items = state.app.store.bounce_log(since, before, limit + 1).await?;
    Ok(Json(page(items, limit, |b| b.id)))
}

#[utoipa::path(get, path = "/api/v1/events", tag = "logs", params(LogParams), responses((status = 200, body = Page<EventRecord>)))]
pub async fn events(caller: Caller, Extract(state): Extract<State>, ApiQuery(p): ApiQuery<LogParams>) -> Result<Json<Page<EventRecord>>, ApiError> {
    caller.may(Permission::Read)?;
    let (since, before, limit) = p.read()?;
    let items = state.app.store.event_log(since, p.kind.as_deref().filter(|k| !k.is_empty()), before, limit + 1).await?;
    Ok(Json(page(items, limit, |e| e.id)))
}
