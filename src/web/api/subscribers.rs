//! Subscribers: search with a cursor, add one, everything held about one, erase.

use axum::Json;
use axum::extract::State as Extract;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiErrorBody, ApiJson, ApiPath, ApiQuery, Caller, MAX_PAGE_SIZE, PAGE_SIZE, Page};
use crate::domain::{ConsentSource, EmailAddress, ListSlug, Permission, SubscriberName};
use crate::store::{AddOutcome, NewSubscription, SubscriberDetail, SubscriberQuery, SubscriberRow};
use crate::web::State;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Only subscribers of this list
    list: Option<String>,
    /// pending, confirmed or unsubscribed (on `list`, or on any list); or active, bounced, complained
    status: Option<String>,
    /// The start of the address, case-insensitive
    q: Option<String>,
    /// `next_cursor` of the previous page
    cursor: Option<String>,
    /// Page size, 1–500 (default 50)
    limit: Option<i64>,
}

const STATUSES: [&str; 6] = ["pending", "confirmed", "unsubscribed", "active", "bounced", "complained"];

#[utoipa::path(get, path = "/api/v1/subscribers", tag = "subscribers", params(SearchParams),
    responses((status = 200, body = Page<SubscriberRow>), (status = 404, body = ApiErrorBody), (status = 422, body = ApiErrorBody)))]
pub async fn search(caller: Caller, Extract(state): Extract<State>, ApiQuery(p): ApiQuery<SearchParams>) -> Result<Json<Page<SubscriberRow>>, ApiError> {
    caller.may(Permission::Read)?;
    let list_id = match p.list.as_deref().filter(|s| !s.is_empty()) {
        Some(slug) => Some(state.app.store.list_by_slug(&ListSlug::parse(slug).map_err(|e| ApiError::invalid("list", e))?).await?.id),
        None => None,
    };
    let status = p.status.as_deref().filter(|s| !s.is_empty());
    if let Some(s) = status.filter(|s| !STATUSES.contains(s)) {
        return Err(ApiError::invalid("status", format!("{s:?} is not one of {}", STATUSES.join(", "))));
    }
    let after = p.cursor.as_deref().filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
    let limit = p.limit.unwrap_or(PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    let query = SubscriberQuery { list_id, status, prefix: p.q.as_deref().map(str::trim).filter(|q| !q.is_empty()), after: after.as_deref(), limit: limit + 1 };
    let mut items = state.app.store.search_subscribers(&query).await?;
    let next_cursor = (items.len() as i64 > limit).then(|| {
        items.truncate(limit as usize);
        URL_SAFE_NO_PAD.encode(&items[items.len() - 1].email_key)
    });
    Ok(Json(Page { items, next_cursor }))
}

fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD.decode(cursor).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| ApiError::invalid("cursor", "the cursor is not one this API gave"))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewSubscriberBody {
    email: String,
    #[serde(default)]
    name: String,
    list: String,
    /// Consent was collected elsewhere: no confirmation email. Default false (double opt-in).
    #[serde(default)]
    confirmed: bool,
    #[schema(value_type = Option<Object>)]
    attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Added {
    email: String,
    list: String,
    #[schema(value_type = Object)]
    outcome: AddOutcome,
}

#[utoipa::path(post, path = "/api/v1/subscribers", tag = "subscribers", request_body = NewSubscriberBody,
    responses((status = 201, body = Added), (status = 404, body = ApiErrorBody), (status = 422, body = ApiErrorBody)))]
pub async fn add(caller: Caller, Extract(state): Extract<State>, ApiJson(body): ApiJson<NewSubscriberBody>) -> Result<(StatusCode, Json<Added>), ApiError> {
    caller.may(Permission::Edit)?;
    let email = EmailAddress::parse(&body.email).map_err(|e| ApiError::invalid("email", format!("{:?}: {e}", body.email)))?;
    let name = SubscriberName::parse(&body.name).map_err(|e| ApiError::invalid("name", e))?;
    let list = state.app.store.list_by_slug(&ListSlug::parse(&body.list).map_err(|e| ApiError::invalid("list", e))?).await?;
    let new = NewSubscription { email: &email, name: &name, list_id: list.id, confirmed: body.confirmed, source: ConsentSource::Api, ip: None, user_agent: None, attributes: body.attributes.as_ref() };
    let outcome = state.app.store.add_subscription(new, caller.actor()).await?;
    Ok((StatusCode::CREATED, Json(Added { email: email.to_string(), list: list.slug, outcome })))
}

#[utoipa::path(get, path = "/api/v1/subscribers/{email}", tag = "subscribers", params(("email" = String, Path)),
    responses((status = 200, body = SubscriberDetail), (status = 404, body = ApiErrorBody)))]
pub async fn show(caller: Caller, Extract(state): Extract<State>, ApiPath(email): ApiPath<String>) -> Result<Json<SubscriberDetail>, ApiError> {
    caller.may(Permission::Read)?;
    let email = EmailAddress::parse(&email).map_err(|e| ApiError::invalid("email", e))?;
    Ok(Json(state.app.store.subscriber_detail(&email).await?))
}

#[utoipa::path(delete, path = "/api/v1/subscribers/{email}", tag = "subscribers", params(("email" = String, Path)),
    responses((status = 204), (status = 404, body = ApiErrorBody)))]
pub async fn erase(caller: Caller, Extract(state): Extract<State>, ApiPath(email): ApiPath<String>) -> Result<StatusCode, ApiError> {
    caller.may(Permission::Edit)?;
    let email = EmailAddress::parse(&email).map_err(|e| ApiError::invalid("email", e))?;
    state.app.store.erase_subscriber(&email, caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}
