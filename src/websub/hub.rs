//! The hub's worker, run by `serve` beside the sender (it never holds a send up): about once a
//! second it drops expired leases, verifies the intents of new requests, notices feeds that
//! changed (an issue published, corrected, or its date arriving) and pushes them to their
//! subscribers, retrying failed pushes with backoff and dropping callbacks that keep failing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use hmac::{Hmac, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LINK};
use tokio::sync::{Semaphore, watch};

use super::outbound::Outbound;
use super::{Topic, all_topics, resolve_topic, topic_version};
use crate::app::App;
use crate::publishing::feeds::{hub_url, subscription_document};
use crate::store::{HubPush, HubRequest, StoreError};

const TICK: Duration = Duration::from_secs(1);
/// Requests verified at once, and pushes made at once: a callback that hangs holds one of
/// these for at most the request deadline.
const CONCURRENCY: usize = 256;
/// Pushes claimed a round; a full round starts the next one at once.
const PUSHES_PER_ROUND: i64 = 1000;
/// How long a claimed push stays this hub's (longer than any request may take).
const PUSH_HOLD_SECS: i64 = 60;
/// Attempts at one push before it is given up.
pub const MAX_ATTEMPTS: i64 = 5;
/// Pushes given up in a row before a subscription is dropped.
pub const DROP_AFTER: i64 = 3;

/// The wait before attempt `attempts + 1`: 2 s, 10 s, 50 s, 250 s.
pub fn backoff(attempts: i64) -> chrono::Duration {
    chrono::Duration::seconds(2 * 5i64.pow(attempts.clamp(1, 6) as u32 - 1))
}

pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let operator = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("a client with a timeout builds");
    let hub = Arc::new(Hub { outbound: Outbound::new(app.config.feeds.hub_allow_private_callbacks), operator, app, verifying: Arc::new(Semaphore::new(CONCURRENCY)), pushing: Arc::new(Semaphore::new(CONCURRENCY)) });
    let mut failing = false;
    loop {
        let busy = match hub.round().await {
            Ok(busy) => {
                if failing {
                    tracing::info!("the WebSub hub reaches the database again");
                }
                failing = false;
                busy
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "the WebSub hub cannot reach the database; it tries again every second");
                }
                failing = true;
                false
            }
        };
        if *stop.borrow() {
            return;
        }
        if !busy {
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// The hub's state; a round only reads and writes the database and hands the requests to
/// callbacks to tasks of their own, so a callback that hangs holds one permit, never the hub.
struct Hub {
    app: Arc<App>,
    outbound: Outbound,
    /// For the external hub the operator configured (not held to public addresses).
    operator: reqwest::Client,
    verifying: Arc<Semaphore>,
    pushing: Arc<Semaphore>,
}

impl Hub {
    /// One round; true when there is more to do at once.
    async fn round(self: &Arc<Self>) -> Result<bool, StoreError> {
        let now = Utc::now();
        let expired = self.app.store.expire_hub_subscriptions(now).await?;
        if expired > 0 {
            tracing::info!(expired, "WebSub leases ran out");
        }
        self.verify_requests().await?;
        self.notice_changes().await?;
        self.push().await
    }

    async fn verify_requests(self: &Arc<Self>) -> Result<(), StoreError> {
        let free = self.verifying.available_permits() as i64;
        if free == 0 {
            return Ok(());
        }
        for request in self.app.store.take_hub_requests(free).await? {
            let Ok(permit) = self.verifying.clone().acquire_owned().await else { return Ok(()) };
            let hub = self.clone();
            tokio::spawn(async move {
                if let Err(e) = hub.verify(request).await {
                    tracing::warn!(error = %e, "a verified WebSub request could not be recorded");
                }
                drop(permit);
            });
        }
        Ok(())
    }

    /// Asks the callback to echo a challenge; only then does the request take effect.
    async fn verify(&self, request: HubRequest) -> Result<(), StoreError> {
        let topic = match request.mode.as_str() {
            "subscribe" => match resolve_topic(&self.app, &request.topic).await? {
                Some(t) => Some(t),
                None => return Ok(()), // the list went private or away since the request
            },
            _ => None,
        };
        let challenge = challenge();
        let Ok(mut url) = url::Url::parse(&request.callback) else { return Ok(()) };
        url.query_pairs_mut()
            .append_pair("hub.mode", &request.mode)
            .append_pair("hub.topic", &request.topic)
            .append_pair("hub.challenge", &challenge)
            .append_pair("hub.lease_seconds", &request.lease_seconds.to_string());
        let confirmed = match self.outbound.get(url.as_str()).await {
            Ok(answer) => (200..300).contains(&answer.status) && answer.body.as_ref() == challenge.as_bytes(),
            Err(e) => {
                tracing::info!(mode = %request.mode, topic = %request.topic, error = %e, "a WebSub callback could not be verified");
                false
            }
        };
        if !confirmed {
            tracing::info!(mode = %request.mode, topic = %request.topic, "a WebSub callback did not confirm its intent; the request is dropped");
            return Ok(());
        }
        match topic {
            Some(topic) => {
                let version = topic_version(&self.app, &topic, Utc::now()).await?;
                self.app.store.hub_subscribe(&request, &version).await?;
                tracing::info!(topic = %request.topic, lease_seconds = request.lease_seconds, "a WebSub subscription is verified");
            }
            None => {
                self.app.store.hub_unsubscribe(&request.topic, &request.callback).await?;
                tracing::info!(topic = %request.topic, "a WebSub subscription ended at its subscriber's request");
            }
        }
        Ok(())
    }

    /// Queues pushes for every topic whose section changed since its subscribers were told, and
    /// pings the external hub, if there is one, for every feed that changed.
    async fn notice_changes(&self) -> Result<(), StoreError> {
        let now = Utc::now();
        let external = !self.app.config.feeds.external_hub.is_empty();
        let mut topics: Vec<Topic> = Vec::new();
        if external {
            topics = all_topics(&self.app).await?;
        } else {
            for url in self.app.store.hub_topics().await? {
                if let Some(topic) = resolve_topic(&self.app, &url).await? {
                    topics.push(topic);
                }
            }
        }
        let mut versions: HashMap<Option<i64>, String> = HashMap::new();
        for topic in topics {
            let key = topic.list.as_ref().map(|l| l.id);
            let version = match versions.get(&key) {
                Some(v) => v.clone(),
                None => {
                    let v = topic_version(&self.app, &topic, now).await?;
                    versions.insert(key, v.clone());
                    v
                }
            };
            if self.app.store.hub_topic_changed(&topic.url, &version).await? {
                tracing::info!(topic = %topic.url, "a feed changed; its WebSub subscribers are told");
                if external {
                    self.ping_external(&topic.url).await;
                }
            }
        }
        Ok(())
    }

    /// `hub.mode=publish` to the configured hub (chosen by the operator, so not held to public
    /// addresses).
    async fn ping_external(&self, topic: &str) {
        let body: String = form_urlencoded::Serializer::new(String::new()).append_pair("hub.mode", "publish").append_pair("hub.url", topic).finish();
        let result = self.operator.post(&self.app.config.feeds.external_hub).header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(body).send().await.map(|r| r.status().as_u16());
        match result {
            Ok(status) if (200..300).contains(&status) => tracing::info!(topic, "the external WebSub hub was told"),
            Ok(status) => tracing::warn!(topic, status, "the external WebSub hub refused the ping"),
            Err(e) => tracing::warn!(topic, error = %e.without_url(), "the external WebSub hub could not be reached"),
        }
    }

    /// Hands the pushes that are due to tasks; true when it claimed as many as it could take.
    async fn push(self: &Arc<Self>) -> Result<bool, StoreError> {
        // At least one: with every permit out, the claim waits below for the first to come back.
        let free = (self.pushing.available_permits() as i64).clamp(1, PUSHES_PER_ROUND);
        let pushes = self.app.store.claim_hub_pushes(free, chrono::Duration::seconds(PUSH_HOLD_SECS)).await?;
        let full = pushes.len() as i64 == free;
        // Each topic's document is rendered once for all its subscribers.
        let now = Utc::now();
        let mut documents: HashMap<String, Option<Arc<Document>>> = HashMap::new();
        for push in pushes {
            if !documents.contains_key(&push.topic) {
                let document = match resolve_topic(&self.app, &push.topic).await? {
                    Some(topic) => Some(Arc::new(Document::of(&self.app, &topic, subscription_document(&self.app, topic.list.as_ref(), topic.kind, now).await?))),
                    None => None,
                };
                documents.insert(push.topic.clone(), document);
            }
            let Some(document) = documents[&push.topic].clone() else {
                // The feed is no longer public: its subscriptions end.
                self.app.store.hub_drop(push.subscription_id).await?;
                continue;
            };
            let Ok(permit) = self.pushing.clone().acquire_owned().await else { break };
            let hub = self.clone();
            tokio::spawn(async move {
                if let Err(e) = hub.push_one(push, &document).await {
                    tracing::warn!(error = %e, "a WebSub push's outcome could not be recorded; it is retried when its hold runs out");
                }
                drop(permit);
            });
        }
        Ok(full)
    }

    async fn push_one(&self, push: HubPush, document: &Document) -> Result<(), StoreError> {
        let mut headers = document.headers.clone();
        if let Some(secret) = &push.secret
            && let Ok(value) = HeaderValue::from_str(&signature(secret, &document.body))
        {
            headers.insert(HeaderName::from_static("x-hub-signature"), value);
        }
        let error = match self.outbound.post(&push.callback, headers, document.body.clone()).await {
            Ok(status) if (200..300).contains(&status) => return self.app.store.hub_pushed(push.subscription_id).await,
            Ok(410) => {
                tracing::info!(topic = %push.topic, "a WebSub callback answered 410 Gone; its subscription ends");
                return self.app.store.hub_drop(push.subscription_id).await;
            }
            Ok(status) => format!("the callback answered {status}"),
            Err(e) => e.to_string(),
        };
        let retry_at = (push.attempts < MAX_ATTEMPTS).then(|| Utc::now() + backoff(push.attempts));
        let dropped = self.app.store.hub_push_failed(push.subscription_id, &error, retry_at, DROP_AFTER).await?;
        match (retry_at, dropped) {
            (Some(at), _) => tracing::info!(topic = %push.topic, attempts = push.attempts, %error, retry_at = %at, "a WebSub push failed; it is tried again"),
            (None, false) => tracing::warn!(topic = %push.topic, attempts = push.attempts, %error, "a WebSub push was given up"),
            (None, true) => tracing::warn!(topic = %push.topic, %error, "a WebSub callback kept failing; its subscription is dropped"),
        }
        Ok(())
    }
}

/// A topic's document as pushed: the body and the headers every push of it carries.
struct Document {
    body: Bytes,
    headers: HeaderMap,
}

impl Document {
    fn of(app: &App, topic: &Topic, body: String) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(topic.kind.content_type()));
        if let Ok(link) = HeaderValue::from_str(&format!("<{}>; rel=\"hub\", <{}>; rel=\"self\"", hub_url(app), topic.url)) {
            headers.insert(LINK, link);
        }
        Self { body: Bytes::from(body), headers }
    }
}

/// `X-Hub-Signature`: `sha256=` and the hex HMAC-SHA256 of the body under the subscriber's secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!("sha256={}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn challenge() -> String {
    let mut bytes = [0u8; 24];
    getrandom::getrandom(&mut bytes).expect("the OS provides randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_of_the_body() {
        // RFC 4231 test case 2.
        assert_eq!(signature("Jefe", b"what do ya want for nothing?"), "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn retries_back_off() {
        let waits: Vec<i64> = (1..MAX_ATTEMPTS).map(|a| backoff(a).num_seconds()).collect();
        assert_eq!(waits, vec![2, 10, 50, 250]);
    }
}
