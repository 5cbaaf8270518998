//! The maud templates: the issue email and the archive pages. Stylesheets live in `templates/`.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::i18n::Strings;
use super::slots::Slot;

pub const EMAIL_CSS: &str = include_str!("../../templates/email.css");
pub const PAGE_CSS: &str = include_str!("../../templates/page.css");

/// What the masthead shows.
pub struct Masthead<'a> {
    pub title: &'a str,
    pub subtitle: &'a str,
    pub issue_line: &'a str,
}

/// Everything the email template needs besides the body.
pub struct EmailFrame<'a> {
    pub language: &'a str,
    pub masthead: Masthead<'a>,
    pub preheader: &'a str,
    pub web_url: &'a str,
    pub list_name: &'a str,
    pub postal_address: &'a str,
    pub strings: &'a Strings,
    /// Link the reader's personal feed (a private list).
    pub private_feed: bool,
}

/// The email's HTML before CSS inlining: a single 640-pixel column of tables, which is what
/// Outlook, Gmail and Apple Mail all lay out the same way.
pub fn email(frame: &EmailFrame<'_>, body_html: &str) -> Markup {
    let s = frame.strings;
    html! {
        (DOCTYPE)
        html lang=(frame.language) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                meta name="supported-color-schemes" content="light dark";
                title { (frame.masthead.title) }
                style { (PreEscaped(EMAIL_CSS)) }
            }
            body {
                div.preheader { (frame.preheader) }
                table.wrapper role="presentation" width="100%" cellpadding="0" cellspacing="0" {
                    tr { td align="center" {
                        table.container role="presentation" width="640" cellpadding="0" cellspacing="0" {
                            tr { td.webversion { a href=(frame.web_url) { (s.view_in_browser) } } }
                            tr { td.masthead { (masthead(&frame.masthead)) } }
                            tr { td.content { (PreEscaped(body_html)) } }
                            tr { td.footer {
                                p { (s.why_received(&Slot::Email.marker(), frame.list_name)) }
                                p {
                                    a href=(Slot::UnsubscribeUrl.marker()) { (s.unsubscribe) } " · "
                                    a href=(Slot::PreferencesUrl.marker()) { (s.preferences) } " · "
                                    @if frame.private_feed { a href=(Slot::FeedUrl.marker()) { (s.private_feed) } " · " }
                                    a href=(frame.web_url) { (s.view_in_browser) }
                                }
                                p { (frame.postal_address) }
                            } }
                        }
                    } }
                }
            }
        }
    }
}

fn masthead(m: &Masthead<'_>) -> Markup {
    html! {
        p.issue-line { (m.issue_line) }
        h1 { (m.title) }
        @if !m.subtitle.is_empty() { p.subtitle { (m.subtitle) } }
    }
}

/// The frame of every archive page: site header, content, footer with the feeds.
pub struct PageFrame<'a> {
    pub language: &'a str,
    pub title: &'a str,
    pub site_title: &'a str,
    pub base_url: &'a str,
    pub strings: &'a Strings,
    pub postal_address: &'a str,
}

pub fn page(frame: &PageFrame<'_>, content: Markup) -> Markup {
    let s = frame.strings;
    html! {
        (DOCTYPE)
        html lang=(frame.language) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (frame.title) }
                link rel="alternate" type="application/rss+xml" title=(frame.site_title) href={ (frame.base_url) "/feed.xml" };
                link rel="alternate" type="application/atom+xml" title=(frame.site_title) href={ (frame.base_url) "/atom.xml" };
                link rel="alternate" type="application/feed+json" title=(frame.site_title) href={ (frame.base_url) "/feed.json" };
                style { (PreEscaped(PAGE_CSS)) }
            }
            body { div.page {
                header.site {
                    a href={ (frame.base_url) "/" } { (frame.site_title) " · " (s.archive) }
                    a href={ (frame.base_url) "/subscribe" } { (s.subscribe) }
                }
                (content)
                footer.site {
                    p { a href={ (frame.base_url) "/feed.xml" } { (s.feeds) } }
                    p { (frame.postal_address) }
                }
            } }
        }
    }
}

/// The web version of one issue.
pub fn issue_page(m: &Masthead<'_>, body_html: &str) -> Markup {
    html! {
        div.masthead { (masthead(m)) }
        main { (PreEscaped(body_html)) }
    }
}

/// One entry of the archive index.
pub struct IndexEntry<'a> {
    pub url: String,
    pub title: &'a str,
    pub subtitle: &'a str,
    pub issue_line: String,
    pub summary: &'a str,
}

pub fn index_page(heading: &str, entries: &[IndexEntry<'_>], newer: Option<(String, &str)>, older: Option<(String, &str)>, page_line: &str) -> Markup {
    html! {
        main {
            h1 { (heading) }
            ol.issues {
                @for e in entries {
                    li {
                        h2 { a href=(e.url) { (e.title) } }
                        @if !e.subtitle.is_empty() { p { (e.subtitle) } }
                        p { (e.issue_line) }
                        @if !e.summary.is_empty() { p { (e.summary) } }
                    }
                }
            }
            nav.pager aria-label=(page_line) {
                @if let Some((url, label)) = newer { a href=(url) rel="prev" { "← " (label) } } @else { span {} }
                span { (page_line) }
                @if let Some((url, label)) = older { a href=(url) rel="next" { (label) " →" } } @else { span {} }
            }
        }
    }
}
