//! `bounce ingest`: read a message, find whom it is about, record it, apply policy.
//!
//! Whom: first the signed VERP token of our envelope sender (the bounce's recipient headers, a
//! report's Original-Mail-From); then the report's recipients matched against subscribers; then
//! the returned original's Message-ID, which names issue and subscriber.
//!
//! Anyone can mail a report naming any address, so only the signed tags (VERP, Message-ID)
//! prove whom a bounce is about; a subscriber found by address alone gets an unverified record.

use serde::Serialize;

use super::read::{Kind, RecipientVerdict, Source, Unreadable, Verdict, read};
use crate::app::App;
use crate::domain::EmailAddress;
use crate::domain::verp;
use crate::store::{Decision, NewBounce, StoreError};

#[derive(Debug, Serialize)]
pub struct Ingested {
    pub kind: Kind,
    pub source: Source,
    pub recipients: Vec<RecipientVerdict>,
    /// The subscriber's address, when the message maps to one.
    pub subscriber: Option<String>,
    /// The issue's slug, when known.
    pub issue: Option<String>,
    /// What the policy did, one entry per recorded bounce.
    pub decisions: Vec<Decision>,
    /// The list a mail to our `List-Unsubscribe` mailto address left (source `mailto`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsubscribed: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Unreadable(#[from] Unreadable),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `event_id` names the message for idempotency (a Maildir file name): ingesting it twice records
/// its bounces once.
pub async fn ingest(app: &App, raw: &[u8], event_id: Option<&str>) -> Result<Ingested, IngestError> {
    if let Some((subscriber_id, list_id)) = mailto_unsubscribe(app, raw) {
        return unsubscribe_by_mail(app, subscriber_id, list_id).await;
    }
    let verdict = read(raw)?;
    let (verp_target, source) = match find_verp(app, &verdict) {
        Some(t) => (Some(t), if verdict.recipients.is_empty() && matches!(verdict.kind, Kind::Hard | Kind::Soft) { Source::Verp } else { verdict.source }),
        None => (None, verdict.source),
    };
    let store = &app.store;
    // The returned copy's Message-ID carries the same signed tag: weaker evidence than the
    // envelope (a forwarder may have kept it), so it only fills in what nothing else names.
    let by_message_id = verdict.original_message_id.as_deref().and_then(|id| verp::parse_message_id(&app.keys, id));
    let mut issue_id = verp_target.or(by_message_id).map(|t| t.issue_id).filter(|i| *i > 0);
    if let Some(id) = issue_id
        && store.issue_slug(id).await?.is_none()
    {
        issue_id = None;
    }
    let by_verp = verp_target.map(|t| t.subscriber_id).filter(|s| *s > 0);
    let fallback = by_message_id.map(|t| t.subscriber_id).filter(|s| *s > 0);
    let policy = app.bounce_policy();
    let mut decisions = Vec::new();
    let mut subscriber_id = by_verp;
    // Whom our own signed tags name: only they may change a subscriber's state.
    let proven = |who: i64| Some(who) == by_verp || Some(who) == fallback;
    let records: Vec<(Option<i64>, Option<&RecipientVerdict>)> = if verdict.recipients.is_empty() {
        subscriber_id = by_verp.or(fallback);
        vec![(subscriber_id, None)]
    } else {
        let mut out = Vec::new();
        for r in &verdict.recipients {
            let found = match EmailAddress::parse(&r.address) {
                Ok(address) => store.subscriber_id_by_key(&address.key()).await?,
                Err(_) => None,
            };
            // A signed VERP token names the person even when the report names a forwarding address.
            let who = if verdict.recipients.len() == 1 { by_verp.or(found).or(fallback) } else { found.or(by_verp) };
            subscriber_id = subscriber_id.or(who);
            out.push((who, Some(r)));
        }
        out
    };
    // One bounce a subscriber a message: a report that lists someone three times (a forgery
    // aimed at the soft counter, or a clumsy MTA) still counts once.
    let mut counted = std::collections::HashSet::new();
    for (n, (who, recipient)) in records.into_iter().enumerate() {
        let Some(who) = who else { continue };
        if !counted.insert(who) {
            continue;
        }
        let provider_event_id = event_id.map(|id| format!("{id}:{n}"));
        let bounce = match (verdict.kind, recipient) {
            (Kind::Complaint, _) => NewBounce { subscriber_id: who, issue_id, kind: "complaint", reason: "complaint", source: source_name(source), ..Default::default() },
            (Kind::Hard | Kind::Soft, Some(r)) if r.kind.is_some() => NewBounce {
                subscriber_id: who,
                issue_id,
                kind: if r.kind == Some(super::read::AddressKind::Hard) { "hard" } else { "soft" },
                reason: r.reason.map_or("other", |x| x.as_str()),
                source: source_name(source),
                status_code: r.status.as_deref(),
                action: r.action.as_deref(),
                diagnostic: r.diagnostic.as_deref(),
                remote_mta: r.remote_mta.as_deref(),
                ..Default::default()
            },
            (Kind::Hard | Kind::Soft, None) => NewBounce { subscriber_id: who, issue_id, kind: if verdict.kind == Kind::Hard { "hard" } else { "soft" }, reason: "other", source: source_name(source), ..Default::default() },
            _ => continue,
        };
        let bounce = NewBounce { provider_event_id: provider_event_id.as_deref(), unverified: !proven(who), ..bounce };
        decisions.push(store.record_bounce(&bounce, policy).await?);
    }
    let subscriber = match subscriber_id {
        Some(id) => store.subscriber_email(id).await?,
        None => None,
    };
    let issue = match issue_id {
        Some(id) => store.issue_slug(id).await?,
        None => None,
    };
    Ok(Ingested { kind: verdict.kind, source, recipients: verdict.recipients, subscriber, issue, decisions, unsubscribed: None })
}

/// Headers that name where a message was delivered: the envelope recipient (added by the MTA)
/// and the addressees.
const RECIPIENT_HEADERS: [&str; 5] = ["to", "cc", "delivered-to", "x-original-to", "envelope-to"];

/// The (subscriber, list) of a signed unsubscribe address this message was sent to, read from
/// the top-level headers only (a returned copy of an issue carries the address in its body).
fn mailto_unsubscribe(app: &App, raw: &[u8]) -> Option<(i64, i64)> {
    let end = memchr::memmem::find(raw, b"\r\n\r\n").or_else(|| memchr::memmem::find(raw, b"\n\n")).unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut current = String::new();
    for line in head.lines() {
        if !line.starts_with([' ', '\t']) {
            current = line.split_once(':').map(|(name, _)| name.trim().to_ascii_lowercase()).unwrap_or_default();
        }
        if !RECIPIENT_HEADERS.contains(&current.as_str()) {
            continue;
        }
        let value = if line.starts_with([' ', '\t']) { line } else { line.split_once(':').map_or("", |(_, v)| v) };
        let found = value.split(['<', '>', ',', ';', ' ', '\t', '"']).filter(|w| w.contains('@')).find_map(|w| verp::parse_unsubscribe(&app.keys, w));
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Unsubscribes as the one-click link does; a second mail changes nothing.
async fn unsubscribe_by_mail(app: &App, subscriber_id: i64, list_id: i64) -> Result<Ingested, IngestError> {
    let store = &app.store;
    let list = match store.list_by_id(list_id).await {
        Ok(list) => Some(list.slug),
        Err(StoreError::UnknownList(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let subscriber = store.subscriber_email(subscriber_id).await?;
    if list.is_some() && subscriber.is_some() {
        let changed = store.unsubscribe_by_id(subscriber_id, list_id, "mailto", &crate::store::Actor("mailto".into())).await?;
        tracing::info!(changed, "unsubscribed by mail to the List-Unsubscribe address");
    }
    Ok(Ingested { kind: Kind::NotBounce, source: Source::Mailto, recipients: Vec::new(), subscriber, issue: None, decisions: Vec::new(), unsubscribed: list })
}

fn find_verp(app: &App, verdict: &Verdict) -> Option<verp::VerpTarget> {
    verdict.verp_candidates.iter().find_map(|c| verp::parse(&app.keys, c))
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Verp => "verp",
        Source::Dsn => "dsn",
        Source::Arf => "arf",
        Source::Heuristic => "heuristic",
        Source::Mailto => "mailto",
    }
}
