//! `issue render SLUG --format …`: one rendering of a stored issue, as a subscriber (or a sample
//! subscriber) would get it.

use chrono::Utc;

use crate::app::App;
use crate::delivery::message::{IssueMail, MessageError, MessageFactory, Recipient};
use crate::domain::{EmailAddress, SubscriberName};
use super::feeds::FeedKind;
use crate::render::feeds::FeedMeta;
use crate::store::{Issue, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Text,
    Eml,
    Rss,
    Atom,
}

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Message(#[from] MessageError),
}

/// The sample subscriber a preview is addressed to when no `--to` is given.
const SAMPLE: &str = "subscriber@example.com";

pub async fn preview(app: &App, slug: &str, format: Format, to: Option<&EmailAddress>) -> Result<Vec<u8>, PreviewError> {
    let issue = app.store.issue_by_slug(slug).await?;
    let sample = EmailAddress::parse(SAMPLE).expect("the sample address is valid");
    let email = to.unwrap_or(&sample);
    let (subscriber_id, name) = match app.store.subscriber_detail(email).await {
        Ok(found) => (found.id, SubscriberName::parse(&found.name).unwrap_or_default()),
        Err(StoreError::UnknownSubscriber(_)) => (0, SubscriberName::default()),
        Err(e) => return Err(e.into()),
    };
    let recipient = Recipient { subscriber_id, email, name: &name };
    Ok(match format {
        // Never DKIM-signed: only what is sent carries our signature, or anyone who may preview
        // could mint signed copies of mail that was never sent.
        Format::Eml => factory(app, &issue)?.message(&recipient, Utc::now(), true)?.bytes,
        Format::Html => factory(app, &issue)?.html_body(&recipient, Utc::now()).into_bytes(),
        Format::Text => factory(app, &issue)?.text_body(&recipient, Utc::now()).into_bytes(),
        Format::Rss | Format::Atom => {
            let section = format!("/lists/{}", issue.list_slug);
            let meta = FeedMeta { title: &issue.list_name, description: "", language: &issue.language, path: &section };
            let kind = if format == Format::Rss { FeedKind::Rss } else { FeedKind::Atom };
            let issues = [issue.clone()];
            let links = super::feeds::links(app, &section, kind, &super::feeds::ArchivePlan::new(1, app.config.feeds.max_items), None, &issues);
            super::feeds::document(app, &meta, &links, &issues, kind).into_bytes()
        }
    })
}

pub fn factory(app: &App, issue: &Issue) -> Result<MessageFactory, MessageError> {
    let mail = IssueMail {
        issue_id: issue.id,
        issue_slug: &issue.slug,
        list_id: issue.list_id,
        list_slug: &issue.list_slug,
        list_name: &issue.list_name,
        subject: &issue.title,
        email_html: &issue.email_html,
        email_text: &issue.email_text,
        base_url: &app.site.base_url,
        from: &app.config.site.from,
        reply_to: &app.config.site.reply_to,
        return_path_domain: &app.config.bounce.return_path_domain,
    };
    MessageFactory::new(&mail, app.keys.clone())
}


/// The email of an issue that is not stored yet (the editor's draft), as the sample subscriber
/// would see it: its HTML body and its plain-text part.
pub async fn preview_draft(app: &App, path: &std::path::Path, text: &str) -> Result<(String, String), super::PublishError> {
    let draft = super::add::prepare_issue(app, path, text).await?;
    let mail = IssueMail {
        issue_id: 0,
        issue_slug: draft.source.slug.as_str(),
        list_id: draft.list.id,
        list_slug: &draft.list.slug,
        list_name: &draft.list.name,
        subject: &draft.source.title,
        email_html: &draft.rendered.email_html,
        email_text: &draft.rendered.email_text,
        base_url: &app.site.base_url,
        from: &app.config.site.from,
        reply_to: &app.config.site.reply_to,
        return_path_domain: &app.config.bounce.return_path_domain,
    };
    let factory = MessageFactory::new(&mail, app.keys.clone()).map_err(|e| super::PublishError::Message { path: path.display().to_string(), message: e.to_string() })?;
    let sample = EmailAddress::parse(SAMPLE).expect("the sample address is valid");
    let name = SubscriberName::default();
    let recipient = Recipient { subscriber_id: 0, email: &sample, name: &name };
    Ok((factory.html_body(&recipient, Utc::now()), factory.text_body(&recipient, Utc::now())))
}
