//! Bounce and complaint notifications from relays and ESPs, read into one shape. Pure: JSON in,
//! events out; authentication and recording are the web layer's.
//!
//! Providers: Amazon SES through SNS, Postmark, SendGrid's event webhook, Mailgun, and our own
//! generic JSON: `{"events": [{"id", "email", "type": "hard"|"soft"|"complaint", "status",
//! "diagnostic"}]}` (or one such object alone).

use serde_json::Value;

use super::classify::{Reason, classify};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// The provider's id of this event, for idempotency.
    pub id: String,
    pub email: String,
    /// hard, soft or complaint.
    pub kind: &'static str,
    pub reason: Reason,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    /// `delayed` for warnings that must not count.
    pub action: Option<&'static str>,
}

/// What a notification asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    Events(Vec<WebhookEvent>),
    /// SNS wants its subscription confirmed by a GET of this URL.
    ConfirmSubscription(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("unknown provider {0:?}: one of ses, postmark, sendgrid, mailgun, generic")]
    UnknownProvider(String),
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("field {0} is missing or has the wrong type")]
    Field(&'static str),
}

pub fn parse(provider: &str, body: &[u8]) -> Result<Notification, WebhookError> {
    let json: Value = serde_json::from_slice(body).map_err(|e| WebhookError::NotJson(e.to_string()))?;
    match provider {
        "ses" => ses(&json),
        "postmark" => postmark(&json).map(Notification::Events),
        "sendgrid" => sendgrid(&json).map(Notification::Events),
        "mailgun" => mailgun(&json).map(Notification::Events),
        "generic" => generic(&json).map(Notification::Events),
        other => Err(WebhookError::UnknownProvider(other.to_string())),
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A failure's verdict: hard only when the classifier says the address is bad and the provider
/// says it is permanent.
fn failure(id: String, email: String, permanent: bool, status: Option<String>, diagnostic: Option<String>) -> WebhookEvent {
    let (hard, reason) = classify(status.as_deref(), diagnostic.as_deref().unwrap_or_default(), !permanent);
    WebhookEvent { id, email, kind: if hard { "hard" } else { "soft" }, reason, status, diagnostic, action: None }
}

fn complaint(id: String, email: String) -> WebhookEvent {
    WebhookEvent { id, email, kind: "complaint", reason: Reason::Other, status: None, diagnostic: None, action: None }
}

fn ses(json: &Value) -> Result<Notification, WebhookError> {
    match json.get("Type").and_then(Value::as_str) {
        Some("SubscriptionConfirmation") => return text(json, "SubscribeURL").map(Notification::ConfirmSubscription).ok_or(WebhookError::Field("SubscribeURL")),
        Some("Notification") => {}
        _ => return Ok(Notification::Events(Vec::new())),
    }
    let message: Value = serde_json::from_str(json.get("Message").and_then(Value::as_str).ok_or(WebhookError::Field("Message"))?).map_err(|e| WebhookError::NotJson(e.to_string()))?;
    let kind = message.get("notificationType").or_else(|| message.get("eventType")).and_then(Value::as_str).unwrap_or_default();
    let mut events = Vec::new();
    match kind {
        "Bounce" => {
            let bounce = message.get("bounce").ok_or(WebhookError::Field("bounce"))?;
            let permanent = bounce.get("bounceType").and_then(Value::as_str) == Some("Permanent");
            let feedback = text(bounce, "feedbackId").unwrap_or_default();
            for r in bounce.get("bouncedRecipients").and_then(Value::as_array).into_iter().flatten() {
                let email = text(r, "emailAddress").ok_or(WebhookError::Field("bouncedRecipients.emailAddress"))?;
                events.push(failure(format!("ses:{feedback}:{email}"), email, permanent, text(r, "status"), text(r, "diagnosticCode")));
            }
        }
        "Complaint" => {
            let c = message.get("complaint").ok_or(WebhookError::Field("complaint"))?;
            let feedback = text(c, "feedbackId").unwrap_or_default();
            for r in c.get("complainedRecipients").and_then(Value::as_array).into_iter().flatten() {
                let email = text(r, "emailAddress").ok_or(WebhookError::Field("complainedRecipients.emailAddress"))?;
                events.push(complaint(format!("ses:{feedback}:{email}"), email));
            }
        }
        _ => {}
    }
    Ok(Notification::Events(events))
}

fn postmark(json: &Value) -> Result<Vec<WebhookEvent>, WebhookError> {
    let id = format!("postmark:{}", text(json, "ID").ok_or(WebhookError::Field("ID"))?);
    let email = text(json, "Email").ok_or(WebhookError::Field("Email"))?;
    let record = json.get("RecordType").and_then(Value::as_str).unwrap_or("Bounce");
    let kind = json.get("Type").and_then(Value::as_str).unwrap_or_default();
    if record == "SpamComplaint" || kind == "SpamComplaint" {
        return Ok(vec![complaint(id, email)]);
    }
    let details = [text(json, "Details"), text(json, "Description")].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let event = match kind {
        "AutoResponder" | "OpenRelayTest" | "SubscriptionChange" | "Unsubscribe" | "Subscribe" | "ManuallyDeactivated" => return Ok(Vec::new()),
        "HardBounce" | "BadEmailAddress" => failure(id, email, true, None, Some(details)),
        "Blocked" | "SpamNotification" | "ContentRelated" | "VirusNotification" | "ChallengeVerification" => {
            WebhookEvent { id, email, kind: "soft", reason: Reason::Blocked, status: None, diagnostic: Some(details), action: None }
        }
        _ => failure(id, email, false, None, Some(details)),
    };
    Ok(vec![event])
}

fn sendgrid(json: &Value) -> Result<Vec<WebhookEvent>, WebhookError> {
    let mut events = Vec::new();
    for e in json.as_array().ok_or(WebhookError::Field("(an array of events)"))? {
        let Some(email) = text(e, "email") else { continue };
        let id = format!("sendgrid:{}", text(e, "sg_event_id").ok_or(WebhookError::Field("sg_event_id"))?);
        match e.get("event").and_then(Value::as_str) {
            Some("spamreport") => events.push(complaint(id, email)),
            Some("bounce") if e.get("type").and_then(Value::as_str) == Some("blocked") => {
                events.push(WebhookEvent { id, email, kind: "soft", reason: Reason::Blocked, status: text(e, "status"), diagnostic: text(e, "reason"), action: None })
            }
            Some("bounce") => events.push(failure(id, email, true, text(e, "status"), text(e, "reason"))),
            Some("deferred") => {
                let mut warning = failure(id, email, false, text(e, "status"), text(e, "response"));
                warning.action = Some("delayed");
                events.push(warning);
            }
            _ => {}
        }
    }
    Ok(events)
}

fn mailgun(json: &Value) -> Result<Vec<WebhookEvent>, WebhookError> {
    let data = json.get("event-data").ok_or(WebhookError::Field("event-data"))?;
    let id = format!("mailgun:{}", text(data, "id").ok_or(WebhookError::Field("event-data.id"))?);
    let email = text(data, "recipient").ok_or(WebhookError::Field("event-data.recipient"))?;
    Ok(match data.get("event").and_then(Value::as_str) {
        Some("complained") => vec![complaint(id, email)],
        Some("failed") => {
            let permanent = data.get("severity").and_then(Value::as_str) == Some("permanent");
            let status = data.get("delivery-status");
            let code = status.and_then(|s| text(s, "enhanced-code").or_else(|| text(s, "code")));
            let message = status.map(|s| [text(s, "message"), text(s, "description")].into_iter().flatten().collect::<Vec<_>>().join(" "));
            let mut event = failure(id, email, permanent, code.filter(|c| c.contains('.')), message);
            if !permanent {
                event.action = Some("delayed");
            }
            vec![event]
        }
        _ => Vec::new(),
    })
}

/// What a verified Mailgun signature vouches for: when it was made and its one-time token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailgunStamp {
    pub timestamp: i64,
    pub token: String,
}

/// Mailgun signs `timestamp + token` with the webhook signing key (HMAC-SHA256, hex). The stamp
/// when the signature verifies; the caller still refuses old timestamps and seen tokens.
pub fn mailgun_signature(json_body: &[u8], signing_key: &str) -> Option<MailgunStamp> {
    use hmac::{Hmac, Mac};
    let json = serde_json::from_slice::<Value>(json_body).ok()?;
    let sig = json.get("signature")?;
    let (timestamp, token, signature) = (text(sig, "timestamp")?, text(sig, "token")?, text(sig, "signature")?);
    let expected = (0..signature.len()).step_by(2).map(|i| u8::from_str_radix(signature.get(i..i + 2).unwrap_or("zz"), 16)).collect::<Result<Vec<u8>, _>>().ok()?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(signing_key.as_bytes()).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(token.as_bytes());
    mac.verify_slice(&expected).ok()?;
    Some(MailgunStamp { timestamp: timestamp.parse().ok()?, token: token.to_string() })
}

fn generic(json: &Value) -> Result<Vec<WebhookEvent>, WebhookError> {
    let items: Vec<&Value> = match json.get("events").and_then(Value::as_array) {
        Some(list) => list.iter().collect(),
        None => vec![json],
    };
    let mut events = Vec::new();
    for e in items {
        let id = format!("generic:{}", text(e, "id").ok_or(WebhookError::Field("id"))?);
        let email = text(e, "email").ok_or(WebhookError::Field("email"))?;
        let (status, diagnostic) = (text(e, "status"), text(e, "diagnostic"));
        events.push(match e.get("type").and_then(Value::as_str).ok_or(WebhookError::Field("type"))? {
            "complaint" => complaint(id, email),
            "hard" => failure(id, email, true, status, diagnostic),
            "soft" => failure(id, email, false, status, diagnostic),
            _ => return Err(WebhookError::Field("type")),
        });
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(provider: &str, body: &str) -> Vec<WebhookEvent> {
        match parse(provider, body.as_bytes()).unwrap() {
            Notification::Events(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ses_bounces_complaints_and_the_handshake() {
        let bounce = r#"{"Type":"Notification","MessageId":"m1","Message":"{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\",\"bounceSubType\":\"General\",\"feedbackId\":\"f1\",\"bouncedRecipients\":[{\"emailAddress\":\"a@example.com\",\"status\":\"5.1.1\",\"action\":\"failed\",\"diagnosticCode\":\"smtp; 550 5.1.1 user unknown\"}]}}"}"#;
        let e = events("ses", bounce);
        assert_eq!((e[0].kind, e[0].reason, e[0].id.as_str()), ("hard", Reason::UserUnknown, "ses:f1:a@example.com"));
        let complaint = r#"{"Type":"Notification","Message":"{\"notificationType\":\"Complaint\",\"complaint\":{\"feedbackId\":\"f2\",\"complainedRecipients\":[{\"emailAddress\":\"b@example.com\"}]}}"}"#;
        assert_eq!(events("ses", complaint)[0].kind, "complaint");
        let hello = r#"{"Type":"SubscriptionConfirmation","SubscribeURL":"https://sns.example/confirm?x=1"}"#;
        assert_eq!(parse("ses", hello.as_bytes()).unwrap(), Notification::ConfirmSubscription("https://sns.example/confirm?x=1".into()));
    }

    #[test]
    fn postmark_sendgrid_mailgun_and_generic() {
        let e = events("postmark", r#"{"RecordType":"Bounce","ID":42,"Type":"HardBounce","Email":"a@example.com","Details":"smtp;550 5.1.1 The email account does not exist"}"#);
        assert_eq!((e[0].kind, e[0].id.as_str()), ("hard", "postmark:42"));
        assert_eq!(events("postmark", r#"{"RecordType":"SpamComplaint","ID":43,"Type":"SpamComplaint","Email":"a@example.com"}"#)[0].kind, "complaint");
        assert!(events("postmark", r#"{"RecordType":"Bounce","ID":44,"Type":"AutoResponder","Email":"a@example.com"}"#).is_empty(), "auto-replies are not bounces");
        let sg = events("sendgrid", r#"[{"email":"a@example.com","event":"bounce","type":"blocked","status":"5.7.1","reason":"550 5.7.1 spam","sg_event_id":"s1"},{"email":"b@example.com","event":"bounce","type":"bounce","status":"5.1.1","reason":"550 5.1.1 unknown user","sg_event_id":"s2"},{"email":"c@example.com","event":"delivered","sg_event_id":"s3"}]"#);
        assert_eq!(sg.iter().map(|e| (e.kind, e.reason)).collect::<Vec<_>>(), vec![("soft", Reason::Blocked), ("hard", Reason::UserUnknown)]);
        let mg = events("mailgun", r#"{"signature":{},"event-data":{"id":"g1","event":"failed","severity":"permanent","recipient":"a@example.com","delivery-status":{"code":550,"message":"5.1.1 mailbox does not exist"}}}"#);
        assert_eq!(mg[0].kind, "hard");
        let generic = events("generic", r#"{"events":[{"id":"1","email":"a@example.com","type":"soft","status":"4.2.2","diagnostic":"mailbox full"}]}"#);
        assert_eq!((generic[0].kind, generic[0].reason), ("soft", Reason::MailboxFull));
        assert_eq!(parse("generic", b"{\"email\":\"a@example.com\",\"type\":\"soft\"}"), Err(WebhookError::Field("id")));
        assert!(matches!(parse("nope", b"{}"), Err(WebhookError::UnknownProvider(_))));
        assert!(matches!(parse("generic", b"not json"), Err(WebhookError::NotJson(_))));
    }

    #[test]
    fn mailgun_signatures_are_checked() {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"1700000000tok");
        let sig: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let body = format!(r#"{{"signature":{{"timestamp":"1700000000","token":"tok","signature":"{sig}"}}}}"#);
        assert_eq!(mailgun_signature(body.as_bytes(), "key"), Some(MailgunStamp { timestamp: 1_700_000_000, token: "tok".into() }));
        assert_eq!(mailgun_signature(body.as_bytes(), "other"), None);
        assert_eq!(mailgun_signature(b"{}", "key"), None);
    }
}
