//! Sending an issue: to its list now or at a time, a test copy to one address, and pause, resume
//! and cancel.

use chrono::{DateTime, Utc};

use super::OpError;
use crate::app::App;
use crate::delivery::dkim::Dkim;
use crate::delivery::message::Recipient;
use crate::delivery::transport::Transport;
use crate::domain::{EmailAddress, SubscriberName};
use crate::store::{Actor, Issue, NewEvent, StoreError};

/// Queues the issue for every confirmed subscriber of its list; returns how many.
pub async fn send_now(app: &App, issue: &Issue, actor: &Actor) -> Result<u64, OpError> {
    Ok(app.store.queue_issue(issue.id, actor).await?)
}

pub async fn schedule(app: &App, issue: &Issue, at: DateTime<Utc>, actor: &Actor) -> Result<(), OpError> {
    Ok(app.store.schedule_issue(issue.id, at, actor).await?)
}

pub fn parse_time(field: &'static str, text: &str) -> Result<DateTime<Utc>, OpError> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).map_err(|e| OpError::invalid(field, format!("{text:?} is not an RFC 3339 time: {e}")))
}

/// One copy to one address, as that subscriber (or a sample reader) would receive it. Touches
/// no list and no delivery; the event records that it happened, not to whom.
pub async fn send_test(app: &App, issue: &Issue, address: &str, actor: &Actor) -> Result<EmailAddress, OpError> {
    let email = EmailAddress::parse(address).map_err(|e| OpError::invalid("test", format!("{address:?}: {e}")))?;
    // An address that bounced, complained or was erased is never mailed, a test copy included.
    if let Some(reason) = app.store.suppression_of(&email).await? {
        return Err(OpError::invalid("test", format!("{email} is suppressed ({reason}): no mail goes to it, test copies included")));
    }
    // Per staff member (the audit actor without its " from <address>").
    let who = actor.who().to_string();
    if let Err(wait) = app.test_copies.check_key(&who) {
        let retry_after_secs = wait.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default())).as_secs() + 1;
        return Err(OpError::TooMany { message: format!("too many test copies: try again in {retry_after_secs} s"), retry_after_secs });
    }
    let (subscriber_id, name) = match app.store.subscriber_detail(&email).await {
        Ok(s) => (s.id, SubscriberName::parse(&s.name).unwrap_or_default()),
        Err(StoreError::UnknownSubscriber(_)) => (0, SubscriberName::default()),
        Err(e) => return Err(e.into()),
    };
    let factory = crate::publishing::factory(app, issue).map_err(|e| OpError::Failed(e.to_string()))?;
    let mut message = factory.message(&Recipient { subscriber_id, email: &email, name: &name }, Utc::now(), false).map_err(|e| OpError::Failed(e.to_string()))?;
    if let Some(dkim) = Dkim::from_config(&app.config.dkim).map_err(|e| OpError::Failed(e.to_string()))? {
        dkim.sign(&mut message.bytes).map_err(|e| OpError::Failed(e.to_string()))?;
    }
    let transport = Transport::from_config(&app.config.smtp).map_err(|e| OpError::Failed(e.to_string()))?;
    let sent = transport.send(&message).await;
    transport.shutdown().await;
    sent.map_err(|e| OpError::Failed(format!("the test copy to {email} was not sent: {}", e.message())))?;
    let detail = serde_json::json!({"test": true});
    app.store.record_event(NewEvent { kind: "issue.test_sent", actor, subscriber_id: None, list_id: Some(issue.list_id), issue_id: Some(issue.id), detail }).await?;
    Ok(email)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Cancel,
}

impl Control {
    pub fn parse(action: &str) -> Option<Self> {
        match action {
            "pause" => Some(Self::Pause),
            "resume" => Some(Self::Resume),
            "cancel" => Some(Self::Cancel),
            _ => None,
        }
    }
}

/// Returns the issue's new status.
pub async fn control(app: &App, issue: &Issue, action: Control, actor: &Actor) -> Result<&'static str, OpError> {
    let (from, to): (&[&str], &'static str) = match action {
        Control::Pause => (&["sending"], "paused"),
        Control::Resume => (&["paused"], "sending"),
        Control::Cancel => (&["draft", "scheduled", "sending", "paused"], "cancelled"),
    };
    app.store.change_issue_status(issue.id, from, to, None, actor).await?;
    Ok(to)
}
