//! The bounce log and the event log, newest first, paged by id.

use axum::Json;
use axum::extract::State as Extract;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{ApiError, ApiQuery, BadRequest, Caller, Invalid, Page, Unauthorized, page_size};
use crate::domain::Permission;
use crate::operations::sends::parse_time;
use crate::store::{BounceLogEntry, EventRecord};
use crate::web::State;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// Only entries at or after this time (empty: all)
    #[param(schema_with = time_or_empty, example = "2026-12-01T00:00:00Z")]
    since: Option<String>,
    /// Only events of this type (events only), e.g. `subscription.confirmed`
    #[serde(rename = "type")]
    #[param(example = "subscription.confirmed")]
    kind: Option<String>,
    /// `next_cursor` of the previous page
    #[param(pattern = "^[0-9]{0,18}$")]
    cursor: Option<String>,
    /// Page size (default 50)
    #[param(minimum = 1, maximum = 500, example = 50)]
    limit: Option<i64>,
}

/// The contract writes the query as `?since=&type=`: an empty value is no filter.
fn time_or_empty() -> utoipa::openapi::schema::Schema {
    let time = utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String).format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime))).build();
    let empty = utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String).max_length(Some(0)).build();
    utoipa::openapi::schema::AnyOfBuilder::new().item(time).item(empty).build().into()
}

impl LogParams {
    fn read(&self) -> Result<(Option<chrono::DateTime<chrono::Utc>>, Option<i64>, i64), ApiError> {
        let since = self.since.as_deref().filter(|s| !s.is_empty()).map(|s| parse_time("since", s)).transpose()?;
        let before = self.cursor.as_deref().filter(|c| !c.is_empty()).map(|c| c.parse::<i64>().ok().filter(|_| c.bytes().all(|b| b.is_ascii_digit())).ok_or_else(|| ApiError::invalid("cursor", "the cursor is not one this API gave"))).transpose()?;
        Ok((since, before, page_size(self.limit)?))
    }
}

fn page<T: utoipa::ToSchema>(mut items: Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> Page<T> {
    let next_cursor = (items.len() as i64 > limit).then(|| {
        items.truncate(limit as usize);
        id(&items[items.len() - 1]).to_string()
    });
    Page { items, next_cursor }
}

#[utoipa::path(get, path = "/api/v1/bounces", tag = "logs", params(LogParams), responses((status = 200, body = Page<BounceLogEntry>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 422, response = Invalid)))]
pub async fn bounces(caller: Caller, Extract(state): Extract<State>, ApiQuery(p): ApiQuery<LogParams>) -> Result<Json<Page<BounceLogEntry>>, ApiError> {
    caller.may(Permission::Read)?;
    let (since, before, limit) = p.read()?;
    let items = state.app.store.bounce_log(since, before, limit + 1).await?;
    Ok(Json(page(items, limit, |b| b.id)))
}

#[utoipa::path(get, path = "/api/v1/events", tag = "logs", params(LogParams), responses((status = 200, body = Page<EventRecord>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 422, response = Invalid)))]
pub async fn events(caller: Caller, Extract(state): Extract<State>, ApiQuery(p): ApiQuery<LogParams>) -> Result<Json<Page<EventRecord>>, ApiError> {
    caller.may(Permission::Read)?;
    let (since, before, limit) = p.read()?;
    let items = state.app.store.event_log(since, p.kind.as_deref().filter(|k| !k.is_empty()), before, limit + 1).await?;
    Ok(Json(page(items, limit, |e| e.id)))
}
