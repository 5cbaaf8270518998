//! The archive's pages: the web version of an issue and the paged index, in the email's look.

use super::feeds::FeedItem;
use super::i18n::Strings;
use super::issue::{IssueView, Site};
use super::layout::{self, IndexEntry, Masthead, PageFrame};

pub const PAGE_SIZE: i64 = 20;

/// The web version of one issue; `body_html` is the stored, sanitised body.
pub fn issue_page(site: &Site, issue: &IssueView<'_>, body_html: &str) -> String {
    let strings = issue.strings();
    let issue_line = issue.issue_line();
    let frame = PageFrame { language: issue.language, title: issue.title, site_title: &site.title, base_url: &site.base_url, strings, postal_address: &site.postal_address };
    let masthead = Masthead { title: issue.title, subtitle: issue.subtitle, issue_line: &issue_line };
    layout::page(&frame, layout::issue_page(&masthead, body_html)).into_string()
}

/// One page of an index. `path` is where the index lives under the site ("" or "/lists/x");
/// page 1 is `{path}/`, page n is `{path}/page/{n}/`.
pub struct IndexPage<'a> {
    pub heading: &'a str,
    pub language: &'a str,
    pub path: &'a str,
    pub page: i64,
    pub pages: i64,
}

pub fn page_url(site: &Site, path: &str, page: i64) -> String {
    if page <= 1 { format!("{}{path}/", site.base_url) } else { format!("{}{path}/page/{page}/", site.base_url) }
}

pub fn index_page(site: &Site, index: &IndexPage<'_>, issues: &[IssueView<'_>]) -> String {
    let strings = Strings::for_language(index.language);
    let entries: Vec<IndexEntry<'_>> = issues
        .iter()
        .map(|i| IndexEntry { url: site.issue_url(i.slug), title: i.title, subtitle: i.subtitle, issue_line: i.issue_line(), summary: i.summary })
        .collect();
    let newer = (index.page > 1).then(|| (page_url(site, index.path, index.page - 1), strings.newer));
    let older = (index.page < index.pages).then(|| (page_url(site, index.path, index.page + 1), strings.older));
    let frame = PageFrame { language: index.language, title: index.heading, site_title: &site.title, base_url: &site.base_url, strings, postal_address: &site.postal_address };
    let content = layout::index_page(index.heading, &entries, newer, older, &strings.page_of(index.page, index.pages.max(1)));
    layout::page(&frame, content).into_string()
}

/// A feed item from an issue and its stored body.
pub fn feed_item<'a>(issue: &'a IssueView<'a>, body_html: &'a str, updated: chrono::DateTime<chrono::Utc>) -> FeedItem<'a> {
    FeedItem { slug: issue.slug, title: issue.title, summary: issue.summary, body_html, language: issue.language, published: super::feeds::date_time(issue.date), updated, categories: Vec::new() }
}
