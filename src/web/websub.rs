//! `POST /websub`: the hub's front door. A request is checked here and answered at once — 202
//! when it is kept for the hub to verify, 4xx naming the field at fault — and nothing is stored
//! for a refused one. Verification and pushes happen later, in the hub worker.

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::client_ip::ClientIp;
use super::{State, internal};
use crate::websub::outbound::check_resolves;
use crate::websub::{Mode, RequestError, parse_request, resolve_topic};

/// Requests waiting for verification beyond which new ones are asked to come back later.
const MAX_PENDING: i64 = 10_000;
/// Subscriptions the hub keeps at most.
const MAX_SUBSCRIPTIONS: i64 = 100_000;

fn refuse(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], format!("{message}\n")).into_response()
}

pub async fn request(AxumState(state): AxumState<State>, ClientIp(client): ClientIp, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(wait) = state.limits.websub_wait(client) {
        return super::wait_please(wait, "too many WebSub requests from this address: please wait");
    }
    let form = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_none_or(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")));
    if !form {
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send the request as application/x-www-form-urlencoded");
    }
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let allow_private = state.app.config.feeds.hub_allow_private_callbacks;
    let intent = match parse_request(&fields, allow_private) {
        Ok(i) => i,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e),
    };
    if intent.mode == Mode::Subscribe {
        match resolve_topic(&state.app, &intent.topic).await {
            Ok(Some(_)) => {}
            Ok(None) => return refuse(StatusCode::BAD_REQUEST, format!("hub.topic {:?} is not a feed of this site: subscribe to the URL a feed names as rel=\"self\"", intent.topic.chars().take(200).collect::<String>())),
            Err(e) => return internal(&state, e),
        }
    }
    if let Err(e) = check_resolves(&intent.callback, allow_private).await {
        return refuse(StatusCode::BAD_REQUEST, RequestError::Callback(e));
    }
    match state.app.store.hub_sizes().await {
        Ok((pending, _)) if pending >= MAX_PENDING => return super::wait_please(60, "the hub has too many requests waiting: please try again in a minute"),
        Ok((_, subscriptions)) if intent.mode == Mode::Subscribe && subscriptions >= MAX_SUBSCRIPTIONS => return refuse(StatusCode::SERVICE_UNAVAILABLE, "the hub takes no more subscriptions"),
        Ok(_) => {}
        Err(e) => return internal(&state, e),
    }
    let kept = state.app.store.add_hub_request(intent.mode.as_str(), &intent.topic, intent.callback.as_str(), intent.secret.as_deref(), intent.lease_seconds).await;
    match kept {
        Ok(_) => (StatusCode::ACCEPTED, [(header::CACHE_CONTROL, "no-store")], format!("accepted: the hub will verify this {} request with the callback\n", intent.mode.as_str())).into_response(),
        Err(e) => internal(&state, e),
    }
}
