//! Subscribers: search with a cursor, add one, everything held about one, erase.

use axum::Json;
use axum::extract::State as Extract;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiJson, ApiPath, ApiQuery, BadRequest, Caller, Conflict, Forbidden, Invalid, NotFound, Page, TooLarge, Unauthorized, UnsupportedType, page_size};
use crate::domain::{ConsentSource, EmailAddress, ListSlug, Permission, SubscriberName};
use crate::store::{AddOutcome, NewSubscription, SubscriberDetail, SubscriberQuery, SubscriberRow};
use crate::web::State;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Only subscribers of this list (empty: any list)
    #[param(pattern = "^([a-z0-9][a-z0-9_-]{0,63})?$", example = "news")]
    list: Option<String>,
    /// A subscription status (on `list`, or on any list) or a subscriber status (empty: any)
    #[param(schema_with = status_filter_or_empty)]
    status: Option<String>,
    /// The start of the address, case-insensitive
    q: Option<String>,
    /// `next_cursor` of the previous page
    #[param(pattern = "^([A-Za-z0-9_-]{4})*([A-Za-z0-9_-]{2,3})?$")]
    cursor: Option<String>,
    /// Page size (default 50)
    #[param(minimum = 1, maximum = 500, example = 50)]
    limit: Option<i64>,
}

/// What `status` filters on: pending, confirmed or unsubscribed are subscription statuses;
/// active, bounced and complained are the subscriber's own.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    Pending,
    Confirmed,
    Unsubscribed,
    Active,
    Bounced,
    Complained,
}

impl StatusFilter {
    /// Read here rather than by the query extractor: an unknown status is a 422 naming the field,
    /// like every other invalid value, not a 400.
    fn parse(text: &str) -> Result<Self, ApiError> {
        Self::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(text)).map_err(|_| ApiError::invalid("status", format!("{text:?} is not one of pending, confirmed, unsubscribed, active, bounced, complained")))
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Unsubscribed => "unsubscribed",
            Self::Active => "active",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
        }
    }
}

/// The contract writes the query as `?list=&status=&q=&cursor=`: an empty value is no filter.
fn status_filter_or_empty() -> utoipa::openapi::schema::Schema {
    let any = utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String).max_length(Some(0)).build();
    utoipa::openapi::schema::AnyOfBuilder::new().item(utoipa::openapi::Ref::from_schema_name("StatusFilter")).item(any).build().into()
}

#[utoipa::path(get, path = "/api/v1/subscribers", tag = "subscribers", params(SearchParams),
    responses((status = 200, body = Page<SubscriberRow>), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 404, response = NotFound), (status = 422, response = Invalid)))]
pub async fn search(caller: Caller, Extract(state): Extract<State>, ApiQuery(p): ApiQuery<SearchParams>) -> Result<Json<Page<SubscriberRow>>, ApiError> {
    caller.may(Permission::Read)?;
    let list_id = match p.list.as_deref().filter(|s| !s.is_empty()) {
        Some(slug) => Some(state.app.store.list_by_slug(&ListSlug::parse(slug).map_err(|e| ApiError::invalid("list", e))?).await?.id),
        None => None,
    };
    let status = p.status.as_deref().filter(|s| !s.is_empty()).map(StatusFilter::parse).transpose()?.map(StatusFilter::as_str);
    let after = p.cursor.as_deref().filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
    let limit = page_size(p.limit)?;
    let query = SubscriberQuery { list_id, status, prefix: p.q.as_deref().map(str::trim).filter(|q| !q.is_empty()), after: after.as_deref(), limit: limit + 1 };
    let mut items = state.app.store.search_subscribers(&query).await?;
    let next_cursor = (items.len() as i64 > limit).then(|| {
        items.truncate(limit as usize);
        URL_SAFE_NO_PAD.encode(&items[items.len() - 1].email_key)
    });
    Ok(Json(Page { items, next_cursor }))
}

/// A cursor is a position in the order of addresses, so any position is a page: only text that
/// is not base64url at all is refused (trailing bits and bytes that are not UTF-8 are forgiven).
fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true).with_decode_padding_mode(DecodePaddingMode::RequireNone));
    // A NUL sorts before every address anyway; PostgreSQL could not compare with it.
    LENIENT.decode(cursor).map(|b| String::from_utf8_lossy(&b).replace('\0', "")).map_err(|_| ApiError::invalid("cursor", "the cursor is not one this API gave"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ann@example.com", "name": "Ann", "list": "news", "confirmed": true, "attributes": {"city": "Lyon"}}))]
pub struct NewSubscriberBody {
    /// The part before the last `@` is ASCII: addresses that need SMTPUTF8 are not taken
    #[schema(format = Email, pattern = "^[\\u0020-\\u007e]+@[^@]+$", example = "ann@example.com")]
    email: String,
    /// Up to 200 characters, on one line
    #[serde(default)]
    #[schema(pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$", max_length = 200)]
    name: String,
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", example = "news")]
    list: String,
    /// Consent was collected elsewhere: no confirmation email. Default false (double opt-in).
    #[serde(default)]
    confirmed: bool,
    /// Merged into the subscriber's attributes; a key set to null is removed
    #[schema(value_type = Option<Object>)]
    attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Added {
    email: String,
    list: String,
    outcome: AddOutcome,
}

#[utoipa::path(post, path = "/api/v1/subscribers", tag = "subscribers", request_body = NewSubscriberBody,
    responses((status = 201, body = Added), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 409, response = Conflict), (status = 413, response = TooLarge), (status = 415, response = UnsupportedType), (status = 422, response = Invalid)))]
pub async fn add(caller: Caller, Extract(state): Extract<State>, ApiJson(body): ApiJson<NewSubscriberBody>) -> Result<(StatusCode, Json<Added>), ApiError> {
    caller.may(Permission::Edit)?;
    let email = EmailAddress::parse(&body.email).map_err(|e| ApiError::invalid("email", format!("{:?}: {e}", body.email)))?;
    let name = SubscriberName::parse(&body.name).map_err(|e| ApiError::invalid("name", e))?;
    if body.attributes.as_ref().is_some_and(crate::domain::personal::attributes_hold_nul) {
        return Err(ApiError::invalid("attributes", "an attribute holds a NUL character"));
    }
    let list = state.app.store.list_by_slug(&ListSlug::parse(&body.list).map_err(|e| ApiError::invalid("list", e))?).await?;
    let new = NewSubscription { email: &email, name: &name, list_id: list.id, confirmed: body.confirmed, source: ConsentSource::Api, ip: None, user_agent: None, attributes: body.attributes.as_ref() };
    let outcome = state.app.store.add_subscription(new, caller.actor()).await?;
    Ok((StatusCode::CREATED, Json(Added { email: email.to_string(), list: list.slug, outcome })))
}

#[utoipa::path(get, path = "/api/v1/subscribers/{email}", tag = "subscribers", params(("email" = String, Path, format = Email, pattern = "^[\\u0020-\\u0024\\u0026-\\u007e]+@[^@%]+$", example = "ann@example.com",
        description = "The address, percent-encoded; `%` itself (which starts an escape) is left out here, though an address with `%25` is found")),
    responses((status = 200, body = SubscriberDetail), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 404, response = NotFound), (status = 422, response = Invalid)))]
pub async fn show(caller: Caller, Extract(state): Extract<State>, ApiPath(email): ApiPath<String>) -> Result<Json<SubscriberDetail>, ApiError> {
    caller.may(Permission::Read)?;
    let email = EmailAddress::parse(&email).map_err(|e| ApiError::invalid("email", e))?;
    Ok(Json(state.app.store.subscriber_detail(&email).await?))
}

#[utoipa::path(delete, path = "/api/v1/subscribers/{email}", tag = "subscribers", params(("email" = String, Path, format = Email, pattern = "^[\\u0020-\\u0024\\u0026-\\u007e]+@[^@%]+$", example = "ann@example.com",
        description = "The address, percent-encoded; `%` itself (which starts an escape) is left out here, though an address with `%25` is found")),
    responses((status = 204, description = "Erased: the address is kept only as a keyed hash on the suppression list"), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 422, response = Invalid)))]
pub async fn erase(caller: Caller, Extract(state): Extract<State>, ApiPath(email): ApiPath<String>) -> Result<StatusCode, ApiError> {
    caller.may(Permission::Edit)?;
    let email = EmailAddress::parse(&email).map_err(|e| ApiError::invalid("email", e))?;
    state.app.store.erase_subscriber(&email, caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}
