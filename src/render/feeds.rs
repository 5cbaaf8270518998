//! RSS 2.0 and Atom 1.0 feeds of published issues, with full HTML content and absolute links.
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
}

/// Which feed: all public lists, or one list.
pub struct FeedMeta<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub language: &'a str,
    /// Path of this feed pair under the site, e.g. "" or "/lists/cstn".
    pub path: &'a str,
}

/// Characters XML 1.0 does not allow, even escaped.
pub fn xml_safe(text: &str) -> String {
    text.chars().filter(|c| matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)).collect()
}

/// Noon UTC of a publication date: a stable time for a date-only field.
pub fn date_time(date: chrono::NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_time(NaiveTime::from_hms_opt(12, 0, 0).expect("noon exists")))
}

pub fn rss(site: &Site, meta: &FeedMeta<'_>, items: &[FeedItem<'_>]) -> String {
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
                .author(None)
                .build()
        })
        .collect();
    let last_build = items.iter().map(|i| i.updated).max().unwrap_or_else(|| DateTime::UNIX_EPOCH);
    let mut namespaces = std::collections::BTreeMap::new();
    namespaces.insert("atom".to_string(), "http://www.w3.org/2005/Atom".to_string());
    let mut channel = rss::ChannelBuilder::default()
        .title(xml_safe(meta.title))
        .link(link.clone())
        .description(xml_safe(if meta.description.is_empty() { meta.title } else { meta.description }))
        .language(Some(meta.language.to_string()))
        .last_build_date(Some(last_build.to_rfc2822()))
        .generator(Some("Tidings".to_string()))
        .image(Some(rss::ImageBuilder::default().url(format!("{}/static/logo.png", site.base_url)).title(xml_safe(meta.title)).link(link).build()))
        .items(rss_items)
        .namespaces(namespaces)
        .build();
    channel.set_atom_ext(Some(rss::extension::atom::AtomExtension {
        links: vec![atom_link(&format!("{}{}/feed.xml", site.base_url, meta.path), "self", "application/rss+xml")],
    }));
    channel.to_string()
}

fn atom_link(href: &str, rel: &str, mime: &str) -> rss::extension::atom::Link {
    let mut link = rss::extension::atom::Link::default();
    link.set_href(href);
    link.set_rel(rel);
    link.set_mime_type(Some(mime.to_string()));
    link
}

pub fn atom(site: &Site, meta: &FeedMeta<'_>, items: &[FeedItem<'_>]) -> String {
    let self_url = format!("{}{}/atom.xml", site.base_url, meta.path);
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
                .links(vec![atom::LinkBuilder::default().href(url).rel("alternate").mime_type(Some("text/html".to_string())).build()])
                .build()
        })
        .collect();
    let updated = items.iter().map(|i| i.updated).max().unwrap_or_else(|| DateTime::UNIX_EPOCH);
    let feed = atom::FeedBuilder::default()
        .id(self_url.clone())
        .title(atom::Text::plain(xml_safe(meta.title)))
        .subtitle(Some(atom::Text::plain(xml_safe(meta.description))))
        .updated(updated.fixed_offset())
        .authors(vec![atom::PersonBuilder::default().name(xml_safe(&site.title)).uri(Some(format!("{}/", site.base_url))).build()])
        .links(vec![
            atom::LinkBuilder::default().href(self_url).rel("self").mime_type(Some("application/atom+xml".to_string())).build(),
            atom::LinkBuilder::default().href(format!("{}{}/", site.base_url, meta.path)).rel("alternate").mime_type(Some("text/html".to_string())).build(),
        ])
        .logo(Some(format!("{}/static/logo.png", site.base_url)))
        .lang(Some(meta.language.to_string()))
        .generator(Some(atom::Generator { value: "Tidings".to_string(), uri: None, version: None }))
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
        }];
        let meta = FeedMeta { title: "T", description: "", language: "zh-CN", path: "" };
        let rss = rss(&site, &meta, &items);
        assert!(!rss.contains('\u{1}') && rss.contains("A &amp; B &lt;c&gt;"), "{rss}");
        assert!(rss.contains("https://news.example.org/issues/x"), "{rss}");
        let atom = atom(&site, &meta, &items);
        assert!(!atom.contains('\u{1}') && atom.contains("A &amp; B &lt;c&gt;"), "{atom}");
    }
}
