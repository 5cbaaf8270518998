//! Issues: drafts from Markdown, renderings, sends, and their progress (also as Server-Sent
//! Events).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiErrorBody, ApiPath, ApiQuery, Caller};
use crate::delivery::status::{SendStatus, send_status};
use crate::domain::Permission;
use crate::operations::sends::{self, Control};
use crate::publishing::{self, Format, PreviewError, PublishError};
use crate::store::{Issue, IssueSaved};
use crate::web::State;

/// How many issues the listing shows, newest first.
const LISTED: i64 = 500;

#[utoipa::path(get, path = "/api/v1/issues", tag = "issues", responses((status = 200, body = Vec<Issue>)))]
pub async fn list_issues(caller: Caller, Extract(state): Extract<State>) -> Result<Json<Vec<Issue>>, ApiError> {
    caller.may(Permission::Read)?;
    Ok(Json(state.app.store.all_issues(LISTED).await?))
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SavedIssue {
    slug: String,
    list: String,
    /// created or updated
    saved: String,
    scheduled_for: Option<chrono::DateTime<chrono::Utc>>,
}

#[utoipa::path(post, path = "/api/v1/issues", tag = "issues",
    request_body(content = String, content_type = "text/markdown", description = "The issue file's text: TOML front matter between +++ lines (with `slug`), then Markdown"),
    responses((status = 201, body = SavedIssue), (status = 200, body = SavedIssue), (status = 409, body = ApiErrorBody), (status = 422, body = ApiErrorBody)))]
pub async fn create_issue(caller: Caller, Extract(state): Extract<State>, text: String) -> Result<(StatusCode, Json<SavedIssue>), ApiError> {
    caller.may(Permission::Edit)?;
    // Images resolve against the content folder, as for files dropped there; the name stands
    // for the request in messages and is not a valid slug, so the front matter must give one.
    let path = state.app.config.content.issues_dir.join(format!("{REQUEST_STEM}.md"));
    let may_send = caller.0.role.allows(Permission::Own);
    let added = publishing::add_issue_as(&state.app, &path, &text, caller.actor(), may_send).await.map_err(|e| publish_error(e, &path))?;
    let status = if added.saved == IssueSaved::Created { StatusCode::CREATED } else { StatusCode::OK };
    let saved = serde_json::to_value(added.saved).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    Ok((status, Json(SavedIssue { slug: added.slug, list: added.list, saved, scheduled_for: added.scheduled_for })))
}

/// Stands for the request body where a file name would be; not a valid slug.
const REQUEST_STEM: &str = "(request body)";

fn publish_error(e: PublishError, path: &std::path::Path) -> ApiError {
    match e {
        PublishError::Store { source, .. } => source.into(),
        PublishError::NotAllowed { reason, .. } => ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("only an owner may schedule a send: {reason}")),
        e if e.is_bad_input() => {
            let message = e.to_string().replace(&format!("{}: ", path.display()), "");
            let no_slug = format!("{REQUEST_STEM:?} is not a valid slug");
            if message.contains(&no_slug) {
                return ApiError::invalid("body", "the front matter must give a `slug` (there is no file name to take it from)");
            }
            ApiError::invalid("body", message)
        }
        e => {
            tracing::error!(error = %e, "cannot add an issue");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RenderParams {
    /// html, text or eml (default html)
    format: Option<String>,
    /// Render as this subscriber would receive it
    to: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/issues/{slug}", tag = "issues", params(("slug" = String, Path), RenderParams),
    responses((status = 200, description = "The rendering", content_type = "text/html"), (status = 404, body = ApiErrorBody), (status = 422, body = ApiErrorBody)))]
pub async fn render_issue(caller: Caller, Extract(state): Extract<State>, ApiPath(slug): ApiPath<String>, ApiQuery(p): ApiQuery<RenderParams>) -> Result<Response, ApiError> {
    caller.may(Permission::Read)?;
    let (format, content_type) = match p.format.as_deref().unwrap_or("html") {
        "html" => (Format::Html, "text/html; charset=utf-8"),
        "text" => (Format::Text, "text/plain; charset=utf-8"),
        "eml" => (Format::Eml, "message/rfc822"),
        other => return Err(ApiError::invalid("format", format!("{other:?} is not html, text or eml"))),
    };
    // A subscriber's own copy carries their signed links: an editor's to see, not a viewer's.
    if p.to.is_some() {
        caller.may(Permission::Edit)?;
    }
    let to = p.to.as_deref().map(|t| crate::domain::EmailAddress::parse(t).map_err(|e| ApiError::invalid("to", e))).transpose()?;
    let bytes = publishing::preview(&state.app, &slug, format, to.as_ref()).await.map_err(|e| match e {
        PreviewError::Store(s) => ApiError::from(s),
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", other),
    })?;
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SendBody {
    /// Queue at this time instead of now (RFC 3339)
    at: Option<String>,
    /// Send one copy to this address only; the list is not touched
    test: Option<String>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SendAccepted {
    issue: String,
    /// queued, scheduled or test_sent
    outcome: String,
    recipients: Option<u64>,
    scheduled_for: Option<chrono::DateTime<chrono::Utc>>,
    test: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/issues/{slug}/send", tag = "issues", params(("slug" = String, Path)), request_body(content = SendBody, description = "optional"),
    responses((status = 202, body = SendAccepted), (status = 403, body = ApiErrorBody), (status = 404, body = ApiErrorBody), (status = 409, body = ApiErrorBody), (status = 422, body = ApiErrorBody)))]
pub async fn send_issue(caller: Caller, Extract(state): Extract<State>, ApiPath(slug): ApiPath<String>, headers: HeaderMap, body: String) -> Result<(StatusCode, Json<SendAccepted>), ApiError> {
    let body: SendBody = if body.trim().is_empty() { SendBody::default() } else { parse_json(&headers, &body)? };
    // A test copy is an editor's; sending to a list is the owner's.
    caller.may(if body.test.is_some() { Permission::Edit } else { Permission::Own })?;
    let issue = state.app.store.issue_by_slug(&slug).await?;
    let app = &state.app;
    let mut accepted = SendAccepted { issue: issue.slug.clone(), outcome: String::new(), recipients: None, scheduled_for: None, test: None };
    match (body.test, body.at) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("at", "a test copy is sent now: give `test` or `at`, not both")),
        (Some(address), None) => {
            let email = sends::send_test(app, &issue, &address, caller.actor()).await?;
            (accepted.outcome, accepted.test) = ("test_sent".into(), Some(email.to_string()));
        }
        (None, Some(at)) => {
            let at = sends::parse_time("at", &at)?;
            sends::schedule(app, &issue, at, caller.actor()).await?;
            (accepted.outcome, accepted.scheduled_for) = ("scheduled".into(), Some(at));
        }
        (None, None) => {
            let n = sends::send_now(app, &issue, caller.actor()).await?;
            (accepted.outcome, accepted.recipients) = ("queued".into(), Some(n));
        }
    }
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

fn parse_json<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &str) -> Result<T, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "send the body as application/json"));
    }
    serde_json::from_str(body).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_request", format!("the JSON body cannot be read: {e}")))
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct StatusChanged {
    issue: String,
    status: String,
}

async fn control(caller: Caller, state: State, slug: String, action: Control) -> Result<Json<StatusChanged>, ApiError> {
    caller.may(Permission::Own)?;
    let issue = state.app.store.issue_by_slug(&slug).await?;
    let status = sends::control(&state.app, &issue, action, caller.actor()).await?;
    Ok(Json(StatusChanged { issue: issue.slug, status: status.to_string() }))
}

#[utoipa::path(post, path = "/api/v1/issues/{slug}/pause", tag = "issues", params(("slug" = String, Path)),
    responses((status = 200, body = StatusChanged), (status = 403, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn pause_issue(caller: Caller, Extract(state): Extract<State>, ApiPath(slug): ApiPath<String>) -> Result<Json<StatusChanged>, ApiError> {
    control(caller, state, slug, Control::Pause).await
}

#[utoipa::path(post, path = "/api/v1/issues/{slug}/resume", tag = "issues", params(("slug" = String, Path)),
    responses((status = 200, body = StatusChanged), (status = 403, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn resume_issue(caller: Caller, Extract(state): Extract<State>, ApiPath(slug): ApiPath<String>) -> Result<Json<StatusChanged>, ApiError> {
    control(caller, state, slug, Control::Resume).await
}

#[utoipa::path(post, path = "/api/v1/issues/{slug}/cancel", tag = "issues", params(("slug" = String, Path)),
    responses((status = 200, body = StatusChanged), (status = 403, body = ApiErrorBody), (status = 409, body = ApiErrorBody)))]
pub async fn cancel_issue(caller: Caller, Extract(state): Extract<State>, ApiPath(slug): ApiPath<String>) -> Result<Json<StatusChanged>, ApiError> {
    control(caller, state, slug, Control::Cancel).await
}

#[utoipa::path(get, path = "/api/v1/issues/{slug}/status", tag = "issues", params(("slug" = String, Path)),
    responses((status = 200, body = SendStatus), (status = 404, body = ApiErrorBody)))]
pub async fn issue_status(caller: Caller, Extract(state): Extract<State>, ApiPath(slug): ApiPath<String>) -> Result<Json<SendStatus>, ApiError> {
    caller.may(Permission::Read)?;
    Ok(Json(send_status(&state.app, &slug).await?))
}

/// Statuses in which a send is under way: a scheduled send may not start for days, so its
/// stream ends at once (a client opens a new one when it starts).
fn in_progress(status: &str) -> bool {
    matches!(status, "sending" | "paused")
}

/// Progress streams one caller may hold open at once.
const MAX_STREAMS_PER_CALLER: usize = 4;

static OPEN_STREAMS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, usize>>> = std::sync::LazyLock::new(Default::default);

/// One open stream of a caller; dropping it (the stream ends or the client goes) frees its place.
struct StreamSlot(String);

impl StreamSlot {
    fn take(caller: &Caller) -> Result<Self, ApiError> {
        let key = caller.0.actor.0.clone();
        let mut open = OPEN_STREAMS.lock().expect("stream count lock");
        let n = open.entry(key.clone()).or_default();
        if *n >= MAX_STREAMS_PER_CALLER {
            return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_streams", format!("at most {MAX_STREAMS_PER_CALLER} progress streams per token at once")));
        }
        *n += 1;
        Ok(Self(key))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = OPEN_STREAMS.lock().expect("stream count lock");
        if let Some(n) = open.get_mut(&self.0) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.0);
            }
        }
    }
}

#[utoipa::path(get, path = "/api/v1/issues/{slug}/events", tag = "issues", params(("slug" = String, Path)),
    responses((status = 200, description = "`progress` events, each an issue status as JSON, one a second while the send is sending or paused; one event, then the end, otherwise", content_type = "text/event-stream"), (status = 404, body = ApiErrorBody), (status = 429, description = "too many streams open for this token", body = ApiErrorBody)))]
pub async fn issue_events(caller: Caller, Extract(state): Extract<State>, ApiPath(slug): ApiPath<String>) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.may(Permission::Read)?;
    send_status(&state.app, &slug).await?;
    let slot = StreamSlot::take(&caller)?;
    let stream = futures_util::stream::unfold(Some((state, slug, true, slot)), |step| async move {
        let (state, slug, first, slot) = step?;
        if !first {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let status = send_status(&state.app, &slug).await.ok()?;
        let event = Event::default().event("progress").json_data(&status).unwrap_or_default();
        let next = in_progress(&status.status).then_some((state, slug, false, slot));
        Some((Ok(event), next))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
