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

use super::{ApiError, ApiPath, ApiQuery, ApiText, BadGateway, ErrorCode, BadRequest, Caller, Conflict, Forbidden, Invalid, NotFound, TooLarge, TooManyRequests, Unauthorized, UnsupportedType};
use crate::delivery::status::{SendStatus, send_status};
use crate::domain::Permission;
use crate::operations::sends::{self, Control};
use crate::publishing::{self, Format, PreviewError, PublishError};
use crate::store::{Issue, IssueSaved};
use crate::web::State;

/// How many issues the listing shows, newest first.
const LISTED: i64 = 500;

#[utoipa::path(get, path = "/api/v1/issues", tag = "issues", responses((status = 200, body = Vec<Issue>), (status = 401, response = Unauthorized)))]
pub async fn list_issues(caller: Caller, Extract(state): Extract<State>) -> Result<Json<Vec<Issue>>, ApiError> {
    caller.may(Permission::Read)?;
    Ok(Json(state.app.store.all_issues(LISTED).await?))
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SavedIssue {
    slug: String,
    list: String,
    saved: IssueSaved,
    scheduled_for: Option<chrono::DateTime<chrono::Utc>>,
    /// What the text layout's reader was unsure of, with its line (empty for Markdown).
    warnings: Vec<String>,
}

/// For an issue in the editorial office's text layout (masthead, contents, `聚焦` sections):
/// the list it is for and its date. Markdown with front matter names both itself.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NewIssueParams {
    /// The list's slug; required for the text layout
    #[param(example = "news")]
    list: Option<String>,
    /// The issue's date, YYYY-MM-DD (text layout; default today)
    #[param(format = Date, example = "2026-12-01")]
    date: Option<String>,
}

/// The issue file's text: what the server checks (TOML front matter, a list that exists, the
/// renderer's limits) no schema can say, so a well-formed request may still be a 422 naming the
/// line.
struct IssueText;

impl utoipa::PartialSchema for IssueText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::text_body(1, "+++\nlist = \"news\"\nslug = \"2026-12\"\ntitle = \"December 2026\"\ndate = 2026-12-01\n+++\n\n## Focus\n\nA piece of news.\n")
    }
}

impl ToSchema for IssueText {}

#[utoipa::path(post, path = "/api/v1/issues", tag = "issues",
    params(NewIssueParams),
    request_body(description = "The issue file's text: TOML front matter between +++ lines (with `list`, `slug`, `title`, `date`), then Markdown; or, as text/plain, an issue in the editorial office's text layout (masthead, contents, 聚焦 sections, ◇ items) with `list` (and `date`) in the query",
        content((inline(IssueText) = "text/markdown"), (inline(IssueText) = "text/plain"))),
    responses((status = 201, body = SavedIssue), (status = 200, body = SavedIssue), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden),
        (status = 409, response = Conflict), (status = 413, response = TooLarge), (status = 415, response = UnsupportedType), (status = 422, response = Invalid)))]
pub async fn create_issue(caller: Caller, Extract(state): Extract<State>, ApiQuery(params): ApiQuery<NewIssueParams>, headers: HeaderMap, ApiText(text): ApiText) -> Result<(StatusCode, Json<SavedIssue>), ApiError> {
    caller.may(Permission::Edit)?;
    // Without a Content-Type the text is taken as it is (`curl --data-binary @issue.md`).
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let essence = content_type.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        if essence != "text/markdown" && essence != "text/plain" {
            return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType, "send the issue file's text with Content-Type: text/markdown"));
        }
    }
    // Images resolve against the content folder, as for files dropped there; the name stands
    // for the request in messages and is not a valid slug, so the front matter must give one.
    let path = state.app.config.content.issues_dir.join(format!("{REQUEST_STEM}.md"));
    let may_send = caller.0.role.allows(Permission::Own);
    let (markdown, warnings) = if publishing::is_text_layout(&path, &text) { from_text_layout(&path, &text, &params)? } else { (text, Vec::new()) };
    let added = publishing::add_issue_as(&state.app, &path, &markdown, caller.actor(), may_send).await.map_err(|e| publish_error(e, &path))?;
    let status = if added.saved == IssueSaved::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(SavedIssue { slug: added.slug, list: added.list, saved: added.saved, scheduled_for: added.scheduled_for, warnings })))
}

/// The Markdown a text-layout issue becomes, with the reader's warnings.
fn from_text_layout(path: &std::path::Path, text: &str, params: &NewIssueParams) -> Result<(String, Vec<String>), ApiError> {
    let list = params.list.as_deref().map(str::trim).filter(|l| !l.is_empty()).ok_or_else(|| ApiError::invalid("list", "an issue in the text layout needs the list it is for: ?list=SLUG"))?;
    let date = match params.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => chrono::Utc::now().date_naive(),
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| ApiError::invalid("date", format!("{d:?} is not a date YYYY-MM-DD")))?,
    };
    let (converted, _) = publishing::convert_text(path, text.as_bytes(), list, date).map_err(|e| publish_error(e, path))?;
    Ok((converted.markdown, converted.warnings.iter().map(ToString::to_string).collect()))
}

/// Stands for the request body where a file name would be; not a valid slug.
const REQUEST_STEM: &str = "(request body)";

fn publish_error(e: PublishError, path: &std::path::Path) -> ApiError {
    match e {
        PublishError::Store { source, .. } => source.into(),
        PublishError::NotAllowed { reason, .. } => ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, format!("only an owner may schedule a send: {reason}")),
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
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, "internal error")
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RenderParams {
    /// Default html
    #[param(value_type = Option<RenderFormat>)]
    format: Option<String>,
    /// Render as this subscriber would receive it (editors and owners)
    #[param(format = Email, pattern = "^[\\u0020-\\u007e]+@[^@]+$", example = "ann@example.com")]
    to: Option<String>,
}

/// What `format` asks for: the web version, the plain-text part, or the whole message.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RenderFormat {
    Html,
    Text,
    Eml,
}

#[utoipa::path(get, path = "/api/v1/issues/{slug}", tag = "issues", params(("slug" = String, Path, example = "2026-12"), RenderParams),
    responses((status = 200, description = "The rendering", content((String = "text/html"), (String = "text/plain"), (String = "message/rfc822"))), (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 422, response = Invalid)))]
pub async fn render_issue(caller: Caller, Extract(state): Extract<State>, ApiPath(slug): ApiPath<String>, ApiQuery(p): ApiQuery<RenderParams>) -> Result<Response, ApiError> {
    caller.may(Permission::Read)?;
    // Read here rather than by the query extractor: an unknown format is a 422 naming the field.
    let format = match p.format.as_deref() {
        None => RenderFormat::Html,
        Some(text) => RenderFormat::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(text)).map_err(|_| ApiError::invalid("format", format!("{text:?} is not html, text or eml")))?,
    };
    let (format, content_type) = match format {
        RenderFormat::Html => (Format::Html, "text/html; charset=utf-8"),
        RenderFormat::Text => (Format::Text, "text/plain; charset=utf-8"),
        RenderFormat::Eml => (Format::Eml, "message/rfc822"),
    };
    // A subscriber's own copy carries their signed links: an editor's to see, not a viewer's.
    if p.to.is_some() {
        caller.may(Permission::Edit)?;
    }
    let to = p.to.as_deref().map(|t| crate::domain::EmailAddress::parse(t).map_err(|e| ApiError::invalid("to", e))).transpose()?;
    let bytes = publishing::preview(&state.app, &slug, format, to.as_ref()).await.map_err(|e| match e {
        PreviewError::Store(s) => ApiError::from(s),
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, other),
    })?;
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

/// Give at most one of `at` and `test`; neither sends to the list now.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"at": "2026-12-01T08:00:00Z"}))]
pub struct SendBody {
    /// Queue at this time instead of now
    #[schema(format = DateTime, example = "2026-12-01T08:00:00Z")]
    at: Option<String>,
    /// Send one copy to this address only; the list is not touched
    #[schema(format = Email, pattern = "^[\\u0020-\\u007e]+@[^@]+$", example = "proof@example.org")]
    test: Option<String>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SendAccepted {
    issue: String,
    outcome: SendOutcome,
    /// How many are queued (`queued`)
    recipients: Option<u64>,
    /// When the send starts (`scheduled`)
    scheduled_for: Option<chrono::DateTime<chrono::Utc>>,
    /// Where the copy went (`test_sent`)
    test: Option<String>,
}

#[derive(Debug, Clone, Copy, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SendOutcome {
    Queued,
    Scheduled,
    TestSent,
}

#[utoipa::path(post, path = "/api/v1/issues/{slug}/send", tag = "issues", params(("slug" = String, Path, example = "2026-12")),
    request_body(content = SendBody, description = "Optional: without a body the issue is sent to its list now"),
    responses((status = 202, body = SendAccepted), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 409, response = Conflict), (status = 413, response = TooLarge), (status = 415, response = UnsupportedType), (status = 422, response = Invalid), (status = 429, response = TooManyRequests), (status = 502, response = BadGateway)))]
pub async fn send_issue(caller: Caller, Extract(state): Extract<State>, ApiPath(slug): ApiPath<String>, headers: HeaderMap, ApiText(body): ApiText) -> Result<(StatusCode, Json<SendAccepted>), ApiError> {
    let body: SendBody = if body.trim().is_empty() { SendBody::default() } else { parse_json(&headers, &body)? };
    // A test copy is an editor's; sending to a list is the owner's.
    caller.may(if body.test.is_some() { Permission::Edit } else { Permission::Own })?;
    let issue = state.app.store.issue_by_slug(&slug).await?;
    let app = &state.app;
    let mut accepted = SendAccepted { issue: issue.slug.clone(), outcome: SendOutcome::Queued, recipients: None, scheduled_for: None, test: None };
    match (body.test, body.at) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("at", "a test copy is sent now: give `test` or `at`, not both")),
        (Some(address), None) => {
            let email = sends::send_test(app, &issue, &address, caller.actor()).await?;
            (accepted.outcome, accepted.test) = (SendOutcome::TestSent, Some(email.to_string()));
        }
        (None, Some(at)) => {
            let at = sends::parse_time("at", &at)?;
            sends::schedule(app, &issue, at, caller.actor()).await?;
            (accepted.outcome, accepted.scheduled_for) = (SendOutcome::Scheduled, Some(at));
        }
        (None, None) => {
            let n = sends::send_now(app, &issue, caller.actor()).await?;
            (accepted.outcome, accepted.recipients) = (SendOutcome::Queued, Some(n));
        }
    }
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

fn parse_json<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &str) -> Result<T, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType, "send the body as application/json"));
    }
    serde_json::from_str(body).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, format!("the JSON body cannot be read: {e}")))
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct StatusChanged {
    issue: String,
    status: ControlledStatus,
}

/// Where pause, resume and cancel leave a send.
#[derive(Debug, Clone, Copy, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ControlledStatus {
    Paused,
    Sending,
    Cancelled,
}

async fn control(caller: Caller, state: State, slug: String, action: Control) -> Result<Json<StatusChanged>, ApiError> {
    caller.may(Permission::Own)?;
    let issue = state.app.store.issue_by_slug(&slug).await?;
    sends::control(&state.app, &issue, action, caller.actor()).await?;
    let status = match action {
        Control::Pause => ControlledStatus::Paused,
        Control::Resume => ControlledStatus::Sending,
        Control::Cancel => ControlledStatus::Cancelled,
    };
    Ok(Json(StatusChanged { issue: issue.slug, status }))
}

#[utoipa::path(post, path = "/api/v1/issues/{slug}/pause", tag = "issues", params(("slug" = String, Path, example = "2026-12")),
    responses((status = 200, body = StatusChanged), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict)))]
pub async fn pause_issue(caller: Caller, Extract(state): Extract<State>, ApiPath(slug): ApiPath<String>) -> Result<Json<StatusChanged>, ApiError> {
    control(caller, state, slug, Control::Pause).await
}

#[utoipa::path(post, path = "/api/v1/issues/{slug}/resume", tag = "issues", params(("slug" = String, Path, example = "2026-12")),
    responses((status = 200, body = StatusChanged), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict)))]
pub async fn resume_issue(caller: Caller, Extract(state): Extract<State>, ApiPath(slug): ApiPath<String>) -> Result<Json<StatusChanged>, ApiError> {
    control(caller, state, slug, Control::Resume).await
}

#[utoipa::path(post, path = "/api/v1/issues/{slug}/cancel", tag = "issues", params(("slug" = String, Path, example = "2026-12")),
    responses((status = 200, body = StatusChanged), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 409, response = Conflict)))]
pub async fn cancel_issue(caller: Caller, Extract(state): Extract<State>, ApiPath(slug): ApiPath<String>) -> Result<Json<StatusChanged>, ApiError> {
    control(caller, state, slug, Control::Cancel).await
}

#[utoipa::path(get, path = "/api/v1/issues/{slug}/status", tag = "issues", params(("slug" = String, Path, example = "2026-12")),
    responses((status = 200, body = SendStatus), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 404, response = NotFound)))]
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
        let key = caller.0.actor.who().to_string();
        let mut open = OPEN_STREAMS.lock().expect("stream count lock");
        let n = open.entry(key.clone()).or_default();
        if *n >= MAX_STREAMS_PER_CALLER {
            return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyStreams, format!("at most {MAX_STREAMS_PER_CALLER} progress streams per token at once")));
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

#[utoipa::path(get, path = "/api/v1/issues/{slug}/events", tag = "issues", params(("slug" = String, Path, example = "2026-12")),
    responses((status = 200, description = "`progress` events, each an issue status as JSON, one a second while the send is sending or paused; one event, then the end, otherwise", content_type = "text/event-stream"),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 404, response = NotFound), (status = 429, response = TooManyRequests)))]
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
