//! The archive's pages over HTTP (the feeds are `web::feeds`). Each answer carries an `ETag` and `Last-Modified` derived
//! from what it shows (how many issues are public now, and when the latest changed), so a feed
//! reader's conditional request costs one small query and a 304. Rendered bodies are kept in
//! memory until that version changes.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Body;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::{State, WebState, internal};
use crate::domain::ListSlug;
use crate::publishing;
use crate::render::archive::{PAGE_SIZE, issue_page};
use crate::store::{List, StoreError};

pub(super) type Version = (i64, Option<DateTime<Utc>>);

#[derive(Default)]
pub struct Cache {
    pub(super) entries: Mutex<HashMap<String, Cached>>,
    /// Each section's version as last read, and when: feeds trust it for [`FEED_VERSION_FRESH`].
    versions: Mutex<HashMap<Option<i64>, (std::time::Instant, Version)>>,
}

/// How long a feed trusts a section's version without asking the database: a new issue shows in
/// the feeds within a second, and a feed polled thousands of times a second costs no query each.
const FEED_VERSION_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

impl Cache {
    /// The section's version, from memory when it was read less than a second ago.
    pub(super) async fn feed_version(&self, store: &crate::store::Store, list_id: Option<i64>, now: DateTime<Utc>) -> Result<Version, StoreError> {
        let known = self.versions.lock().expect("cache lock").get(&list_id).copied();
        if let Some((at, version)) = known
            && at.elapsed() < FEED_VERSION_FRESH
        {
            return Ok(version);
        }
        let version = store.archive_version(list_id, now).await?;
        self.versions.lock().expect("cache lock").insert(list_id, (std::time::Instant::now(), version));
        Ok(version)
    }
}

#[derive(Clone)]
pub(super) struct Cached {
    pub version: Version,
    pub body: Bytes,
    /// The answer's Cache-Control (a feed's follows how often its list publishes).
    pub cache_control: String,
}

const HTML: &str = "text/html; charset=utf-8";
/// Readers may reuse a page for a minute, then revalidate with the ETag.
const CACHE_CONTROL: &str = "public, max-age=60";

/// What one archive URL shows: which section, and which rendering.
enum View {
    Index(i64),
    Issue(String),
}

pub async fn home(s: AxumState<State>, h: HeaderMap) -> Response {
    section(s, h, None, View::Index(1)).await
}

pub async fn home_page(s: AxumState<State>, h: HeaderMap, Path(page): Path<i64>) -> Response {
    section(s, h, None, View::Index(page)).await
}

pub async fn list_home(s: AxumState<State>, h: HeaderMap, Path(slug): Path<String>) -> Response {
    section(s, h, Some(slug), View::Index(1)).await
}

pub async fn list_page(s: AxumState<State>, h: HeaderMap, Path((slug, page)): Path<(String, i64)>) -> Response {
    section(s, h, Some(slug), View::Index(page)).await
}

pub async fn issue(s: AxumState<State>, h: HeaderMap, Path(slug): Path<String>) -> Response {
    section(s, h, None, View::Issue(slug)).await
}

async fn section(AxumState(state): AxumState<State>, headers: HeaderMap, list_slug: Option<String>, view: View) -> Response {
    let list = match list_slug {
        None => None,
        Some(slug) => match find_public_list(&state, &slug).await {
            Ok(Some(list)) => Some(list),
            Ok(None) => return super::not_found(AxumState(state), headers).await,
            Err(e) => return internal(&state, e),
        },
    };
    let now = Utc::now();
    let version = match state.app.store.archive_version(list.as_ref().map(|l| l.id), now).await {
        Ok(v) => v,
        Err(e) => return internal(&state, e),
    };
    let (key, content_type) = match &view {
        View::Index(page) => (format!("{}/page/{page}", publishing::feeds::section_path(list.as_ref())), HTML),
        View::Issue(slug) => (format!("/issues/{slug}"), HTML),
    };
    let etag = etag(&key, version);
    if not_modified(&headers, &etag, version.1) {
        return validators(StatusCode::NOT_MODIFIED, &etag, version.1, content_type, CACHE_CONTROL, Body::empty());
    }
    let cached = state.cache.entries.lock().expect("cache lock").get(&key).cloned();
    let body = match cached {
        Some(c) if c.version == version => c.body,
        _ => match render(&state, list.as_ref(), &view, version, now).await {
            Ok(Some(body)) => {
                let body = Bytes::from(body);
                state.cache.entries.lock().expect("cache lock").insert(key, Cached { version, body: body.clone(), cache_control: CACHE_CONTROL.to_string() });
                body
            }
            Ok(None) => return super::not_found(AxumState(state), headers).await,
            Err(e) => return internal(&state, e),
        },
    };
    validators(StatusCode::OK, &etag, version.1, content_type, CACHE_CONTROL, Body::from(body))
}

async fn render(state: &WebState, list: Option<&List>, view: &View, version: Version, now: DateTime<Utc>) -> Result<Option<String>, StoreError> {
    let app = &state.app;
    let path = list.map(|l| format!("/lists/{}", l.slug)).unwrap_or_default();
    let meta = match list {
        Some(l) => publishing::list_meta(l, &path),
        None => publishing::site_meta(app),
    };
    let list_id = list.map(|l| l.id);
    Ok(match view {
        View::Index(page) => {
            let pages = publishing::page_count(version.0);
            if *page < 1 || *page > pages {
                return Ok(None);
            }
            let issues = app.store.public_issues(list_id, now, PAGE_SIZE, (page - 1) * PAGE_SIZE).await?;
            Some(publishing::index_html(app, &meta, &issues, *page, pages))
        }
        View::Issue(slug) => app.store.public_issue(slug, now).await?.map(|i| issue_page(&app.site, &publishing::view(&i), &i.body_html)),
    })
}

pub(super) async fn find_public_list(state: &WebState, slug: &str) -> Result<Option<List>, StoreError> {
    let Ok(slug) = ListSlug::parse(slug) else { return Ok(None) };
    match state.app.store.list_by_slug(&slug).await {
        Ok(list) if list.public => Ok(Some(list)),
        Ok(_) | Err(StoreError::UnknownList(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) fn etag(key: &str, (count, updated): Version) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{key}|{count}|{updated:?}").as_bytes());
    format!("\"{}\"", digest[..12].iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// `If-None-Match` decides when present (RFC 9110 §13.2.2); else `If-Modified-Since`.
pub(super) fn not_modified(headers: &HeaderMap, etag: &str, last_modified: Option<DateTime<Utc>>) -> bool {
    if let Some(tags) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        return tags.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        });
    }
    let since = headers.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok()).and_then(|v| DateTime::parse_from_rfc2822(v).ok());
    matches!((since, last_modified), (Some(since), Some(modified)) if modified.timestamp() <= since.timestamp())
}

pub(super) fn validators(status: StatusCode, etag: &str, last_modified: Option<DateTime<Utc>>, content_type: &'static str, cache_control: &str, body: Body) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(etag).expect("hex in quotes"));
    if let Some(t) = last_modified {
        h.insert(header::LAST_MODIFIED, HeaderValue::from_str(&http_date(t)).expect("an HTTP date"));
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_str(cache_control).expect("a cache directive"));
    if status == StatusCode::OK {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    response
}

/// Images beside the issue files (never the issue files themselves, nor anything hidden).
pub async fn media(AxumState(state): AxumState<State>, headers: HeaderMap, Path(path): Path<String>) -> Response {
    let Some(content_type) = publishing::media_type(&path) else {
        return super::not_found(AxumState(state), headers).await;
    };
    match tokio::fs::read(state.app.config.content.issues_dir.join(&path)).await {
        Ok(bytes) => ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=86400")], bytes).into_response(),
        Err(_) => super::not_found(AxumState(state), headers).await,
    }
}

pub async fn logo() -> Response {
    ([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "public, max-age=86400")], publishing::LOGO).into_response()
}
