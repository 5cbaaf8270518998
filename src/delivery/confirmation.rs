//! The double opt-in email as a message for the relay, with a signed, expiring confirm link and a
//! VERP sender (issue 0: a bounce of it maps back to the person all the same).

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use super::message::{MessageError, Outgoing};
use crate::app::App;
use crate::domain::token::Purpose;
use crate::domain::verp::{self, VerpTarget};
use crate::render::confirmation::{ConfirmationView, render};
use crate::store::PendingConfirmation;

pub fn confirmation_message(app: &App, c: &PendingConfirmation, now: DateTime<Utc>) -> Result<Outgoing, MessageError> {
    let site = &app.config.site;
    let token = app.keys.sign(Purpose::Confirm, c.subscriber_id, c.list_id, now);
    let confirm_url = format!("{}/confirm/{token}", site.base_url.trim_end_matches('/'));
    let mail = render(&ConfirmationView {
        language: &c.list_language,
        list_name: &c.list_name,
        email: &c.email,
        confirm_url: &confirm_url,
        site_title: &site.title,
        postal_address: &site.postal_address,
    });
    let from: Mailbox = site.from.parse().map_err(|_| MessageError::BadFrom(site.from.clone()))?;
    let bad_to = || MessageError::BadRecipient(c.email.clone());
    let to = Mailbox::new((!c.name.is_empty()).then(|| c.name.clone()), c.email.parse().map_err(|_| bad_to())?);
    let envelope_from = verp::address(&app.keys, VerpTarget { subscriber_id: c.subscriber_id, issue_id: 0 }, &app.config.bounce.return_path_domain);
    let message_id = format!("<confirm.{}.{}.{}@{}>", c.list_id, c.subscriber_id, now.timestamp_micros(), from.email.domain());
    let mut builder = Message::builder().from(from).to(to).subject(mail.subject).date(SystemTime::from(now)).message_id(Some(message_id));
    if !site.reply_to.is_empty() {
        builder = builder.reply_to(site.reply_to.parse().map_err(|_| MessageError::BadReplyTo(site.reply_to.clone()))?);
    }
    // RFC 3834: an automatic message; well-behaved responders do not answer it.
    let message = builder
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".into()))
        .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
        .map_err(|_| bad_to())?;
    Ok(Outgoing { envelope_from, envelope_to: c.email.clone(), bytes: message.formatted() })
}
