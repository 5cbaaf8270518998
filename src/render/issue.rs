//! Renders one issue, once: the web body, the email HTML (CSS inlined) and the email text, the
//! last two with slots for the per-recipient values.

use chrono::NaiveDate;

use super::i18n::Strings;
use super::layout::{self, EmailFrame, Masthead};
use super::slots::{Slot, strip_markers};
use super::{markdown, text};

/// The site-wide settings rendering needs.
#[derive(Debug, Clone)]
pub struct Site {
    /// Without a trailing slash.
    pub base_url: String,
    pub title: String,
    pub postal_address: String,
}

impl Site {
    pub fn new(base_url: &str, title: &str, postal_address: &str) -> Self {
        Self { base_url: base_url.trim_end_matches('/').to_string(), title: title.to_string(), postal_address: postal_address.to_string() }
    }

    pub fn media_base(&self) -> String {
        format!("{}/media/", self.base_url)
    }

    pub fn issue_url(&self, slug: &str) -> String {
        format!("{}/issues/{slug}", self.base_url)
    }
}

/// What is known about an issue apart from its body.
#[derive(Debug, Clone)]
pub struct IssueView<'a> {
    pub slug: &'a str,
    pub title: &'a str,
    pub subtitle: &'a str,
    pub volume: Option<i64>,
    pub number: Option<i64>,
    pub date: NaiveDate,
    pub language: &'a str,
    pub summary: &'a str,
    pub list_name: &'a str,
    /// The list is private: its readers' emails carry their personal feed.
    pub private_list: bool,
}

impl<'a> IssueView<'a> {
    /// The view of a parsed issue file, in `language` (the file's, else its list's).
    pub fn of_source(source: &'a crate::domain::IssueSource, language: &'a str, list_name: &'a str, private_list: bool) -> Self {
        Self {
            slug: source.slug.as_str(),
            title: &source.title,
            subtitle: &source.subtitle,
            volume: source.volume.map(i64::from),
            number: source.number.map(i64::from),
            date: source.date,
            language,
            summary: &source.summary,
            list_name,
            private_list,
        }
    }

    pub fn strings(&self) -> &'static Strings {
        Strings::for_language(self.language)
    }

    pub fn issue_line(&self) -> String {
        self.strings().issue_line(self.volume, self.number, self.date)
    }
}

#[derive(Debug, Clone)]
pub struct RenderedIssue {
    pub body_html: String,
    pub email_html: String,
    pub email_text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot inline the email's CSS: {0}")]
    Inline(String),
    /// Deep inline formatting, or HTML the line check could not follow, nests past what the
    /// email and text writers can walk.
    #[error("the rendered body nests {depth} elements deep; at most {} are accepted (deeply nested emphasis or HTML)", markdown::MAX_RENDERED_DEPTH)]
    TooDeep { depth: usize },
    /// A small body can expand a lot (a footnote reference is a few bytes, its HTML a hundred):
    /// mail clients clip long messages long before this anyway.
    #[error("the rendered body is {kib} KiB; at most {} KiB is accepted (split the issue)", MAX_RENDERED_BYTES / 1024)]
    TooLarge { kib: usize },
}

/// The largest body HTML accepted.
pub const MAX_RENDERED_BYTES: usize = 4 * 1024 * 1024;

/// The body HTML alone: what the web page and the feeds show.
pub fn body_html(issue: &IssueView<'_>, markdown_source: &str, site: &Site) -> String {
    markdown::to_html(markdown_source, &site.media_base(), &format!("{}-", issue.slug))
}

pub fn render(issue: &IssueView<'_>, markdown_source: &str, site: &Site) -> Result<RenderedIssue, RenderError> {
    let body_html = body_html(issue, markdown_source, site);
    let depth = markdown::html_depth(&body_html);
    if depth > markdown::MAX_RENDERED_DEPTH {
        return Err(RenderError::TooDeep { depth });
    }
    if body_html.len() > MAX_RENDERED_BYTES {
        return Err(RenderError::TooLarge { kib: body_html.len().div_ceil(1024) });
    }
    let email_html = email_html(issue, &body_html, site)?;
    let email_text = email_text(issue, markdown_source, site);
    Ok(RenderedIssue { body_html, email_html, email_text })
}

fn email_html(issue: &IssueView<'_>, body_html: &str, site: &Site) -> Result<String, RenderError> {
    let issue_line = issue.issue_line();
    let title = strip_markers(issue.title);
    let subtitle = strip_markers(issue.subtitle);
    let preheader = strip_markers(if issue.summary.is_empty() { issue.subtitle } else { issue.summary });
    let web_url = site.issue_url(issue.slug);
    let postal = strip_markers(&site.postal_address);
    let list_name = strip_markers(issue.list_name);
    let frame = EmailFrame {
        language: issue.language,
        masthead: Masthead { title: &title, subtitle: &subtitle, issue_line: &issue_line },
        preheader: &preheader,
        web_url: &web_url,
        list_name: &list_name,
        postal_address: &postal,
        strings: issue.strings(),
        private_feed: issue.private_list,
    };
    let html = layout::email(&frame, body_html).into_string();
    let inliner = css_inline::CSSInliner::options().load_remote_stylesheets(false).keep_at_rules(true).build();
    inliner.inline(&html).map_err(|e| RenderError::Inline(e.to_string()))
}

fn email_text(issue: &IssueView<'_>, markdown_source: &str, site: &Site) -> String {
    use super::wrap::wrap;
    let s = issue.strings();
    let body = text::render(markdown_source, &site.media_base());
    let mut out = wrap(&strip_markers(issue.title), "", "");
    if !issue.subtitle.is_empty() {
        out.push_str(&wrap(&strip_markers(issue.subtitle), "", ""));
    }
    out.push_str(&format!("{}\n\n{}{}{}\n\n", issue.issue_line(), s.view_in_browser, s.colon, site.issue_url(issue.slug)));
    out.push_str(&body.body);
    if !body.links.is_empty() {
        out.push_str(&format!("\n{}{}\n", s.links, s.colon.trim_end()));
        for (i, url) in body.links.iter().enumerate() {
            out.push_str(&format!("[{}] {url}\n", i + 1));
        }
    }
    if !body.notes.is_empty() {
        out.push_str(&format!("\n{}{}\n", s.notes, s.colon.trim_end()));
        for note in &body.notes {
            out.push_str(&wrap(note, "", "    "));
        }
    }
    out.push_str("\n-- \n");
    out.push_str(&wrap(&s.why_received(&Slot::Email.marker(), &strip_markers(issue.list_name)), "", ""));
    out.push_str(&format!("{}{}{}\n", s.unsubscribe, s.colon, Slot::UnsubscribeUrl.marker()));
    out.push_str(&format!("{}{}{}\n", s.preferences, s.colon, Slot::PreferencesUrl.marker()));
    if issue.private_list {
        out.push_str(&format!("{}{}{}\n", s.private_feed, s.colon, Slot::FeedUrl.marker()));
    }
    out.push_str(&wrap(&strip_markers(&site.postal_address), "", ""));
    out
}
