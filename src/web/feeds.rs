//! The feeds over HTTP: RSS, Atom and JSON Feed of the whole site and of each public list, their
//! RFC 5005 archive documents, `/feeds.opml`, and private lists' personal feeds.
//!
//! Every answer names the WebSub hub and itself in `Link` headers (as the documents do), carries
//! an `ETag` and `Last-Modified` (a conditional request costs one small query and a 304), and a
//! `Cache-Control` that follows how often the section publishes; an archive document is cached
//! for a day. A reader that polls far too often is asked to wait (429 with `Retry-After`).

use axum::body::Body;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;

use super::archive::{Cached, find_public_list, not_modified, validators};
use super::client_ip::ClientIp;
use super::{State, internal, no_store};
use crate::app::Counters;
use crate::domain::token::Purpose;
use crate::publishing::{self, FeedKind};
use crate::store::Issue;

/// Archive documents do not change once written: readers may keep them a day.
const ARCHIVE_CACHE: &str = "public, max-age=86400";

/// The kind a URL asks for, by its file name.
fn kind_of(uri: &Uri) -> Option<FeedKind> {
    FeedKind::ALL.into_iter().find(|k| uri.path().ends_with(k.file()))
}

pub async fn site_feed(AxumState(state): AxumState<State>, headers: HeaderMap, ip: ClientIp, uri: Uri) -> Response {
    serve(&state, &headers, ip, &uri, None, None).await
}

pub async fn list_feed(AxumState(state): AxumState<State>, headers: HeaderMap, ip: ClientIp, uri: Uri, Path(slug): Path<String>) -> Response {
    serve(&state, &headers, ip, &uri, Some(slug), None).await
}

pub async fn site_archive(AxumState(state): AxumState<State>, headers: HeaderMap, ip: ClientIp, uri: Uri, Path(page): Path<String>) -> Response {
    serve(&state, &headers, ip, &uri, None, Some(page)).await
}

pub async fn list_archive(AxumState(state): AxumState<State>, headers: HeaderMap, ip: ClientIp, uri: Uri, Path((slug, page)): Path<(String, String)>) -> Response {
    serve(&state, &headers, ip, &uri, Some(slug), Some(page)).await
}

async fn serve(state: &State, headers: &HeaderMap, ip: ClientIp, uri: &Uri, list_slug: Option<String>, page: Option<String>) -> Response {
    if let Some(wait) = state.limits.feed_poll_wait(ip.0) {
        return too_often(wait);
    }
    let Some(kind) = kind_of(uri) else { return super::not_found(AxumState(state.clone()), headers.clone()).await };
    let page = match page.map(|p| p.parse::<i64>()) {
        None => None,
        Some(Ok(k)) if k >= 1 => Some(k),
        Some(_) => return super::not_found(AxumState(state.clone()), headers.clone()).await,
    };
    let list = match list_slug {
        None => None,
        Some(slug) => match find_public_list(state, &slug).await {
            Ok(Some(list)) => Some(list),
            Ok(None) => return super::not_found(AxumState(state.clone()), headers.clone()).await,
            Err(e) => return internal(state, e),
        },
    };
    let section = publishing::feeds::section_path(list.as_ref());
    let now = Utc::now();
    let version = match state.cache.feed_version(&state.app.store, list.as_ref().map(|l| l.id), now).await {
        Ok(v) => v,
        Err(e) => return internal(state, e),
    };
    let key = format!("{section}|{}|{page:?}", kind.file());
    let etag = super::archive::etag(&key, version);
    let self_url = publishing::feeds::document_url(&state.app, &section, kind, page);
    let cached = state.cache.entries.lock().expect("cache lock").get(&key).cloned().filter(|c| c.version == version);
    if not_modified(headers, &etag, version.1) {
        let cache_control = cached.map_or_else(|| "public, max-age=300".to_string(), |c| c.cache_control);
        return with_links(&state.app, &self_url, page.is_none(), validators(StatusCode::NOT_MODIFIED, &etag, version.1, kind.content_type(), &cache_control, Body::empty()));
    }
    let entry = match cached {
        Some(c) => c,
        None => {
            let rendered = match publishing::feeds::section_document(&state.app, list.as_ref(), kind, version.0, page, now).await {
                Ok(Some(r)) => r,
                Ok(None) => return super::not_found(AxumState(state.clone()), headers.clone()).await,
                Err(e) => return internal(state, e),
            };
            let cache_control = if page.is_some() { ARCHIVE_CACHE.to_string() } else { feed_cache_control(rendered.ttl_minutes) };
            let entry = Cached { version, body: Bytes::from(rendered.body), cache_control };
            state.cache.entries.lock().expect("cache lock").insert(key, entry.clone());
            entry
        }
    };
    with_links(&state.app, &self_url, page.is_none(), validators(StatusCode::OK, &etag, version.1, kind.content_type(), &entry.cache_control, Body::from(entry.body)))
}

/// A reader may keep a subscription feed a quarter of the time between polls the feed asks
/// for, between five minutes and half an hour: a new issue still shows soon, and the hub tells
/// subscribers at once.
fn feed_cache_control(ttl_minutes: u32) -> String {
    format!("public, max-age={}", (u64::from(ttl_minutes) * 60 / 4).clamp(300, 1800))
}

/// `Link: <hub>; rel="hub", <self>; rel="self"` (WebSub discovery; archive documents have no hub).
fn with_links(app: &crate::app::App, self_url: &str, hub: bool, mut response: Response) -> Response {
    let mut value = format!("<{self_url}>; rel=\"self\"");
    if hub {
        value = format!("<{}>; rel=\"hub\", {value}", publishing::feeds::hub_url(app));
    }
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::LINK, v);
    }
    response
}

fn too_often(wait_secs: u64) -> Response {
    super::wait_please(wait_secs, "this address polls the feeds too often: please wait, or subscribe through the WebSub hub")
}

/// Every public list's feed, for a feed reader to import.
pub async fn opml(AxumState(state): AxumState<State>, ip: ClientIp) -> Response {
    if let Some(wait) = state.limits.feed_poll_wait(ip.0) {
        return too_often(wait);
    }
    match state.app.store.public_lists().await {
        Ok(lists) => ([(header::CONTENT_TYPE, "text/x-opml; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], publishing::feeds_opml(&state.app, &lists)).into_response(),
        Err(e) => internal(&state, e),
    }
}

/// A private list's reader's own feed, `/personal/{token}/feed.xml` (or `atom.xml`,
/// `feed.json`): the list's issues while the person is a confirmed subscriber who may be mailed.
/// The token never reaches a log; requests are counted.
pub async fn personal(AxumState(state): AxumState<State>, headers: HeaderMap, ip: ClientIp, uri: Uri, Path(token): Path<String>) -> Response {
    if let Some(wait) = state.limits.feed_poll_wait(ip.0) {
        return too_often(wait);
    }
    Counters::add(&state.app.counters.personal_feed_requests, 1);
    let gone = || (StatusCode::NOT_FOUND, no_store(), "this feed is not available (the subscription ended, or the link is not valid)\n").into_response();
    let Some(kind) = kind_of(&uri) else { return gone() };
    let Ok(claims) = state.app.keys.verify(&token, Purpose::Feed, Utc::now()) else { return gone() };
    let list = match state.app.store.subscribed_list(claims.subscriber_id, claims.list_id).await {
        Ok(Some(list)) => list,
        Ok(None) => return gone(),
        Err(e) => return internal(&state, e),
    };
    let now = Utc::now();
    let version = match state.app.store.list_version(list.id, now).await {
        Ok(v) => v,
        Err(e) => return internal(&state, e),
    };
    let etag = super::archive::etag(&format!("personal|{}|{}|{}", claims.subscriber_id, list.id, kind.file()), version);
    let private = "private, max-age=300";
    if not_modified(&headers, &etag, version.1) {
        return validators(StatusCode::NOT_MODIFIED, &etag, version.1, kind.content_type(), private, Body::empty());
    }
    let issues: Vec<Issue> = match state.app.store.list_issues(list.id, now, i64::from(state.app.config.feeds.max_items), 0).await {
        Ok(i) => i,
        Err(e) => return internal(&state, e),
    };
    let section = format!("/lists/{}", list.slug);
    let meta = publishing::list_meta(&list, &section);
    let self_url = format!("{}/personal/{token}/{}", state.app.site.base_url, kind.file());
    let links = crate::render::feeds::FeedLinks { self_url, ttl_minutes: publishing::feeds::ttl_minutes(&issues), ..Default::default() };
    let body = publishing::feeds::document(&state.app, &meta, &links, &issues, kind);
    validators(StatusCode::OK, &etag, version.1, kind.content_type(), private, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_is_the_file_name() {
        assert_eq!(kind_of(&"/lists/x/archive/3/feed.json".parse().unwrap()), Some(FeedKind::Json));
        assert_eq!(kind_of(&"/atom.xml".parse().unwrap()), Some(FeedKind::Atom));
        assert_eq!(kind_of(&"/feed.txt".parse().unwrap()), None);
    }

    #[test]
    fn a_feed_is_cached_for_a_quarter_of_its_ttl_within_bounds() {
        assert_eq!(feed_cache_control(60), "public, max-age=900");
        assert_eq!(feed_cache_control(1440), "public, max-age=1800");
        assert_eq!(feed_cache_control(1), "public, max-age=300");
    }
}
