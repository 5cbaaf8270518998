//! The staff pages under `/admin`: server-rendered with maud, no external assets, one small
//! vendored script for the live preview. Every operation calls the same library code as the CLI
//! and the API; roles are checked with `domain::Role` as there.

mod dashboard;
mod issues;
mod layout;
mod login;
mod people;
mod strings;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;

pub use dashboard::{ChartData, chart_data};
pub use login::LoginLimits;
pub use strings::AdminStrings;

use super::State;
use crate::domain::Permission;
use crate::staff::Secret256;
use crate::store::Session;

pub const SESSION_COOKIE: &str = "tidings_admin";

/// Scripts only from this origin (the vendored preview script), the email preview framed from
/// here only, and nothing else.
const ADMIN_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' https: data:; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'";

/// An upload of a CSV may be large (it streams to disk); every other form is small, and the
/// login form is read before anyone is known.
pub const UPLOAD_LIMIT: usize = 1 << 30;
const FORM_LIMIT: usize = 2 << 20;

pub fn router() -> Router<State> {
    Router::new()
        .route("/admin", get(dashboard::dashboard))
        .route("/admin/", get(|| async { Redirect::to("/admin") }))
        .route("/admin/login", get(login::form).post(login::submit))
        .route("/admin/logout", post(login::logout))
        .route("/admin/static/admin.js", get(script))
        .route("/admin/lists", get(people::lists).post(people::create_list))
        .route("/admin/subscribers", get(people::search))
        .route("/admin/subscribers/{email}", get(people::subscriber))
        .route("/admin/subscribers/{email}/unsubscribe", post(people::unsubscribe))
        .route("/admin/subscribers/{email}/erase", get(people::erase_form).post(people::erase))
        .route("/admin/import", get(people::import_form).post(people::import).layer(axum::extract::DefaultBodyLimit::max(UPLOAD_LIMIT)))
        .route("/admin/imports/{id}", get(people::import_job))
        .route("/admin/bounces", get(dashboard::bounces))
        .route("/admin/staff", get(people::staff))
        .route("/admin/staff/add", post(people::add_staff))
        .route("/admin/staff/remove", post(people::remove_staff))
        .route("/admin/tokens", post(people::create_token))
        .route("/admin/tokens/revoke", post(people::revoke_token))
        .route("/admin/issues", get(issues::list))
        .route("/admin/issues/new", get(issues::draft_form).post(issues::draft_submit))
        .route("/admin/preview", post(issues::live_preview))
        .route("/admin/issues/{slug}", get(issues::show))
        .route("/admin/issues/{slug}/email.html", get(issues::email_html))
        .route("/admin/issues/{slug}/test", post(issues::test_send))
        .route("/admin/issues/{slug}/send", get(issues::send_confirm).post(issues::send))
        .route("/admin/issues/{slug}/control", post(issues::control))
        .route("/admin/issues/{slug}/progress", get(issues::progress))
        .layer(axum::extract::DefaultBodyLimit::max(FORM_LIMIT))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(ADMIN_CSP)))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN")))
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
}

async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../../../templates/admin.js")).into_response()
}

/// A signed-in staff member, from the session cookie. Pages that need one redirect to the
/// login otherwise.
pub struct Staff {
    pub session: Session,
    pub t: &'static AdminStrings,
}

impl Staff {
    /// Refuses what this role may not do, with a page that says so.
    pub fn may(&self, needed: Permission) -> Result<(), Response> {
        if self.session.identity.role.allows(needed) { Ok(()) } else { Err(self.refusal(StatusCode::FORBIDDEN, self.t.forbidden)) }
    }

    /// Every form carries the session's anti-forgery token; a form without it changes nothing.
    pub fn check(&self, csrf: &str) -> Result<(), Response> {
        if super::guard::constant_eq(csrf.as_bytes(), self.session.csrf.as_bytes()) { Ok(()) } else { Err(self.refusal(StatusCode::FORBIDDEN, self.t.stale_form)) }
    }

    pub fn actor(&self) -> &crate::store::Actor {
        &self.session.identity.actor
    }

    pub fn refusal(&self, status: StatusCode, text: &str) -> Response {
        (status, layout::page(self, "", text, layout::message(text, true))).into_response()
    }

    /// An error from an operation, on a page; internal causes are logged, not shown.
    pub fn failure(&self, error: impl Into<super::api::ApiError>) -> Response {
        let e: super::api::ApiError = error.into();
        let (status, message) = e.parts();
        self.refusal(status, &message)
    }
}

impl FromRequestParts<State> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, Self::Rejection> {
        let t = strings(&parts.headers);
        let to_login = || Redirect::to("/admin/login").into_response();
        let Some(value) = super::guard::cookie(&parts.headers, SESSION_COOKIE) else { return Err(to_login()) };
        match state.app.store.session(&Secret256::from_presented(value).digest()).await {
            Ok(Some(mut session)) => {
                // Every change is audited with who and from where.
                session.identity.actor = crate::store::Actor(format!("{} from {}", session.identity.actor.0, peer(parts, state)));
                Ok(Staff { session, t })
            }
            Ok(None) => Err(to_login()),
            Err(e) => Err(super::internal(state, e)),
        }
    }
}

/// The client's address, for the audit line (behind a trusted proxy, the proxy's client).
pub fn peer(parts: &Parts, state: &State) -> String {
    if parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().is_none() {
        return "unknown".to_string();
    }
    super::client_ip::of(parts, &state.proxies).to_string()
}

pub fn strings(headers: &axum::http::HeaderMap) -> &'static AdminStrings {
    AdminStrings::negotiate(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()))
}
