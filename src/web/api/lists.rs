//! Lists, and CSV imports into a list as background jobs.

use axum::Json;
use axum::body::Body;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiErrorBody, ApiJson, ApiPath, ApiQuery, Caller};
use crate::domain::{ListSlug, Permission};
use crate::operations::lists::{ListInput, create_list as create};
use crate::store::{ImportJob, List, ListCounts};
use crate::web::State;

/// An upload larger than this is refused (413) before the import starts.
const MAX_IMPORT_BYTES: u64 = 1 << 30;

/// Counts are recounted in the background within seconds of a change (`tidings list ls` counts
/// exactly, now); the `Last-Modified` header says when.
#[utoipa::path(get, path = "/api/v1/lists", tag = "lists", responses((status = 200, body = Vec<ListCounts>, headers(("Last-Modified" = String, description = "when the counts were taken"))), (status = 401, body = ApiErrorBody)))]
pub async fn list_lists(caller: Caller, Extract(state): Extract<State>) -> Result<Response, ApiError> {
    caller.may(Permission::Read)?;
    let (lists, counted_at) = state.app.store.list_counts_summary().await?;
    let mut response = Json(lists).into_response();
    if let Some(at) = counted_at.and_then(|t| header::HeaderValue::from_str(&t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).ok()) {
        response.headers_mut().insert(header::LAST_MODIFIED, at);
    }
    Ok(response)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewListBody {
    slug: String,
    name: String,
    language: Option<String>,
    #[serde(default)]
    description: String,
}

#[utoipa::path(post, path = "/api/v1/lists", tag = "lists", request_body = NewListBody,
    responses((status = 201, body = List), (status = 409, body = ApiErrorBody), (status = 422, body = ApiErrorBody)))]
pub async fn create_list(caller: Caller, Extract(state): Extract<State>, ApiJson(body): ApiJson<NewListBody>) -> Result<(StatusCode, Json<List>), ApiError> {
    caller.may(Permission::Edit)?;
    let input = ListInput { slug: &body.slug, name: &body.name, language: body.language.as_deref(), description: &body.description };
    let list = create(&state.app.store, input, &state.app.config.site.default_language, caller.actor()).await?;
    Ok((StatusCode::CREATED, Json(list)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Import as confirmed (the rows' consent was collected elsewhere); otherwise each new
    /// subscriber gets a confirmation email.
    #[serde(default)]
    confirmed: bool,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct JobRef {
    id: i64,
}

#[utoipa::path(post, path = "/api/v1/lists/{slug}/import", tag = "lists", params(("slug" = String, Path), ImportParams),
    request_body(content = String, content_type = "text/csv", description = "A CSV with an `email` column; `name`, `status` and any other columns are optional"),
    responses((status = 202, body = JobRef), (status = 404, body = ApiErrorBody), (status = 413, body = ApiErrorBody), (status = 415, body = ApiErrorBody), (status = 422, body = ApiErrorBody)))]
pub async fn start_import(caller: Caller, Extract(state): Extract<State>, ApiPath(slug): ApiPath<String>, ApiQuery(params): ApiQuery<ImportParams>, headers: HeaderMap, body: Body) -> Result<(StatusCode, Json<JobRef>), ApiError> {
    caller.may(Permission::Edit)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !(content_type.starts_with("text/csv") || content_type.starts_with("text/plain")) {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send the CSV as the body with Content-Type: text/csv"));
    }
    let slug = ListSlug::parse(&slug).map_err(|e| ApiError::invalid("slug", e))?;
    let list = state.app.store.list_by_slug(&slug).await?;
    let file = save_upload(body).await?;
    let id = crate::operations::imports::start(state.app.clone(), list, params.confirmed, file, caller.actor().clone()).await?;
    Ok((StatusCode::ACCEPTED, Json(JobRef { id })))
}

/// The body, streamed to a temporary file: an import of a million rows is never in memory.
async fn save_upload(body: Body) -> Result<tempfile::TempPath, ApiError> {
    let failed = |e: std::io::Error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("cannot store the upload: {e}"));
    let path = tempfile::NamedTempFile::new().map_err(failed)?.into_temp_path();
    let mut file = tokio::fs::File::create(&path).await.map_err(failed)?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("the upload was interrupted: {e}")))?;
        size += chunk.len() as u64;
        if size > MAX_IMPORT_BYTES {
            return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("an import may be at most {} MiB; split the file", MAX_IMPORT_BYTES >> 20)));
        }
        file.write_all(&chunk).await.map_err(failed)?;
    }
    file.flush().await.map_err(failed)?;
    if size == 0 {
        return Err(ApiError::invalid("body", "the CSV is empty"));
    }
    Ok(path)
}

#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "lists", params(("id" = i64, Path)),
    responses((status = 200, body = ImportJob), (status = 404, body = ApiErrorBody)))]
pub async fn import_status(caller: Caller, Extract(state): Extract<State>, ApiPath(id): ApiPath<i64>) -> Result<Json<ImportJob>, ApiError> {
    caller.may(Permission::Read)?;
    Ok(Json(state.app.store.import_job(id).await?))
}
