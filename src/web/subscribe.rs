//! `GET|POST /subscribe` and `GET|POST /confirm/{token}`: double opt-in. The answer to a sign-up is
//! the same page whether the address was new, pending, confirmed or suppressed.


use axum::extract::{Form, Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;

use super::client_ip::ClientIp;
use super::guard::{csrf_ok, form_token, with_cookie};
use super::{State, WebState, internal, no_store, notice};
use crate::app::Counters;
use crate::domain::token::{Purpose, TokenError};
use crate::domain::{ConsentSource, EmailAddress, ListSlug, SubscriberName};
use crate::render::i18n::PageStrings;
use crate::render::public_pages::{FormGuard, SubscribeForm, subscribe_page};
use crate::store::{Actor, ConfirmOutcome, List, NewSubscription, StoreError};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    list: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignUp {
    email: String,
    name: String,
    list: String,
    csrf: String,
    /// The honeypot: hidden from people, filled in by robots.
    website: String,
}

pub async fn form(AxumState(state): AxumState<State>, headers: HeaderMap, Query(q): Query<ListQuery>) -> Response {
    let lists = match public_lists(&state).await {
        Ok(l) => l,
        Err(e) => return internal(&state, e),
    };
    let p = page_language(&state, &headers, &lists, &q.list);
    render_form(&state, &headers, StatusCode::OK, p, &lists, &SignUp { list: q.list, ..SignUp::default() }, None)
}

pub async fn submit(AxumState(state): AxumState<State>, ClientIp(client): ClientIp, headers: HeaderMap, Form(signup): Form<SignUp>) -> Response {
    let lists = match public_lists(&state).await {
        Ok(l) => l,
        Err(e) => return internal(&state, e),
    };
    let p = page_language(&state, &headers, &lists, &signup.list);
    if !csrf_ok(&state.app.keys, &headers, &signup.csrf) {
        return render_form(&state, &headers, StatusCode::FORBIDDEN, p, &lists, &signup, Some(p.form_expired));
    }
    let started = tokio::time::Instant::now();
    if !signup.website.is_empty() {
        return same_time(started, check_inbox(&state, p)).await;
    }
    if !state.limits.allow_ip(client) {
        return notice(&state, StatusCode::TOO_MANY_REQUESTS, p, p.too_many_heading, p.too_many_text);
    }
    let email = match EmailAddress::parse(&signup.email) {
        Ok(e) => e,
        Err(e) => return render_form(&state, &headers, StatusCode::UNPROCESSABLE_ENTITY, p, &lists, &signup, Some(&format!("{}: {e}", p.invalid_email))),
    };
    let name = match SubscriberName::parse(&signup.name) {
        Ok(n) => n,
        Err(e) => return render_form(&state, &headers, StatusCode::UNPROCESSABLE_ENTITY, p, &lists, &signup, Some(&e.to_string())),
    };
    let Some(list) = lists.iter().find(|l| l.slug == signup.list) else {
        return render_form(&state, &headers, StatusCode::UNPROCESSABLE_ENTITY, p, &lists, &signup, Some(p.unknown_list));
    };
    if !state.limits.allow_address(&email.key()) {
        return notice(&state, StatusCode::TOO_MANY_REQUESTS, p, p.too_many_heading, p.too_many_text);
    }
    let ip = client.to_string();
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|ua| ua.chars().take(300).collect::<String>());
    let new = NewSubscription { email: &email, name: &name, list_id: list.id, confirmed: false, source: ConsentSource::Form, ip: Some(&ip), user_agent: user_agent.as_deref(), attributes: None };
    match state.app.store.add_subscription(new, &Actor("web".into())).await {
        // Known, pending, confirmed or suppressed: the reader sees the same page either way.
        Ok(_) | Err(StoreError::Suppressed { .. }) => {
            Counters::add(&state.app.counters.subscribe_requests, 1);
            same_time(started, check_inbox(&state, p)).await
        }
        Err(e) => internal(&state, e),
    }
}

/// A new, pending, confirmed or suppressed address takes different work (a confirmation to
/// queue, or nothing), and the time it takes would tell them apart. Every such answer is held
/// until the same moment after the request began, which is longer than any of them takes.
const SIGN_UP_ANSWER_AFTER: std::time::Duration = std::time::Duration::from_millis(40);

async fn same_time(started: tokio::time::Instant, answer: Response) -> Response {
    tokio::time::sleep_until(started + SIGN_UP_ANSWER_AFTER).await;
    answer
}

fn check_inbox(state: &WebState, p: &PageStrings) -> Response {
    notice(state, StatusCode::OK, p, p.check_inbox_heading, p.check_inbox_text)
}

/// The link's list, or the page to answer with.
async fn confirm_link(state: &WebState, headers: &HeaderMap, token: &str) -> Result<(crate::domain::token::TokenClaims, List), Response> {
    let claims = state.app.keys.verify(token, Purpose::Confirm, Utc::now()).map_err(|e| bad_link(state, headers, &e))?;
    match state.app.store.list_by_id(claims.list_id).await {
        Ok(l) => Ok((claims, l)),
        Err(StoreError::UnknownList(_)) => Err(bad_link(state, headers, &TokenError::Malformed)),
        Err(e) => Err(internal(state, e)),
    }
}

/// Shows the button; changes nothing (a scanner following the link must not confirm a sign-up
/// that a third party made).
pub async fn confirm_form(AxumState(state): AxumState<State>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let (_, list) = match confirm_link(&state, &headers, &token).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let p = PageStrings::for_language(&list.language);
    (no_store(), Html(crate::render::public_pages::confirm_page(&state.app.site, p, &list.name, &format!("/confirm/{token}")))).into_response()
}

/// The button: confirms, idempotently. The signed token is the authority, as for one-click
/// unsubscribe, so there is no cookie to check.
pub async fn confirm(AxumState(state): AxumState<State>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let (claims, list) = match confirm_link(&state, &headers, &token).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let p = PageStrings::for_language(&list.language);
    match state.app.store.confirm_subscription(claims.subscriber_id, claims.list_id, &Actor("web".into())).await {
        Ok(ConfirmOutcome::Confirmed) => {
            Counters::add(&state.app.counters.confirmations, 1);
            notice(&state, StatusCode::OK, p, p.confirmed_heading, &p.confirmed_text(&list.name))
        }
        Ok(ConfirmOutcome::AlreadyConfirmed) => notice(&state, StatusCode::OK, p, p.confirmed_heading, &p.confirmed_text(&list.name)),
        Ok(ConfirmOutcome::NotPending) => notice(&state, StatusCode::OK, p, p.bad_link_heading, p.not_pending_text),
        Err(e) => internal(&state, e),
    }
}

/// A forged, altered, misused or expired link: a 4xx page, and nothing changes.
pub(super) fn bad_link(state: &WebState, headers: &HeaderMap, error: &TokenError) -> Response {
    let p = super::language(state, headers);
    let status = if *error == TokenError::Expired { StatusCode::GONE } else { StatusCode::BAD_REQUEST };
    notice(state, status, p, p.bad_link_heading, p.bad_link_text)
}

async fn public_lists(state: &WebState) -> Result<Vec<List>, StoreError> {
    state.app.store.public_lists().await
}

/// The chosen list's language, else the browser's.
fn page_language(state: &WebState, headers: &HeaderMap, lists: &[List], chosen: &str) -> &'static PageStrings {
    let list = lists.iter().find(|l| l.slug == chosen).or(if lists.len() == 1 { lists.first() } else { None });
    match list {
        Some(l) if headers.get(header::ACCEPT_LANGUAGE).is_none() => PageStrings::for_language(&l.language),
        Some(l) => PageStrings::negotiate(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()), &l.language),
        None => super::language(state, headers),
    }
}

fn render_form(state: &WebState, headers: &HeaderMap, status: StatusCode, p: &PageStrings, lists: &[List], signup: &SignUp, error: Option<&str>) -> Response {
    let (token, cookie) = form_token(&state.app.keys, headers, state.app.site.base_url.starts_with("https://"));
    let options: Vec<(String, String)> = lists.iter().map(|l| (l.slug.clone(), l.name.clone())).collect();
    let selected = if ListSlug::parse(&signup.list).is_ok() { signup.list.as_str() } else { "" };
    let form = SubscribeForm { lists: &options, selected, email: &signup.email, name: &signup.name, error };
    let html = subscribe_page(&state.app.site, p, &form, &FormGuard { action: "/subscribe", csrf: &token });
    with_cookie((status, no_store(), Html(html)).into_response(), cookie)
}
