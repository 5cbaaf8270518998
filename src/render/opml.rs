//! `/feeds.opml`: every public list's feed (and the whole site's) in one file a feed reader
//! imports at once (OPML 2.0).

use super::feeds::xml_safe;

/// One feed: its title, its RSS URL and the page it belongs to.
pub struct OpmlFeed<'a> {
    pub title: &'a str,
    pub xml_url: String,
    pub html_url: String,
}

pub fn opml(title: &str, feeds: &[OpmlFeed<'_>]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n");
    out.push_str(&format!("  <head><title>{}</title></head>\n  <body>\n", escape(title)));
    for feed in feeds {
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{t}\" title=\"{t}\" xmlUrl=\"{x}\" htmlUrl=\"{h}\"/>\n",
            t = escape(feed.title),
            x = escape(&feed.xml_url),
            h = escape(&feed.html_url)
        ));
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

fn escape(text: &str) -> String {
    xml_safe(text).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlines_are_escaped() {
        let opml = opml("A & B", &[OpmlFeed { title: "\"Q\" <list>", xml_url: "https://x.org/feed.xml?a=1&b=2".into(), html_url: "https://x.org/".into() }]);
        assert!(opml.contains("title=\"&quot;Q&quot; &lt;list&gt;\"") && opml.contains("a=1&amp;b=2"), "{opml}");
    }
}
