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

use super::{ApiError, ApiJson, ApiPath, ApiQuery, BadRequest, Caller, Conflict, ErrorCode, Forbidden, Invalid, NotFound, TooLarge, Unauthorized, UnsupportedType};
use crate::domain::{ListSlug, Permission};
use crate::operations::lists::{ListInput, create_list as create};
use crate::store::{ImportJob, List, ListCounts};
use crate::web::State;

/// An upload larger than this is refused (413) before the import starts.
const MAX_IMPORT_BYTES: u64 = 1 << 30;

/// Counts are recounted in the background within seconds of a change (`tidings list ls` counts
/// exactly, now); the `Last-Modified` header says when.
#[utoipa::path(get, path = "/api/v1/lists", tag = "lists",
    responses((status = 200, body = Vec<ListCounts>, headers(("Last-Modified" = String, description = "when the counts were taken"))), (status = 401, response = Unauthorized)))]
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
#[serde(deny_unknown_fields)]
#[schema(example = json!({"slug": "news", "name": "Tech News", "language": "en", "description": "What happened this month"}))]
pub struct NewListBody {
    /// 1 to 64 lower-case letters, digits, `-` or `_`, starting with a letter or digit
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", example = "news")]
    slug: String,
    /// Not blank, on one line
    #[schema(pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$", example = "Tech News")]
    name: String,
    /// A language tag such as `en` or `zh-Hans` (default: `site.default_language`)
    #[schema(pattern = "^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$", max_length = 35, example = "en")]
    language: Option<String>,
    #[serde(default)]
    description: String,
    /// false keeps the list's issues off the public archive and feeds; each confirmed subscriber
    /// then has a personal feed (default true)
    public: Option<bool>,
}

#[utoipa::path(post, path = "/api/v1/lists", tag = "lists", request_body = NewListBody,
    responses((status = 201, body = List), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 409, response = Conflict),
        (status = 413, response = TooLarge), (status = 415, response = UnsupportedType), (status = 422, response = Invalid)))]
pub async fn create_list(caller: Caller, Extract(state): Extract<State>, ApiJson(body): ApiJson<NewListBody>) -> Result<(StatusCode, Json<List>), ApiError> {
    caller.may(Permission::Edit)?;
    let input = ListInput { slug: &body.slug, name: &body.name, language: body.language.as_deref(), description: &body.description, public: body.public.unwrap_or(true) };
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

#[utoipa::path(post, path = "/api/v1/lists/{slug}/import", tag = "lists", params(("slug" = String, Path, pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", example = "news"), ImportParams),
    request_body(description = "A CSV with an `email` column; `name`, `status` and any other columns are optional. Rows that cannot be imported are reported by line in the job.",
        content((inline(CsvBody) = "text/csv"), (inline(CsvBody) = "text/plain"))),
    responses((status = 202, body = JobRef), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 413, response = TooLarge), (status = 415, response = UnsupportedType), (status = 422, response = Invalid)))]
pub async fn start_import(caller: Caller, Extract(state): Extract<State>, ApiPath(slug): ApiPath<String>, ApiQuery(params): ApiQuery<ImportParams>, headers: HeaderMap, body: Body) -> Result<(StatusCode, Json<JobRef>), ApiError> {
    caller.may(Permission::Edit)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !(content_type.starts_with("text/csv") || content_type.starts_with("text/plain")) {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType, "send the CSV as the body with Content-Type: text/csv"));
    }
    let slug = ListSlug::parse(&slug).map_err(|e| ApiError::invalid("slug", e))?;
    let list = state.app.store.list_by_slug(&slug).await?;
    let file = save_upload(body).await?;
    check_header(&file).await?;
    let id = crate::operations::imports::start(state.app.clone(), list, params.confirmed, file, caller.actor().clone()).await?;
    Ok((StatusCode::ACCEPTED, Json(JobRef { id })))
}

/// The CSV text: a header record with an `email` column (the rows are checked one by one, in the
/// background). The pattern is what `has_email_column` checks: a plain subset of what the CSV
/// reader takes (no quotes inside unquoted fields), so a body the document admits is imported.
struct CsvBody;

const CSV_PATTERN: &str = r#"^\uFEFF?(([^",\r\n]*|"([^"]|"")*"),)*([ \t]*[Ee][Mm][Aa][Ii][Ll][ \t]*|"[ \t]*[Ee][Mm][Aa][Ii][Ll][ \t]*")(,|\r?\n|$)"#;

impl utoipa::PartialSchema for CsvBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String).pattern(Some(CSV_PATTERN)).examples(["email,name\nann@example.com,Ann\n"]).into()
    }
}

impl ToSchema for CsvBody {}

/// Whether the header record, at the start of `text`, names an `email` column; `CSV_PATTERN`
/// matches exactly the texts for which this is true.
fn has_email_column(text: &str) -> bool {
    let mut rest = text.strip_prefix('\u{feff}').unwrap_or(text);
    loop {
        if is_email_field(rest) {
            return true;
        }
        match skip_field(rest).and_then(|after| after.strip_prefix(',')) {
            Some(next) => rest = next,
            None => return false,
        }
    }
}

/// `[ \t]*email[ \t]*` or `"[ \t]*email[ \t]*"`, any case, then the end of the field.
fn is_email_field(text: &str) -> bool {
    let blank = |s: &str| s.trim_start_matches([' ', '\t']).to_string();
    let (quoted, inner) = match text.strip_prefix('"') {
        Some(inner) => (true, inner),
        None => (false, text),
    };
    let inner = blank(inner);
    if inner.len() < 5 || !inner.as_bytes()[..5].eq_ignore_ascii_case(b"email") {
        return false;
    }
    let after = blank(&inner[5..]);
    let after = if quoted { match after.strip_prefix('"') { Some(a) => a.to_string(), None => return false } } else { after };
    after.is_empty() || after.starts_with(',') || after.starts_with('\n') || after.starts_with("\r\n")
}

/// Past one field, unquoted (`[^",\r\n]*`: the CSV reader ends a record at either) or quoted (`"([^"]|"")*"`); None when it is neither.
fn skip_field(text: &str) -> Option<&str> {
    match text.strip_prefix('"') {
        Some(mut rest) => loop {
            let close = rest.find('"')?;
            match rest[close + 1..].strip_prefix('"') {
                Some(more) => rest = more,
                None => return Some(&rest[close + 1..]),
            }
        },
        None => {
            let end = text.find(['"', ',', '\r', '\n']).unwrap_or(text.len());
            (!text[end..].starts_with('"')).then(|| &text[end..])
        }
    }
}

/// The header is read from the saved upload (at most its first 64 KiB).
async fn check_header(path: &std::path::Path) -> Result<(), ApiError> {
    use tokio::io::AsyncReadExt;
    let failed = |e: std::io::Error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, format!("cannot read the upload back: {e}"));
    let mut head = Vec::new();
    tokio::fs::File::open(path).await.map_err(failed)?.take(64 << 10).read_to_end(&mut head).await.map_err(failed)?;
    if has_email_column(&String::from_utf8_lossy(&head)) {
        Ok(())
    } else {
        Err(ApiError::invalid("body", "the CSV's header must name an `email` column (such as `email,name`)"))
    }
}

#[cfg(test)]
mod tests {
    use super::has_email_column;

    #[test]
    fn the_header_names_an_email_column_as_the_csv_reader_reads_it() {
        for good in ["email", "email,name\nann@example.com,Ann", "name, Email \r\nAnn,ann@example.com", "\u{feff}EMAIL", "\"a,b\",\"x\"\"y\",\" email\"\n", "\"line\nbreak\",email"] {
            assert!(has_email_column(good), "{good:?}");
        }
        for bad in ["{}", "", "name\nemail", "e-mail,name", "emails", "a\"b,email", "\"email", "email\"", "  \"email\"", "\"open,email", "email\rname", "a\rb,email"] {
            assert!(!has_email_column(bad), "{bad:?}");
        }
    }
}

/// The body, streamed to a temporary file: an import of a million rows is never in memory.
async fn save_upload(body: Body) -> Result<tempfile::TempPath, ApiError> {
    let failed = |e: std::io::Error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, format!("cannot store the upload: {e}"));
    let path = tempfile::NamedTempFile::new().map_err(failed)?.into_temp_path();
    let mut file = tokio::fs::File::create(&path).await.map_err(failed)?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, format!("the upload was interrupted: {e}")))?;
        size += chunk.len() as u64;
        if size > MAX_IMPORT_BYTES {
            return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge, format!("an import may be at most {} MiB; split the file", MAX_IMPORT_BYTES >> 20)));
        }
        file.write_all(&chunk).await.map_err(failed)?;
    }
    file.flush().await.map_err(failed)?;
    if size == 0 {
        return Err(ApiError::invalid("body", "the CSV is empty"));
    }
    Ok(path)
}

#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "lists", params(("id" = i64, Path, example = 1)),
    responses((status = 200, body = ImportJob), (status = 400, response = BadRequest), (status = 401, response = Unauthorized), (status = 404, response = NotFound)))]
pub async fn import_status(caller: Caller, Extract(state): Extract<State>, ApiPath(id): ApiPath<i64>) -> Result<Json<ImportJob>, ApiError> {
    caller.may(Permission::Read)?;
    Ok(Json(state.app.store.import_job(id).await?))
}
