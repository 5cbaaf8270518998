//! JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/): the same items, ids and links as the
//! RSS and Atom feeds. Its `next_url` leads to older issues, as RFC 5005's `prev-archive` does in
//! the XML feeds, so a reader can page back through the whole history.

use serde_json::{Value, json};

use super::feeds::{FeedItem, FeedLinks, FeedMeta};
use super::issue::Site;

pub fn json_feed(site: &Site, meta: &FeedMeta<'_>, links: &FeedLinks, items: &[FeedItem<'_>]) -> String {
    let logo = format!("{}/static/logo.png", site.base_url);
    let mut feed = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": meta.title,
        "home_page_url": format!("{}{}/", site.base_url, meta.path),
        "feed_url": links.self_url,
        "icon": logo,
        "favicon": logo,
        "language": meta.language,
        "authors": [{ "name": site.title, "url": format!("{}/", site.base_url) }],
        "items": items.iter().map(|item| entry(site, item)).collect::<Vec<_>>(),
    });
    let object = feed.as_object_mut().expect("an object");
    if !meta.description.is_empty() {
        object.insert("description".into(), Value::from(meta.description));
    }
    if let Some(hub) = &links.hub {
        object.insert("hubs".into(), json!([{ "type": "WebSub", "url": hub }]));
    }
    if let Some(older) = &links.prev_archive {
        object.insert("next_url".into(), Value::from(older.as_str()));
    }
    serde_json::to_string_pretty(&feed).expect("JSON of strings")
}

fn entry(site: &Site, item: &FeedItem<'_>) -> Value {
    let url = site.issue_url(item.slug);
    let mut entry = json!({
        "id": url,
        "url": url,
        "title": item.title,
        "content_html": item.body_html,
        "date_published": item.published.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "date_modified": item.updated.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "language": item.language,
    });
    let object = entry.as_object_mut().expect("an object");
    if !item.summary.is_empty() {
        object.insert("summary".into(), Value::from(item.summary));
    }
    if !item.categories.is_empty() {
        object.insert("tags".into(), Value::from(item.categories.clone()));
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    #[test]
    fn a_json_feed_has_its_version_items_hub_and_older_page() {
        let site = Site::new("https://news.example.org", "News", "addr");
        let items = [FeedItem { slug: "a", title: "A", summary: "", body_html: "<p>x</p>", language: "en", published: Utc::now(), updated: Utc::now(), categories: vec![] }];
        let meta = FeedMeta { title: "T", description: "", language: "en", path: "" };
        let links = FeedLinks { self_url: "https://news.example.org/feed.json".into(), hub: Some("https://news.example.org/websub".into()), prev_archive: Some("https://news.example.org/archive/3/feed.json".into()), ..Default::default() };
        let feed: Value = serde_json::from_str(&json_feed(&site, &meta, &links, &items)).unwrap();
        assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(feed["items"][0]["id"], "https://news.example.org/issues/a");
        assert_eq!(feed["hubs"][0]["type"], "WebSub");
        assert_eq!(feed["next_url"], "https://news.example.org/archive/3/feed.json");
        assert!(feed.get("description").is_none(), "no empty strings");
    }
}
