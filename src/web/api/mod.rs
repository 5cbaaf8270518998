//! The staff JSON API under `/api/v1`: every operation staff can do from the CLI, on the same
//! library calls, behind `Authorization: Bearer TOKEN`. The OpenAPI document is generated from
//! the handlers themselves (utoipa), so it lists exactly the routes the router has.

mod issues;
mod lists;
mod logs;
mod schema;
mod subscribers;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::State;
use schema::Enums;
use crate::domain::Permission;
use crate::operations::OpError;
use crate::staff::Secret256;
use crate::store::{StaffIdentity, StoreError};

#[derive(OpenApi)]
#[openapi(
    info(title = "Tidings staff API", description = "Lists, subscribers, imports, issues and sends, the bounce log and the event log."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(ApiErrorBody, ErrorDetail, subscribers::StatusFilter, issues::RenderFormat), responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge, UnsupportedType, Invalid, TooManyRequests, BadGateway))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("tid_…").build()));
    }
}

/// The API's routes and their OpenAPI document, built together.
pub fn router() -> (axum::Router<State>, utoipa::openapi::OpenApi) {
    let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(lists::list_lists, lists::create_list))
        .routes(routes!(lists::start_import))
        .routes(routes!(lists::import_status))
        .routes(routes!(subscribers::search, subscribers::add))
        .routes(routes!(subscribers::show, subscribers::erase))
        .routes(routes!(issues::list_issues, issues::create_issue))
        .routes(routes!(issues::render_issue))
        .routes(routes!(issues::send_issue))
        .routes(routes!(issues::pause_issue))
        .routes(routes!(issues::resume_issue))
        .routes(routes!(issues::cancel_issue))
        .routes(routes!(issues::issue_status))
        .routes(routes!(issues::issue_events))
        .routes(routes!(logs::bounces))
        .routes(routes!(logs::events))
        .split_for_parts();
    // After the routes: it edits the schemas they bring.
    Enums.modify(&mut document);
    (router, document)
}

/// The one error shape: `{"error": {"code", "message", "field"}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "invalid", "message": "\"ann@\": the part after '@' is empty", "field": "email"}}))]
pub struct ApiErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    code: ErrorCode,
    message: String,
    /// The request field the error is about, when there is one.
    field: Option<String>,
}

/// What went wrong, for a program to act on (`message` is for people).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    TooLarge,
    UnsupportedMediaType,
    Invalid,
    TooManyStreams,
    RateLimited,
    Failed,
    Internal,
}

/// The error responses, documented once and referenced by each operation that can answer them.
macro_rules! error_responses {
    ($($name:ident $(+ $header:literal)? => $description:literal),+ $(,)?) => {$(
        pub struct $name;

        impl<'r> utoipa::ToResponse<'r> for $name {
            fn response() -> (&'r str, utoipa::openapi::RefOr<utoipa::openapi::response::Response>) {
                let body = utoipa::openapi::ContentBuilder::new().schema(Some(utoipa::openapi::Ref::from_schema_name("ApiErrorBody"))).build();
                #[allow(unused_mut)]
                let mut response = utoipa::openapi::ResponseBuilder::new().description($description).content("application/json", body);
                $(response = response.header($header, utoipa::openapi::HeaderBuilder::new().schema(utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String)).build());)?
                (stringify!($name), response.build().into())
            }
        }
    )+};
}

error_responses! {
    BadRequest => "The request cannot be read: a malformed query, path segment or JSON body",
    Unauthorized + "WWW-Authenticate" => "No token, or one that is unknown or revoked",
    Forbidden => "The token's role may not do this",
    NotFound => "No such list, subscriber, issue or import",
    Conflict => "The request conflicts with the current state (a list that exists, a send already under way, an address on the suppression list)",
    TooLarge => "The body is larger than this operation takes",
    UnsupportedType => "The body's Content-Type is not one this operation takes",
    Invalid => "A value is well-formed but not valid; `field` names it",
    TooManyRequests + "Retry-After" => "Too many at once for this token",
    BadGateway => "The mail relay refused or could not be reached",
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    field: Option<&'static str>,
    /// For a 429: when to try again (10 s unless the limit says otherwise).
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl std::fmt::Display) -> Self {
        Self { status, code, message: message.to_string(), field: None, retry_after: None }
    }

    pub fn invalid(field: &'static str, message: impl std::fmt::Display) -> Self {
        Self { status: StatusCode::UNPROCESSABLE_ENTITY, code: ErrorCode::Invalid, message: message.to_string(), field: Some(field), retry_after: None }
    }

    /// The status and the message, for a page that shows the error.
    pub fn parts(self) -> (StatusCode, String) {
        (self.status, self.message)
    }

    fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, "a valid API token is needed: Authorization: Bearer TOKEN")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiErrorBody { error: ErrorDetail { code: self.code, message: self.message, field: self.field.map(str::to_string) } };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(self.retry_after.unwrap_or(10)));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::UnknownList(_) | StoreError::UnknownIssue(_) | StoreError::UnknownSubscriber(_) | StoreError::UnknownImport(_) | StoreError::UnknownStaff(_) | StoreError::UnknownToken(_) => StatusCode::NOT_FOUND,
            StoreError::BadText => return Self { status: StatusCode::UNPROCESSABLE_ENTITY, code: ErrorCode::Invalid, message: e.to_string(), field: None, retry_after: None },
            // An address on the suppression list is a state of ours, not a fault of the request.
            StoreError::ListExists(_) | StoreError::LastOwner(_) | StoreError::IssueLocked { .. } | StoreError::IssueState { .. } | StoreError::StaffExists(_) | StoreError::TokenExists(_) | StoreError::Suppressed { .. } => StatusCode::CONFLICT,
            _ => {
                tracing::error!(error = %e, "API request failed");
                return Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, "internal error");
            }
        };
        let code = if status == StatusCode::NOT_FOUND { ErrorCode::NotFound } else { ErrorCode::Conflict };
        Self::new(status, code, e)
    }
}

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Invalid { field, message } => Self { status: StatusCode::UNPROCESSABLE_ENTITY, code: ErrorCode::Invalid, message, field, retry_after: None },
            OpError::Store(s) => s.into(),
            OpError::Failed(m) => Self::new(StatusCode::BAD_GATEWAY, ErrorCode::Failed, m),
            OpError::TooMany { message, retry_after_secs } => Self { retry_after: Some(retry_after_secs), ..Self::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited, message) },
        }
    }
}

/// The schema of a text body the API reads as it comes: a string of at least `min_length`.
fn text_body(min_length: usize, example: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String).min_length(Some(min_length)).examples([example]).into()
}

/// `axum`'s extractors, with their refusals in the API's error shape.
pub struct ApiJson<T>(pub T);
pub struct ApiQuery<T>(pub T);
pub struct ApiPath<T>(pub T);

fn refusal(status: StatusCode, text: String) -> ApiError {
    let code = match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::Invalid,
        _ => ErrorCode::BadRequest,
    };
    ApiError::new(status, code, text)
}

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(r) => Err(refusal(r.status(), r.body_text())),
        }
    }
}

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(r) => Err(refusal(r.status(), r.body_text())),
        }
    }
}

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(r) => Err(refusal(r.status(), r.body_text())),
        }
    }
}

/// A text body (Markdown, or an optional JSON body read by hand), with axum's refusals (not
/// UTF-8, too large) in the API's error shape.
pub struct ApiText(pub String);

impl<S: Send + Sync> axum::extract::FromRequest<S> for ApiText {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match String::from_request(request, state).await {
            Ok(text) => Ok(Self(text)),
            Err(r) => Err(refusal(r.status(), r.body_text())),
        }
    }
}

/// Who is calling, from the bearer token. Checked before any handler runs.
pub struct Caller(pub StaffIdentity);

impl Caller {
    /// Refuses with 403 what this caller's role may not do.
    pub fn may(&self, needed: Permission) -> Result<(), ApiError> {
        if self.0.role.allows(needed) {
            Ok(())
        } else {
            Err(ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, format!("the {} role may not do this", self.0.role)))
        }
    }

    pub fn actor(&self) -> &crate::store::Actor {
        &self.0.actor
    }
}

impl FromRequestParts<State> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, Self::Rejection> {
        let presented = parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
        let Some(token) = presented.filter(|t| !t.is_empty()) else { return Err(ApiError::unauthorized()) };
        match state.app.store.authenticate_token(&Secret256::from_presented(token).digest()).await? {
            Some(mut identity) => {
                identity.actor = crate::store::Actor(format!("{} from {}", identity.actor.0, super::admin::peer(parts, state)));
                Ok(Caller(identity))
            }
            None => Err(ApiError::unauthorized()),
        }
    }
}

/// Any other path under `/api`: the API's own error shape, not the public 404 page.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such API route; the routes are listed at /api/openapi.json")
}

/// A page of results and the cursor for the next one (absent on the last page).
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last one
    pub next_cursor: Option<String>,
}

pub const PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 500;

/// `limit`, as documented: a size outside 1–500 is refused rather than quietly changed, so a
/// client that asks for 1,000 learns it gets at most 500.
pub fn page_size(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid("limit", format!("{n} is not a page size from 1 to {MAX_PAGE_SIZE}"))),
    }
}
