//! RSS 2.0 and Atom 1.0 feeds of published issues, with full HTML content and absolute links
//! (JSON Feed is `json_feed`). Every feed document says where it sits: its own URL, the WebSub
//! hub that pushes it, and — RFC 5005 archived feeds — the archive documents before and after it.
//!
//! Neither feed crate removes characters XML forbids, so every text goes through [`xml_safe`].

use atom_syndication as atom;
use chrono::{DateTime, NaiveTime, TimeZone, Utc};

use super::issue::Site;

/// One issue as a feed item.
pub struct FeedItem<'a> {
    pub slug: &'a str,
    pub title: &'a str,
    pub summary: &'a str,
    pub body_html: &'a str,
    pub language: &'a str,
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// The issue's sections (its `##` headings), as categories.
    pub categories: Vec<String>,
}

/// Which feed: all public lists, or one list.
pub struct FeedMeta<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub language: &'a str,
    /// Path of this feed pair under the site, e.g. "" or "/lists/cstn".
    pub path: &'a str,
}

/// Where a feed document sits and what it links to (RFC 5005, WebSub).
#[derive(Debug, Clone, Default)]
pub struct FeedLinks {
    /// This document's URL.
    pub self_url: String,
    /// The WebSub hub readers subscribe at (subscription documents only).
    pub hub: Option<String>,
    /// The newest archive document older than this one.
    pub prev_archive: Option<String>,
    /// The next newer archive document (archive documents only).
    pub next_archive: Option<String>,
    /// The subscription document (archive documents only).
    pub current: Option<String>,
    /// This is an archive document: it will not change.
    pub archive: bool,
    /// How long a reader may wait between polls, from how often the list publishes.
    pub ttl_minutes: u32,
}

const HISTORY_NS: &str = "http://purl.org/syndication/history/1.0";

/// The URL of a personal feed, signed `token` (a private list's reader).
pub fn personal_feed_url(base_url: &str, token: &str) -> String {
    format!("{}/personal/{token}/feed.xml", base_url.trim_end_matches('/'))
}

/// The texts of an issue's `<h2>` headings: its sections.
pub fn sections(body_html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = body_html;
    while let Some(start) = rest.find("<h2") {
        let after = &rest[start..];
        let (Some(open_end), Some(close)) = (after.find('>'), after.find("</h2>")) else { break };
        if open_end < close {
            let text = strip_tags(&after[open_end + 1..close]);
            let text = text.trim();
            if !text.is_empty() && !found.iter().any(|f: &String| f == text) {
                found.push(text.to_string());
            }
        }
        rest = &after[close.max(open_end) + 1..];
    }
    found
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'")
}

/// Characters XML 1.0 does not allow, even escaped.
pub fn xml_safe(text: &str) -> String {
    text.chars().filter(|c| matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)).collect()
}

/// Noon UTC of a publication date: a stable time for a date-only field.
pub fn date_time(date: chrono::NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_time(NaiveTime::from_hms_opt(12, 0, 0).expect("noon exists")))
}

pub fn rss(site: &Site, meta: &FeedMeta<'_>, links: &FeedLinks, items: &[FeedItem<'_>]) -> String {
    let link = format!("{}{}/", site.base_url, meta.path);
    let rss_items: Vec<rss::Item> = items
        .iter()
        .map(|item| {
            let url = site.issue_url(item.slug);
            rss::ItemBuilder::default()
                .title(Some(xml_safe(item.title)))
                .link(Some(url.clone()))
                .guid(Some(rss::GuidBuilder::default().value(url).permalink(true).build()))
                .description(Some(xml_safe(item.summary)))
                .content(Some(xml_safe(item.body_html)))
                .pub_date(Some(item.published.to_rfc2822()))
                .categories(item.categories.iter().map(|c| rss::CategoryBuilder::default().name(xml_safe(c)).build()).collect::<Vec<_>>())
                .author(None)
                .build()
        })
        .collect();
    let last_build = items.iter().map(|i| i.updated).max().unwrap_or(DateTime::UNIX_EPOCH);
    let mut namespaces = std::collections::BTreeMap::new();
    namespaces.insert("atom".to_string(), "http://www.w3.org/2005/Atom".to_string());
    let mut extensions = rss::extension::ExtensionMap::new();
    if links.archive {
        namespaces.insert("fh".to_string(), HISTORY_NS.to_string());
        extensions.insert("fh".to_string(), [("archive".to_string(), vec![rss::extension::Extension { name: "fh:archive".to_string(), ..Default::default() }])].into());
    }
    let mut channel = rss::ChannelBuilder::default()
        .title(xml_safe(meta.title))
        .link(link.clone())
        .description(xml_safe(if meta.description.is_empty() { meta.title } else { meta.description }))
        .language(Some(meta.language.to_string()))
        .last_build_date(Some(last_build.to_rfc2822()))
        .generator(Some("Tidings".to_string()))
        .ttl(Some(links.ttl_minutes.to_string()))
        .image(Some(rss::ImageBuilder::default().url(format!("{}/static/logo.png", site.base_url)).title(xml_safe(meta.title)).link(link).build()))
        .items(rss_items)
        .namespaces(namespaces)
        .extensions(extensions)
        .build();
    let mut atom_links = vec![atom_link(&links.self_url, "self", "application/rss+xml")];
    for (rel, href) in related(links) {
        atom_links.push(atom_link(href, rel, if rel == "hub" { "" } else { "application/rss+xml" }));
    }
    channel.set_atom_ext(Some(rss::extension::atom::AtomExtension { links: atom_links }));
    channel.to_string()
}

/// The links besides `self`: hub, and the archive chain.
fn related(links: &FeedLinks) -> Vec<(&'static str, &str)> {
    let mut out = Vec::new();
    for (rel, href) in [("hub", &links.hub), ("prev-archive", &links.prev_archive), ("next-archive", &links.next_archive), ("current", &links.current)] {
        if let Some(href) = href {
            out.push((rel, href.as_str()));
        }
    }
    out
}

fn atom_link(href: &str, rel: &str, mime: &str) -> rss::extension::atom::Link {
    let mut link = rss::extension::atom::Link::default();
    link.set_href(href);
    link.set_rel(rel);
    if !mime.is_empty() {
        link.set_mime_type(Some(mime.to_string()));
    }
    link
}

pub fn atom(site: &Site, meta: &FeedMeta<'_>, links: &FeedLinks, items: &[FeedItem<'_>]) -> String {
    let entries: Vec<atom::Entry> = items
        .iter()
        .map(|item| {
            let url = site.issue_url(item.slug);
            let mut content = atom::Content::default();
            content.set_content_type(Some("html".to_string()));
            content.set_value(Some(xml_safe(item.body_html)));
            content.set_lang(Some(item.language.to_string()));
            atom::EntryBuilder::default()
                .id(url.clone())
                .title(atom::Text::plain(xml_safe(item.title)))
                .updated(item.updated.fixed_offset())
                .published(Some(item.published.fixed_offset()))
                .summary(Some(atom::Text::plain(xml_safe(item.summary))))
                .content(Some(content))
                .categories(item.categories.iter().map(|c| atom::CategoryBuilder::default().term(xml_safe(c)).build()).collect::<Vec<_>>())
                .links(vec![atom::LinkBuilder::default().href(url).rel("alternate").mime_type(Some("text/html".to_string())).build()])
                .build()
        })
        .collect();
    let updated = items.iter().map(|i| i.updated).max().unwrap_or(DateTime::UNIX_EPOCH);
    let mut feed_links = vec![
        atom::LinkBuilder::default().href(links.self_url.clone()).rel("self").mime_type(Some("application/atom+xml".to_string())).build(),
        atom::LinkBuilder::default().href(format!("{}{}/", site.base_url, meta.path)).rel("alternate").mime_type(Some("text/html".to_string())).build(),
    ];
    for (rel, href) in related(links) {
        let mime = (rel != "hub").then(|| "application/atom+xml".to_string());
        feed_links.push(atom::LinkBuilder::default().href(href.to_string()).rel(rel.to_string()).mime_type(mime).build());
    }
    let mut namespaces = std::collections::BTreeMap::new();
    let mut extensions = atom::extension::ExtensionMap::new();
    if links.archive {
        namespaces.insert("fh".to_string(), HISTORY_NS.to_string());
        extensions.insert("fh".to_string(), [("archive".to_string(), vec![atom::extension::Extension { name: "fh:archive".to_string(), ..Default::default() }])].into());
    }
    let feed = atom::FeedBuilder::default()
        .id(links.self_url.clone())
        .title(atom::Text::plain(xml_safe(meta.title)))
        .subtitle(Some(atom::Text::plain(xml_safe(meta.description))))
        .updated(updated.fixed_offset())
        .authors(vec![atom::PersonBuilder::default().name(xml_safe(&site.title)).uri(Some(format!("{}/", site.base_url))).build()])
        .links(feed_links)
        .icon(Some(format!("{}/static/logo.png", site.base_url)))
        .logo(Some(format!("{}/static/logo.png", site.base_url)))
        .lang(Some(meta.language.to_string()))
        .generator(Some(atom::Generator { value: "Tidings".to_string(), uri: None, version: None }))
        .namespaces(namespaces)
        .extensions(extensions)
        .entries(entries)
        .build();
    feed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_escape_and_drop_illegal_characters() {
        let site = Site::new("https://news.example.org/", "Tidings & Co", "addr");
        let items = [FeedItem {
            slug: "x",
            title: "A & B <c> \"d\" 'e' \u{1}",
            summary: "]]> 中文 😀",
            body_html: "<p>a ]]> b</p>",
            language: "zh-CN",
            published: Utc::now(),
            updated: Utc::now(),
            categories: vec!["聚焦".into()],
        }];
        let meta = FeedMeta { title: "T", description: "", language: "zh-CN", path: "" };
        let links = FeedLinks { self_url: "https://news.example.org/feed.xml".into(), ttl_minutes: 60, ..Default::default() };
        let rss = rss(&site, &meta, &links, &items);
        assert!(!rss.contains('\u{1}') && rss.contains("A &amp; B &lt;c&gt;"), "{rss}");
        assert!(rss.contains("https://news.example.org/issues/x"), "{rss}");
        let atom = atom(&site, &meta, &links, &items);
        assert!(!atom.contains('\u{1}') && atom.contains("A &amp; B &lt;c&gt;"), "{atom}");
    }

    #[test]
    fn sections_are_the_h2_headings_once_each() {
        let html = "<h2 id=\"a\">聚焦</h2><p>x</p><h2>Science &amp; <em>Tech</em></h2><h2>聚焦</h2><h3>no</h3>";
        assert_eq!(sections(html), ["聚焦", "Science & Tech"]);
    }
}
