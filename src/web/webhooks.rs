//! `POST /webhooks/bounces/{provider}`: bounce and complaint notifications from a relay or ESP.
//! Authenticated by the shared secret `bounce.webhook_secret` (Basic auth password or
//! `X-Tidings-Secret`; `?secret=` still works, with a warning, as proxies log query strings), and for Mailgun also by its own signature when the
//! signing key is set. Idempotent on the provider's event id.

use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use base64::Engine;
use serde_json::json;

use super::State;
use super::guard::constant_eq;
use crate::bounces::webhooks::{MailgunStamp, Notification, WebhookError, mailgun_signature, parse};
use crate::domain::EmailAddress;
use crate::store::{Decision, NewBounce, StoreError};

#[derive(Debug, Default, serde::Deserialize)]
pub struct SecretQuery {
    #[serde(default)]
    secret: String,
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message, "field": null}}))).into_response()
}

/// How far a Mailgun timestamp may be from our clock (Mailgun's own advice is minutes).
const MAILGUN_WINDOW_SECS: i64 = 300;

/// Why a correctly signed Mailgun notification is still refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StampRefusal {
    Stale,
    Replayed,
}

impl StampRefusal {
    fn code(self) -> &'static str {
        match self {
            StampRefusal::Stale => "stale_signature",
            StampRefusal::Replayed => "replayed_signature",
        }
    }

    fn message(self) -> &'static str {
        match self {
            StampRefusal::Stale => "the Mailgun signature's timestamp is more than 5 minutes from now",
            StampRefusal::Replayed => "this Mailgun signature token was already used",
        }
    }
}

/// The Mailgun tokens seen within the window: a captured, correctly signed notification cannot
/// be posted again. Tokens older than the window are forgotten (their timestamp refuses them).
#[derive(Default)]
pub struct MailgunStamps(std::sync::Mutex<std::collections::HashMap<String, i64>>);

impl MailgunStamps {
    pub fn admit(&self, stamp: &MailgunStamp, now: i64) -> Result<(), StampRefusal> {
        let mut seen = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.retain(|_, at| now - *at <= MAILGUN_WINDOW_SECS);
        if (now - stamp.timestamp).abs() > MAILGUN_WINDOW_SECS {
            return Err(StampRefusal::Stale);
        }
        if seen.insert(stamp.token.clone(), stamp.timestamp).is_some() {
            return Err(StampRefusal::Replayed);
        }
        Ok(())
    }

    /// Lets a token in again (its notification could not be recorded).
    pub fn forget(&self, token: &str) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(token);
    }
}

/// The largest notification batch read (SendGrid posts thousands of events at once).
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// Authenticates from the headers before reading a byte of the body: a stranger cannot make the
/// server buffer megabytes, and with webhooks off nothing is read at all.
pub async fn receive(AxumState(state): AxumState<State>, Path(provider): Path<String>, Query(q): Query<SecretQuery>, request: axum::extract::Request) -> Response {
    let config = &state.app.config.bounce;
    let secret = config.webhook_secret.expose();
    if secret.is_empty() {
        return error(StatusCode::NOT_FOUND, "not_found", "bounce webhooks are off (set bounce.webhook_secret)");
    }
    let headers = request.headers().clone();
    if !authenticated(&headers, &q.secret, secret) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "a valid shared secret is required");
    }
    if !q.secret.is_empty() {
        // Proxies log query strings: the secret belongs in a header (kept for a deprecation period).
        tracing::warn!(provider = %provider, "a webhook passed its secret as ?secret=; send it as Basic auth or X-Tidings-Secret instead");
    }
    let body: Bytes = match axum::body::to_bytes(request.into_body(), MAX_BODY).await {
        Ok(body) => body,
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "a notification batch is at most 8 MiB"),
    };
    let signing_key = config.mailgun_signing_key.expose();
    let mut admitted = None;
    if provider == "mailgun" && !signing_key.is_empty() {
        let Some(stamp) = mailgun_signature(&body, signing_key) else {
            return error(StatusCode::UNAUTHORIZED, "bad_signature", "the Mailgun signature does not verify");
        };
        if let Err(why) = state.mailgun_stamps.admit(&stamp, chrono::Utc::now().timestamp()) {
            return error(StatusCode::UNAUTHORIZED, why.code(), why.message());
        }
        admitted = Some(stamp.token);
    }
    // A notification we failed to record must be accepted when the provider retries it.
    let failed = |e: StoreError| {
        if let Some(token) = &admitted {
            state.mailgun_stamps.forget(token);
        }
        super::internal(&state, e)
    };
    let events = match parse(&provider, &body) {
        Ok(Notification::Events(events)) => events,
        Ok(Notification::ConfirmSubscription(url)) => return confirm_sns(&url).await,
        Err(e @ WebhookError::UnknownProvider(_)) => return error(StatusCode::NOT_FOUND, "unknown_provider", &e.to_string()),
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_payload", &e.to_string()),
    };
    let source = format!("webhook:{provider}");
    let (mut recorded, mut duplicates, mut unknown) = (0, 0, 0);
    for event in &events {
        let subscriber = match EmailAddress::parse(&event.email) {
            Ok(address) => match state.app.store.subscriber_id_by_key(&address.key()).await {
                Ok(found) => found,
                Err(e) => return failed(e),
            },
            Err(_) => None,
        };
        let Some(subscriber_id) = subscriber else {
            unknown += 1;
            continue;
        };
        let bounce = NewBounce {
            subscriber_id,
            kind: event.kind,
            reason: if event.kind == "complaint" { "complaint" } else { event.reason.as_str() },
            source: &source,
            status_code: event.status.as_deref(),
            action: event.action.or(Some("failed")),
            diagnostic: event.diagnostic.as_deref(),
            provider_event_id: Some(&event.id),
            ..Default::default()
        };
        match state.app.store.record_bounce(&bounce, state.app.bounce_policy()).await {
            Ok(Decision::Duplicate) => duplicates += 1,
            Ok(Decision::UnknownSubscriber) => unknown += 1,
            Ok(_) => recorded += 1,
            Err(e) => return failed(e),
        }
    }
    (StatusCode::OK, Json(json!({"recorded": recorded, "duplicates": duplicates, "unknown": unknown}))).into_response()
}

fn authenticated(headers: &HeaderMap, query_secret: &str, secret: &str) -> bool {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| pair.split_once(':').map(|(_, p)| p.to_string()));
    let header = headers.get("x-tidings-secret").and_then(|v| v.to_str().ok()).map(str::to_string);
    [basic, header, Some(query_secret.to_string())].into_iter().flatten().any(|given| secrets_equal(&given, secret))
}

/// Compares digests, not the strings: the time taken says nothing about the secret's length.
fn secrets_equal(given: &str, secret: &str) -> bool {
    use sha2::Digest;
    constant_eq(&sha2::Sha256::digest(given.as_bytes()), &sha2::Sha256::digest(secret.as_bytes()))
}

/// The SNS handshake: fetch the SubscribeURL, which must be Amazon's (we fetch nothing else).
async fn confirm_sns(url: &str) -> Response {
    // The URL fetched is the one checked: parsed once, so a string trick (`\\`, `@`) cannot
    // make the check and the fetch see different hosts.
    let Some(url) = sns_url(url) else {
        return error(StatusCode::BAD_REQUEST, "bad_subscribe_url", "SubscribeURL is not an https URL of Amazon SNS");
    };
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).redirect(reqwest::redirect::Policy::none()).build();
    let answer = match client {
        Ok(client) => client.get(url).send().await.and_then(|r| r.error_for_status()),
        Err(e) => Err(e),
    };
    match answer {
        Ok(_) => {
            tracing::info!("confirmed the Amazon SNS subscription for bounce notifications");
            (StatusCode::OK, Json(json!({"subscription_confirmed": true}))).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "could not confirm the Amazon SNS subscription");
            error(StatusCode::BAD_GATEWAY, "confirmation_failed", "the SubscribeURL could not be fetched; SNS will send the confirmation again")
        }
    }
}

fn sns_url(url: &str) -> Option<reqwest::Url> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = match parsed.host()? {
        url::Host::Domain(host) => host.to_string(),
        _ => return None,
    };
    let labels: Vec<&str> = host.split('.').collect();
    // sns.<region>.amazonaws.com, nothing else.
    let amazon = labels.len() == 4 && labels[0] == "sns" && labels[2] == "amazonaws" && labels[3] == "com" && labels[1].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    (parsed.scheme() == "https" && parsed.username().is_empty() && parsed.password().is_none() && parsed.port().is_none() && amazon).then_some(parsed)
}

#[cfg(test)]
fn is_sns_url(url: &str) -> bool {
    sns_url(url).is_some()
}

#[cfg(test)]
mod tests {
    use super::is_sns_url;
    use super::{MailgunStamp, MailgunStamps, StampRefusal};

    fn stamp(timestamp: i64, token: &str) -> MailgunStamp {
        MailgunStamp { timestamp, token: token.into() }
    }

    #[test]
    fn old_and_replayed_mailgun_signatures_are_refused() {
        let stamps = MailgunStamps::default();
        let now = 1_800_000_000;
        assert_eq!(stamps.admit(&stamp(now - 301, "a"), now), Err(StampRefusal::Stale));
        assert_eq!(stamps.admit(&stamp(now + 301, "b"), now), Err(StampRefusal::Stale), "from the future");
        assert_eq!(stamps.admit(&stamp(now - 10, "c"), now), Ok(()));
        assert_eq!(stamps.admit(&stamp(now - 10, "c"), now + 5), Err(StampRefusal::Replayed));
        assert_eq!(stamps.admit(&stamp(now, "d"), now), Ok(()));
        // Past the window the token is forgotten, and its timestamp alone refuses it.
        assert_eq!(stamps.admit(&stamp(now - 10, "c"), now + 400), Err(StampRefusal::Stale));
        assert_eq!(stamps.0.lock().unwrap().len(), 0, "memory stays bounded by the window");
        assert_eq!(stamps.admit(&stamp(now + 400, "e"), now + 400), Ok(()));
        stamps.forget("e");
        assert_eq!(stamps.admit(&stamp(now + 400, "e"), now + 401), Ok(()), "a notification that could not be recorded is taken when retried");
    }

    #[test]
    fn only_amazon_sns_urls_are_fetched() {
        assert!(is_sns_url("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=x"));
        for bad in ["http://sns.eu-west-1.amazonaws.com/", "https://evil.example/sns.amazonaws.com", "https://sns.x.amazonaws.com.evil.example/", "https://user@sns.a.amazonaws.com/", "https://127.0.0.1/",
            "https://evil.example\\@sns.eu-west-1.amazonaws.com/", "https://sns.eu-west-1.amazonaws.com:8443/",
            "https://sns.a.b.amazonaws.com/", "HTTPS://sns.eu-west-1.amazonaws.com.//"] {
            assert!(!is_sns_url(bad), "{bad}");
        }
    }
}
