//! `GET|POST /unsubscribe/{token}` (RFC 8058 one-click: no cookie, no CSRF — mail providers POST
//! it on their own) and `GET|POST /preferences/{token}`.

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;

use super::guard::{csrf_ok, form_token, with_cookie};
use super::subscribe::bad_link;
use super::{State, WebState, internal, no_store};
use crate::app::Counters;
use crate::domain::token::{Purpose, TokenClaims, TokenError};
use crate::render::i18n::PageStrings;
use crate::render::public_pages::{self, Choice, FormGuard, notice_page, preferences_page};
use crate::store::{Actor, List, StoreError};

/// The list a verified link is about, or the page to answer with.
async fn link_list(state: &WebState, headers: &HeaderMap, token: &str, purpose: Purpose) -> Result<(TokenClaims, List), Response> {
    let claims = state.app.keys.verify(token, purpose, Utc::now()).map_err(|e| bad_link(state, headers, &e))?;
    match state.app.store.list_by_id(claims.list_id).await {
        Ok(list) => Ok((claims, list)),
        Err(StoreError::UnknownList(_)) => Err(bad_link(state, headers, &TokenError::Malformed)),
        Err(e) => Err(internal(state, e)),
    }
}

/// Shows the button; changes nothing (mail scanners fetch every link they see).
pub async fn unsubscribe_form(AxumState(state): AxumState<State>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let (_, list) = match link_list(&state, &headers, &token, Purpose::Unsubscribe).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let p = PageStrings::for_language(&list.language);
    (no_store(), Html(public_pages::unsubscribe_page(&state.app.site, p, &list.name, &format!("/unsubscribe/{token}")))).into_response()
}

/// One click, done: from a mail client's unsubscribe button or from the page's.
pub async fn unsubscribe(AxumState(state): AxumState<State>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let (claims, list) = match link_list(&state, &headers, &token, Purpose::Unsubscribe).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match state.unsubscriber.unsubscribe(claims.subscriber_id, claims.list_id).await {
        Ok(changed) => {
            if changed {
                Counters::add(&state.app.counters.unsubscribes, 1);
            }
            let p = PageStrings::for_language(&list.language);
            let manage = state.app.keys.sign(Purpose::Preferences, claims.subscriber_id, claims.list_id, Utc::now());
            let manage = format!("/preferences/{manage}");
            let html = notice_page(&state.app.site, p, p.unsubscribed_heading, &p.unsubscribed_text(&list.name), Some((&manage, p.manage_link)));
            (StatusCode::OK, no_store(), Html(html)).into_response()
        }
        Err(e) => internal(&state, e),
    }
}

pub async fn preferences(AxumState(state): AxumState<State>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let (claims, list) = match link_list(&state, &headers, &token, Purpose::Preferences).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    render(&state, &headers, StatusCode::OK, &token, claims.subscriber_id, &list, None).await
}

pub async fn save_preferences(AxumState(state): AxumState<State>, headers: HeaderMap, Path(token): Path<String>, body: Bytes) -> Response {
    let (claims, list) = match link_list(&state, &headers, &token, Purpose::Preferences).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let p = PageStrings::for_language(&list.language);
    let (mut csrf, mut leave_all, mut wanted) = (String::new(), false, Vec::new());
    for (key, value) in form_urlencoded::parse(&body) {
        match key.as_ref() {
            "csrf" => csrf = value.into_owned(),
            "action" => leave_all = value == "leave_all",
            "list" => wanted.extend(value.parse::<i64>().ok()),
            _ => {}
        }
    }
    if !csrf_ok(&state.app.keys, &headers, &csrf) {
        return render(&state, &headers, StatusCode::FORBIDDEN, &token, claims.subscriber_id, &list, Some(p.form_expired)).await;
    }
    if leave_all {
        wanted.clear();
    }
    match state.app.store.set_list_choices(claims.subscriber_id, &wanted, &Actor("web".into())).await {
        Ok(_) | Err(StoreError::Suppressed { .. }) => render(&state, &headers, StatusCode::OK, &token, claims.subscriber_id, &list, Some(p.saved)).await,
        Err(StoreError::UnknownSubscriber(_)) => bad_link(&state, &headers, &TokenError::Malformed),
        Err(e) => internal(&state, e),
    }
}

async fn render(state: &WebState, headers: &HeaderMap, status: StatusCode, token: &str, subscriber_id: i64, list: &List, notice: Option<&str>) -> Response {
    let store = &state.app.store;
    let (email, choices) = match (store.subscriber_email(subscriber_id).await, store.list_choices(subscriber_id).await) {
        (Ok(Some(email)), Ok(choices)) => (email, choices),
        // Erased since the email was sent: the link no longer leads anywhere.
        (Ok(None), _) => return bad_link(state, headers, &TokenError::Malformed),
        (Err(e), _) | (_, Err(e)) => return internal(state, e),
    };
    let p = PageStrings::for_language(&list.language);
    let shown: Vec<Choice<'_>> = choices
        .iter()
        .map(|c| Choice {
            id: c.id,
            name: &c.name,
            description: &c.description,
            on: matches!(c.status.as_deref(), Some("confirmed" | "pending")),
            feed_url: (!c.public && c.status.as_deref() == Some("confirmed"))
                .then(|| crate::render::feeds::personal_feed_url(&state.app.site.base_url, &state.app.keys.sign(crate::domain::token::Purpose::Feed, subscriber_id, c.id, Utc::now()))),
        })
        .collect();
    let (csrf, cookie) = form_token(&state.app.keys, headers, state.app.site.base_url.starts_with("https://"));
    let html = preferences_page(&state.app.site, p, &email, &shown, notice, &FormGuard { action: &format!("/preferences/{token}"), csrf: &csrf });
    with_cookie((status, no_store(), Html(html)).into_response(), cookie)
}
