//! One issue → one complete MIME message per recipient, cheaply.
//!
//! A [`MessageFactory`] is built once per issue: the fixed headers are formatted by lettre's typed
//! headers (RFC 2047 for the CJK subject, folding, no way to inject a line), and the text and HTML
//! bodies are quoted-printable encoded once, in segments split at the per-recipient slots. Making a
//! recipient's message is then: their headers, their tokens, a few small encodings and copies.

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::header::{self, ContentType, HeaderName, HeaderValue, Headers};
use lettre::message::{Mailbox, Mailboxes};

use super::qp::encode_segment;
use crate::domain::token::{Keys, Purpose};
use crate::domain::verp::{self, VerpTarget};
use crate::domain::{EmailAddress, SubscriberName};
use crate::render::slots::{Part, Slot, Template};

#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("site.from {0:?} is not a mailbox like \"Name <address@example.org>\"")]
    BadFrom(String),
    #[error("site.reply_to {0:?} is not a mailbox")]
    BadReplyTo(String),
    #[error("{0} cannot be written as a message recipient")]
    BadRecipient(String),
}

/// What the factory needs to know about the issue and the site.
pub struct IssueMail<'a> {
    pub issue_id: i64,
    pub issue_slug: &'a str,
    pub list_id: i64,
    pub list_slug: &'a str,
    pub list_name: &'a str,
    pub subject: &'a str,
    pub email_html: &'a str,
    pub email_text: &'a str,
    pub base_url: &'a str,
    pub from: &'a str,
    pub reply_to: &'a str,
    pub return_path_domain: &'a str,
}

/// One recipient.
pub struct Recipient<'a> {
    pub subscriber_id: i64,
    pub email: &'a EmailAddress,
    pub name: &'a SubscriberName,
}

/// A message ready for the relay: envelope sender (VERP), envelope recipient, and the bytes.
#[derive(Debug)]
pub struct Outgoing {
    pub envelope_from: String,
    pub envelope_to: String,
    pub bytes: Vec<u8>,
}

enum Encoded {
    Literal(Vec<u8>),
    Slot(Slot),
}

pub struct MessageFactory {
    keys: Keys,
    issue_id: i64,
    list_id: i64,
    base_url: String,
    return_path_domain: String,
    message_id_domain: String,
    fixed_headers: Vec<u8>,
    text: Vec<Encoded>,
    html: Vec<Encoded>,
    text_template: Template,
    html_template: Template,
    boundary: String,
    /// The templates link a personal feed (a private list): sign one for each reader.
    personal_feed: bool,
}

const PART_HEADERS_TEXT: &[u8] = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
const PART_HEADERS_HTML: &[u8] = b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";

impl MessageFactory {
    pub fn new(issue: &IssueMail<'_>, keys: Keys) -> Result<Self, MessageError> {
        let from: Mailbox = issue.from.parse().map_err(|_| MessageError::BadFrom(issue.from.to_string()))?;
        let host = host_of(issue.base_url);
        let boundary = format!("=_tidings_{}_{}", issue.issue_id, random_hex(8));
        let mut h = Headers::new();
        h.set(header::From::from(Mailboxes::from(from.clone())));
        if !issue.reply_to.is_empty() {
            let reply_to: Mailbox = issue.reply_to.parse().map_err(|_| MessageError::BadReplyTo(issue.reply_to.to_string()))?;
            h.set(header::ReplyTo::from(Mailboxes::from(reply_to)));
        }
        h.set(header::Subject::from(issue.subject.to_string()));
        h.set(header::MIME_VERSION_1_0);
        raw(&mut h, "List-Id", format!("{} <{}.{host}>", issue.list_name, issue.list_slug));
        raw(&mut h, "List-Archive", format!("<{}/lists/{}/>", issue.base_url, issue.list_slug));
        raw(&mut h, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_string());
        raw(&mut h, "Precedence", "bulk".to_string());
        raw(&mut h, "Feedback-ID", format!("{}:{}:tidings:{host}", issue.issue_slug, issue.list_slug));
        h.set(ContentType::parse(&format!("multipart/alternative; boundary=\"{boundary}\"")).expect("a valid multipart content type"));
        Ok(Self {
            keys,
            issue_id: issue.issue_id,
            list_id: issue.list_id,
            base_url: issue.base_url.trim_end_matches('/').to_string(),
            return_path_domain: issue.return_path_domain.to_string(),
            message_id_domain: from.email.domain().to_string(),
            fixed_headers: h.to_string().into_bytes(),
            text: encode_template(&Template::parse(issue.email_text)),
            html: encode_template(&Template::parse(issue.email_html)),
            text_template: Template::parse(issue.email_text),
            html_template: Template::parse(issue.email_html),
            boundary,
            personal_feed: issue.email_text.contains(&Slot::FeedUrl.marker()) || issue.email_html.contains(&Slot::FeedUrl.marker()),
        })
    }

    /// The complete message for one recipient. `with_return_path` adds the `Return-Path` header a
    /// receiving server would add (for showing a message as delivered; never sent to a relay).
    pub fn message(&self, r: &Recipient<'_>, now: DateTime<Utc>, with_return_path: bool) -> Result<Outgoing, MessageError> {
        let to = Mailbox::new(
            (!r.name.is_empty()).then(|| r.name.as_str().to_string()),
            r.email.as_str().parse().map_err(|_| MessageError::BadRecipient(r.email.to_string()))?,
        );
        let values = SlotValues::new(self, r, now);
        let envelope_from = verp::address(&self.keys, VerpTarget { subscriber_id: r.subscriber_id, issue_id: self.issue_id }, &self.return_path_domain);
        let mut h = Headers::new();
        if with_return_path {
            raw(&mut h, "Return-Path", format!("<{envelope_from}>"));
        }
        h.set(header::To::from(Mailboxes::from(to)));
        h.set(header::Date::new(SystemTime::from(now)));
        let target = VerpTarget { subscriber_id: r.subscriber_id, issue_id: self.issue_id };
        h.set(header::MessageId::from(verp::message_id(&self.keys, target, &random_hex(6), &self.message_id_domain)));
        let mailto = verp::unsubscribe_address(&self.keys, r.subscriber_id, self.list_id, &self.return_path_domain);
        raw(&mut h, "List-Unsubscribe", format!("<{}>, <mailto:{mailto}?subject=unsubscribe>", values.unsubscribe));

        let mut bytes = Vec::with_capacity(self.fixed_headers.len() + self.size_hint() + 1024);
        bytes.extend_from_slice(h.to_string().as_bytes());
        bytes.extend_from_slice(&self.fixed_headers);
        bytes.extend_from_slice(b"\r\n");
        self.part(&mut bytes, PART_HEADERS_TEXT, &self.text, &|s| values.text(s));
        self.part(&mut bytes, PART_HEADERS_HTML, &self.html, &|s| values.html(s));
        bytes.extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        Ok(Outgoing { envelope_from, envelope_to: r.email.to_string(), bytes })
    }

    /// The HTML body one recipient gets, decoded: for previews.
    pub fn html_body(&self, r: &Recipient<'_>, now: DateTime<Utc>) -> String {
        let values = SlotValues::new(self, r, now);
        self.html_template.fill(|s| values.html(s))
    }

    /// The text body one recipient gets, decoded: for previews.
    pub fn text_body(&self, r: &Recipient<'_>, now: DateTime<Utc>) -> String {
        let values = SlotValues::new(self, r, now);
        self.text_template.fill(|s| values.text(s))
    }

    fn size_hint(&self) -> usize {
        [&self.text, &self.html].iter().flat_map(|p| p.iter()).map(|e| if let Encoded::Literal(b) = e { b.len() } else { 200 }).sum()
    }

    fn part(&self, out: &mut Vec<u8>, headers: &[u8], parts: &[Encoded], value: &dyn Fn(Slot) -> String) {
        out.extend_from_slice(format!("--{}\r\n", self.boundary).as_bytes());
        out.extend_from_slice(headers);
        for part in parts {
            match part {
                Encoded::Literal(bytes) => out.extend_from_slice(bytes),
                Encoded::Slot(slot) => encode_segment(&value(*slot), out),
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// The per-recipient values, computed once per message.
struct SlotValues {
    email: String,
    unsubscribe: String,
    preferences: String,
    feed: String,
}

impl SlotValues {
    fn new(f: &MessageFactory, r: &Recipient<'_>, now: DateTime<Utc>) -> Self {
        let token = |p| f.keys.sign(p, r.subscriber_id, f.list_id, now);
        Self {
            email: r.email.to_string(),
            unsubscribe: format!("{}/unsubscribe/{}", f.base_url, token(Purpose::Unsubscribe)),
            preferences: format!("{}/preferences/{}", f.base_url, token(Purpose::Preferences)),
            feed: if f.personal_feed { crate::render::feeds::personal_feed_url(&f.base_url, &token(Purpose::Feed)) } else { String::new() },
        }
    }

    fn text(&self, slot: Slot) -> String {
        match slot {
            Slot::Email => self.email.clone(),
            Slot::UnsubscribeUrl => self.unsubscribe.clone(),
            Slot::PreferencesUrl => self.preferences.clone(),
            Slot::FeedUrl => self.feed.clone(),
        }
    }

    fn html(&self, slot: Slot) -> String {
        escape_html(&self.text(slot))
    }
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn encode_template(template: &Template) -> Vec<Encoded> {
    template
        .parts()
        .iter()
        .map(|part| match part {
            Part::Text(text) => {
                let mut bytes = Vec::with_capacity(text.len() * 11 / 10);
                encode_segment(text, &mut bytes);
                Encoded::Literal(bytes)
            }
            Part::Slot(slot) => Encoded::Slot(*slot),
        })
        .collect()
}

/// A header lettre has no type for; its value is still encoded and folded by lettre.
fn raw(h: &mut Headers, name: &'static str, value: String) {
    h.insert_raw(HeaderValue::new(HeaderName::new_from_ascii_str(name), value));
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', ':']).next().unwrap_or("localhost").to_ascii_lowercase()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).expect("the OS provides randomness");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
