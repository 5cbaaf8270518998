//! The WebSub hub (W3C WebSub): feed readers subscribe to our feeds through `POST /websub`, the
//! hub verifies their intent with a GET challenge, and when a feed changes it POSTs the new
//! document to every subscriber's callback, signed with the secret they gave.
//!
//! `request` checks what a subscriber sent, `outbound` is the only way the hub reaches a callback
//! (public addresses only, bounded in time and size), and `hub` is the worker `serve` runs.

pub mod hub;
pub mod outbound;

use chrono::{DateTime, Utc};

use crate::app::App;
use crate::domain::ListSlug;
use crate::publishing::FeedKind;
use crate::publishing::feeds::document_url;
use crate::store::{List, StoreError};

/// A lease the subscriber does not ask for: ten days.
pub const DEFAULT_LEASE_SECS: i64 = 10 * 24 * 3600;
/// The longest lease granted: thirty days (a longer ask gets this; the subscriber renews).
pub const MAX_LEASE_SECS: i64 = 30 * 24 * 3600;
/// `hub.secret` must be shorter than this (WebSub §5.1).
pub const MAX_SECRET_BYTES: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Subscribe,
    Unsubscribe,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscribe => "subscribe",
            Self::Unsubscribe => "unsubscribe",
        }
    }
}

/// A subscribe or unsubscribe request whose parameters are well formed (the topic is checked
/// against our feeds separately: that needs the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub mode: Mode,
    pub topic: String,
    pub callback: url::Url,
    pub secret: Option<String>,
    pub lease_seconds: i64,
}

/// Why a request was refused; the message is the answer's body.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("{0} is given more than once")]
    Repeated(&'static str),
    #[error("hub.mode {0:?} is not supported: use subscribe or unsubscribe")]
    Mode(String),
    #[error("hub.topic is longer than {} characters", outbound::MAX_URL_LEN)]
    TopicTooLong,
    #[error("hub.callback: {0}")]
    Callback(outbound::OutboundError),
    #[error("hub.secret must be shorter than {MAX_SECRET_BYTES} bytes")]
    SecretTooLong,
    #[error("hub.lease_seconds must be a whole number of seconds from 1 up")]
    Lease,
}

/// Reads a request's form fields. Fields other than the hub's are ignored.
pub fn parse_request(fields: &[(String, String)], allow_private: bool) -> Result<Intent, RequestError> {
    let one = |name: &'static str| -> Result<Option<&str>, RequestError> {
        let mut values = fields.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(RequestError::Repeated(name));
        }
        Ok(first)
    };
    let mode = match one("hub.mode")?.ok_or(RequestError::Missing("hub.mode"))? {
        "subscribe" => Mode::Subscribe,
        "unsubscribe" => Mode::Unsubscribe,
        other => return Err(RequestError::Mode(other.chars().take(40).collect())),
    };
    let topic = one("hub.topic")?.filter(|t| !t.is_empty()).ok_or(RequestError::Missing("hub.topic"))?;
    if topic.len() > outbound::MAX_URL_LEN {
        return Err(RequestError::TopicTooLong);
    }
    let callback = one("hub.callback")?.filter(|c| !c.is_empty()).ok_or(RequestError::Missing("hub.callback"))?;
    let callback = outbound::check_url(callback, allow_private).map_err(RequestError::Callback)?;
    let secret = match one("hub.secret")? {
        Some(s) if s.len() >= MAX_SECRET_BYTES => return Err(RequestError::SecretTooLong),
        Some("") | None => None,
        Some(s) => Some(s.to_string()),
    };
    let lease_seconds = match one("hub.lease_seconds")? {
        None | Some("") => DEFAULT_LEASE_SECS,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if n >= 1 => n.min(MAX_LEASE_SECS),
            _ => return Err(RequestError::Lease),
        },
    };
    Ok(Intent { mode, topic: topic.to_string(), callback, secret, lease_seconds })
}

/// A feed the hub publishes: a section's subscription document of one kind.
#[derive(Debug, Clone)]
pub struct Topic {
    pub url: String,
    pub list: Option<List>,
    pub kind: FeedKind,
}

/// The feed `url` names, when it is one of ours that the public may read.
pub async fn resolve_topic(app: &App, url: &str) -> Result<Option<Topic>, StoreError> {
    for kind in FeedKind::ALL {
        if url == document_url(app, "", kind, None) {
            return Ok(Some(Topic { url: url.to_string(), list: None, kind }));
        }
    }
    let prefix = format!("{}/lists/", app.site.base_url);
    let Some((slug, file)) = url.strip_prefix(&prefix).and_then(|rest| rest.split_once('/')) else { return Ok(None) };
    let Some(kind) = FeedKind::ALL.into_iter().find(|k| k.file() == file) else { return Ok(None) };
    let Ok(slug) = ListSlug::parse(slug) else { return Ok(None) };
    match app.store.list_by_slug(&slug).await {
        Ok(list) if list.public => Ok(Some(Topic { url: url.to_string(), list: Some(list), kind })),
        Ok(_) | Err(StoreError::UnknownList(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every topic the hub would publish: each public section's three feeds.
pub async fn all_topics(app: &App) -> Result<Vec<Topic>, StoreError> {
    let mut sections: Vec<Option<List>> = vec![None];
    sections.extend(app.store.public_lists().await?.into_iter().map(Some));
    let mut topics = Vec::new();
    for list in sections {
        let section = crate::publishing::feeds::section_path(list.as_ref());
        for kind in FeedKind::ALL {
            topics.push(Topic { url: document_url(app, &section, kind, None), list: list.clone(), kind });
        }
    }
    Ok(topics)
}

/// A topic's state (what a change of means a push).
pub async fn topic_version(app: &App, topic: &Topic, now: DateTime<Utc>) -> Result<String, StoreError> {
    crate::publishing::feeds::section_version(app, topic.list.as_ref(), now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![("hub.mode", "subscribe"), ("hub.topic", "https://news.example/feed.xml"), ("hub.callback", "https://reader.example/cb")]
    }

    #[test]
    fn a_well_formed_request_gets_defaults() {
        let intent = parse_request(&fields(&base()), false).unwrap();
        assert_eq!(intent.mode, Mode::Subscribe);
        assert_eq!(intent.lease_seconds, DEFAULT_LEASE_SECS);
        assert_eq!(intent.secret, None);
    }

    #[test]
    fn bad_requests_say_which_field() {
        let with = |k: &'static str, v: &'static str| {
            let mut f = base();
            f.retain(|(name, _)| *name != k);
            f.push((k, v));
            parse_request(&fields(&f), false)
        };
        assert_eq!(with("hub.mode", "publish"), Err(RequestError::Mode("publish".into())));
        assert_eq!(with("hub.lease_seconds", "-5"), Err(RequestError::Lease));
        assert_eq!(with("hub.lease_seconds", "ten"), Err(RequestError::Lease));
        assert_eq!(with("hub.lease_seconds", "99999999").unwrap().lease_seconds, MAX_LEASE_SECS);
        let long_secret: &'static str = Box::leak("s".repeat(200).into_boxed_str());
        assert_eq!(with("hub.secret", long_secret), Err(RequestError::SecretTooLong));
        assert!(matches!(with("hub.callback", "http://10.0.0.7/cb"), Err(RequestError::Callback(_))));
        assert_eq!(parse_request(&fields(&[("hub.mode", "subscribe")]), false), Err(RequestError::Missing("hub.topic")));
        let mut twice = base();
        twice.push(("hub.callback", "https://other.example/"));
        assert_eq!(parse_request(&fields(&twice), false), Err(RequestError::Repeated("hub.callback")));
    }
}
