//! The public web: archive and feeds, sign-up and the links in every email, health and metrics.
//! One axum router, served inside `tidings serve` next to the delivery engine.

pub mod admin;
pub mod api;
mod archive;
mod feeds;
pub mod client_ip;
mod guard;
mod leave;
mod metrics;
mod server;
mod stall;
mod subscribe;
mod unsubscriber;
mod webhooks;
mod websub;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::App;
use crate::render::i18n::PageStrings;
use crate::render::public_pages::notice_page;

/// Forms are small; nothing a reader sends needs more.
const BODY_LIMIT: usize = 16 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Styles are inline in each page, images may come from the issue's own links, and forms only
/// post back here. Nothing may frame the pages.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("cannot listen on {bind}: {source}")]
    Bind { bind: String, source: std::io::Error },
}

pub struct WebState {
    pub app: Arc<App>,
    limits: guard::Limits,
    metrics: metrics::HttpMetrics,
    cache: archive::Cache,
    unsubscriber: unsubscriber::Unsubscriber,
    admin_limits: admin::LoginLimits,
    /// The dashboard's chart data and the newest event it reflects.
    admin_charts: tokio::sync::RwLock<Option<(i64, std::time::Instant, Arc<admin::ChartData>)>>,
    /// `http.trusted_proxies`, parsed.
    proxies: client_ip::Proxies,
    mailgun_stamps: webhooks::MailgunStamps,
}

pub type State = Arc<WebState>;

/// Serves HTTP on `http.bind` until `stop` turns true; requests in progress finish first.
pub async fn serve_http(app: Arc<App>, stop: watch::Receiver<bool>) -> Result<(), WebError> {
    let bind = app.config.http.bind.clone();
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|source| WebError::Bind { bind: bind.clone(), source })?;
    fail_interrupted_imports(&app).await;
    let state = Arc::new(WebState {
        limits: guard::Limits::new(&app.config.http, &app.config.feeds),
        metrics: metrics::HttpMetrics::default(),
        cache: archive::Cache::default(),
        unsubscriber: unsubscriber::Unsubscriber::start(app.store.clone()),
        admin_limits: admin::LoginLimits::default(),
        admin_charts: tokio::sync::RwLock::new(None),
        proxies: client_ip::Proxies { nets: app.config.http.trusted_proxy_nets().unwrap_or_default(), header: app.config.http.forwarded_header },
        mailgun_stamps: webhooks::MailgunStamps::default(),
        app,
    });
    tokio::spawn(guard::forget_old_keys(state.clone(), stop.clone()));
    tokio::spawn(recount(state.clone(), stop.clone()));
    tracing::info!(bind = %listener.local_addr().map(|a| a.to_string()).unwrap_or(bind), "HTTP server listening");
    let metrics = serve_metrics(state.clone(), stop.clone());
    let caps = connection_caps(&state);
    let public = server::serve(listener, router(state), caps, stop);
    tokio::try_join!(async { Ok(public.await) }, metrics).map(|_| ())
}

fn connection_caps(state: &WebState) -> server::Caps {
    let http = &state.app.config.http;
    server::Caps { connections: http.max_connections as usize, per_client: http.max_connections_per_client as usize, trusted: state.proxies.nets.clone() }
}

/// `/metrics` and `/healthz` on `http.metrics_bind`, for the operator's Prometheus only.
async fn serve_metrics(state: State, stop: watch::Receiver<bool>) -> Result<(), WebError> {
    let bind = state.app.config.http.metrics_bind.clone();
    if bind.is_empty() {
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|source| WebError::Bind { bind: bind.clone(), source })?;
    tracing::info!(bind = %bind, "metrics listening");
    let caps = connection_caps(&state);
    let app = Router::new().route("/metrics", get(metrics::metrics)).route("/healthz", get(metrics::healthz)).with_state(state);
    server::serve(listener, app, caps, stop).await;
    Ok(())
}

/// The two CSV uploads, which stream for as long as the client sends (their size is capped
/// instead). Both are for staff: the credential is checked before the body is read.
const UPLOAD_ROUTES: [&str; 2] = ["/admin/import", "/api/v1/lists/{slug}/import"];

/// Every request must finish within `REQUEST_TIMEOUT`, except an upload.
async fn time_limit(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let route = request.extensions().get::<axum::extract::MatchedPath>().map(|m| m.as_str());
    if is_upload(request.method(), route) {
        return next.run(request).await;
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "the request took too long").into_response(),
    }
}

fn is_upload(method: &axum::http::Method, route: Option<&str>) -> bool {
    method == axum::http::Method::POST && route.is_some_and(|r| UPLOAD_ROUTES.contains(&r))
}

async fn fail_interrupted_imports(app: &App) {
    match app.store.fail_interrupted_imports(&crate::delivery::engine::this_hostname(), crate::delivery::engine::process_alive).await {
        Ok(0) => {}
        Ok(interrupted) => tracing::warn!(interrupted, "imports whose process stopped are marked failed"),
        Err(e) => tracing::warn!(error = %e, "cannot look for interrupted imports"),
    }
}

/// Keeps the per-list counts of the dashboard and the API within seconds of the truth, and the
/// dashboard's chart data within half a minute.
async fn recount(state: State, mut stop: watch::Receiver<bool>) {
    let mut charted_up_to = -1;
    let mut failing = false;
    for round in 0u64.. {
        match state.app.store.refresh_list_stats_if_changed().await {
            // Said once an outage, not every round of it.
            Err(e) if !failing => {
                tracing::warn!(error = %e, "cannot recount the lists; trying again every 10 s");
                failing = true;
            }
            Err(_) => {}
            Ok(_) if failing => {
                tracing::info!("the lists are recounted again");
                failing = false;
            }
            Ok(_) => {}
        }
        if !failing && round % 6 == 5 {
            // An instance that died mid-import on another host is noticed by its silence.
            fail_interrupted_imports(&state.app).await;
        }
        let newest = state.app.store.newest_event_id().await.unwrap_or(charted_up_to);
        // Sends move the charts without events (one per delivery would be too many): every
        // 30 s regardless.
        if !failing && (newest != charted_up_to || round % 3 == 0) {
            charted_up_to = newest;
            match admin::chart_data(&state.app.store).await {
                Ok(data) => *state.admin_charts.write().await = Some((newest, std::time::Instant::now(), Arc::new(data))),
                Err(e) => tracing::warn!(error = %e, "cannot compute the dashboard's charts"),
            }
        }
        if tokio::time::timeout(Duration::from_secs(10), stop.changed()).await.is_ok() {
            return;
        }
    }
}

pub fn router(state: State) -> Router {
    let pages = Router::new()
        .route("/", get(archive::home))
        .route("/page/{page}/", get(archive::home_page))
        .route("/lists/{slug}/", get(archive::list_home))
        .route("/lists/{slug}/page/{page}/", get(archive::list_page))
        .route("/issues/{slug}", get(archive::issue))
        .route("/issues/{slug}/", get(archive::issue))
        .route("/feed.xml", get(feeds::site_feed))
        .route("/atom.xml", get(feeds::site_feed))
        .route("/feed.json", get(feeds::site_feed))
        .route("/lists/{slug}/feed.xml", get(feeds::list_feed))
        .route("/lists/{slug}/atom.xml", get(feeds::list_feed))
        .route("/lists/{slug}/feed.json", get(feeds::list_feed))
        .route("/archive/{page}/feed.xml", get(feeds::site_archive))
        .route("/archive/{page}/atom.xml", get(feeds::site_archive))
        .route("/archive/{page}/feed.json", get(feeds::site_archive))
        .route("/lists/{slug}/archive/{page}/feed.xml", get(feeds::list_archive))
        .route("/lists/{slug}/archive/{page}/atom.xml", get(feeds::list_archive))
        .route("/lists/{slug}/archive/{page}/feed.json", get(feeds::list_archive))
        .route("/feeds.opml", get(feeds::opml))
        .route("/websub", axum::routing::post(websub::request))
        .route("/personal/{token}/feed.xml", get(feeds::personal))
        .route("/personal/{token}/atom.xml", get(feeds::personal))
        .route("/personal/{token}/feed.json", get(feeds::personal))
        .route("/media/{*path}", get(archive::media))
        .route("/static/logo.png", get(archive::logo))
        .route("/subscribe", get(subscribe::form).post(subscribe::submit))
        .route("/confirm/{token}", get(subscribe::confirm_form).post(subscribe::confirm))
        .route("/unsubscribe/{token}", get(leave::unsubscribe_form).post(leave::unsubscribe))
        .route("/preferences/{token}", get(leave::preferences).post(leave::save_preferences))
        .route("/healthz", get(metrics::healthz))
        .fallback(not_found)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT));
    let (api, openapi) = api::router();
    let openapi = Arc::new(openapi);
    let api = api
        .route("/api/openapi.json", get(move || std::future::ready(axum::Json(openapi.as_ref().clone()))))
        .route("/api/{*rest}", axum::routing::any(api::not_found));
    let hooks = Router::new().route("/webhooks/bounces/{provider}", axum::routing::post(webhooks::receive)).layer(RequestBodyLimitLayer::new(webhooks::MAX_BODY));
    pages
        .merge(hooks)
        .merge(api)
        .merge(admin::router())
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::observe))
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn(time_limit))
        .layer(security_header(header::CONTENT_SECURITY_POLICY, CSP))
        .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
        // Links carry tokens: never hand them to another site in a Referer.
        .layer(security_header(header::REFERRER_POLICY, "no-referrer"))
        .with_state(state)
}

fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// A page with a heading and a sentence, with its status.
pub(crate) fn notice(state: &WebState, status: StatusCode, p: &PageStrings, heading: &str, text: &str) -> Response {
    (status, no_store(), Html(notice_page(&state.app.site, p, heading, text, None))).into_response()
}

/// `429 Too Many Requests` with `Retry-After` and a sentence saying why.
pub(crate) fn wait_please(wait_secs: u64, why: &str) -> Response {
    let mut response = (StatusCode::TOO_MANY_REQUESTS, no_store(), format!("{why}\n")).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait_secs.max(1)));
    response
}

/// Pages about one person are never cached anywhere.
pub(crate) fn no_store() -> [(HeaderName, HeaderValue); 1] {
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

pub(crate) fn language(state: &WebState, headers: &axum::http::HeaderMap) -> &'static PageStrings {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    PageStrings::negotiate(accept, &state.app.config.site.default_language)
}

async fn not_found(axum::extract::State(state): axum::extract::State<State>, headers: axum::http::HeaderMap) -> Response {
    let p = language(&state, &headers);
    notice(&state, StatusCode::NOT_FOUND, p, p.not_found_heading, p.not_found_text)
}

/// A store failure on a public page: logged with its cause, answered without it.
pub(crate) fn internal(state: &WebState, error: impl std::fmt::Display) -> Response {
    tracing::error!(%error, "request failed");
    let _ = state;
    (StatusCode::INTERNAL_SERVER_ERROR, no_store(), "internal error").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn only_the_two_staff_uploads_may_outlast_the_request_time_limit() {
        assert!(is_upload(&Method::POST, Some("/admin/import")));
        assert!(is_upload(&Method::POST, Some("/api/v1/lists/{slug}/import")));
        // Paths that merely end in /import, or no route at all, are held to the limit.
        for route in [Some("/subscribe/import"), Some("/webhooks/bounces/{provider}"), Some("/api/{*rest}"), None] {
            assert!(!is_upload(&Method::POST, route), "{route:?}");
        }
        assert!(!is_upload(&Method::GET, Some("/admin/import")));
    }
}
