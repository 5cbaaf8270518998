//! Markdown → safe HTML with absolute URLs.
//!
//! comrak parses CommonMark with tables, footnotes, strikethrough and CJK-friendly emphasis, and
//! passes raw HTML through; ammonia then removes everything that is not plain formatting (scripts,
//! event handlers, `javascript:` URLs, styles). Relative image and link paths become absolute under
//! `{base_url}/media/`; footnote ids get the issue's slug as a prefix so several issues can share
//! a page.

use std::borrow::Cow;

use comrak::nodes::NodeValue;
use comrak::{Arena, Options, parse_document};

use super::slots::strip_markers;

pub fn options() -> Options<'static> {
    let mut options = Options::default();
    options.extension.table = true;
    options.extension.footnotes = true;
    options.extension.strikethrough = true;
    options.extension.autolink = true;
    options.extension.cjk_friendly_emphasis = true;
    // Raw HTML is kept here and sanitised by ammonia below, which is stricter than comrak's filter.
    options.render.r#unsafe = true;
    options
}

/// Whether a URL in the Markdown points into the content folder rather than elsewhere.
pub fn is_relative(url: &str) -> bool {
    !url.is_empty() && !url.starts_with('#') && !url.starts_with("//") && !url.contains(':')
}

/// The relative image paths the Markdown uses, in order, for checking that the files exist.
pub fn relative_images(markdown: &str) -> Vec<String> {
    let arena = Arena::new();
    let root = parse_document(&arena, markdown, &options());
    root.descendants()
        .filter_map(|node| match &node.data().value {
            NodeValue::Image(link) if is_relative(&link.url) => Some(link.url.clone()),
            _ => None,
        })
        .collect()
}

/// The issue body as sanitised HTML.
pub fn to_html(markdown: &str, media_base: &str, id_prefix: &str) -> String {
    let raw = comrak::markdown_to_html(&strip_markers(markdown), &options());
    let mut builder = sanitizer(media_base.to_string(), id_prefix.to_string());
    builder.id_prefix(Some(id_prefix));
    builder.clean(&raw).to_string()
}

/// Where relative URLs go: fragments stay on the page (with the id prefix), paths go under media.
struct Rebase {
    media_base: String,
    id_prefix: String,
}

impl<'a> ammonia::UrlRelativeEvaluate<'a> for Rebase {
    fn evaluate<'url>(&self, url: &'url str) -> Option<Cow<'url, str>> {
        Some(Cow::Owned(match url.strip_prefix('#') {
            Some(fragment) => format!("#{}{fragment}", self.id_prefix),
            None => format!("{}{}", self.media_base, url.trim_start_matches('/')),
        }))
    }
}

fn sanitizer<'a>(media_base: String, id_prefix: String) -> ammonia::Builder<'a> {
    let mut b = ammonia::Builder::default();
    b.add_tags(["section"])
        .add_tag_attributes("a", ["id"])
        .add_tag_attributes("li", ["id"])
        .add_tag_attributes("td", ["align"])
        .add_tag_attributes("th", ["align"])
        .add_allowed_classes("section", ["footnotes"])
        .add_allowed_classes("sup", ["footnote-ref"])
        .add_allowed_classes("a", ["footnote-backref"])
        .link_rel(Some("noopener"))
        .url_relative(ammonia::UrlRelative::Custom(Box::new(Rebase { media_base, id_prefix })));
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://news.example.org/media/";

    fn html(md: &str) -> String {
        to_html(md, BASE, "i1-")
    }

    #[test]
    fn dangerous_html_is_removed() {
        let out = html("<script>alert(1)</script>\n\n<img src=x onerror=alert(1)> [x](javascript:alert(1)) <a href=\"vbscript:x\">v</a> <p style=\"color:red\" onclick=\"x()\">p</p>");
        for bad in ["<script", "onerror", "javascript:", "vbscript:", "onclick", "style="] {
            assert!(!out.contains(bad), "{bad} survived: {out}");
        }
    }

    #[test]
    fn code_keeps_its_text_escaped() {
        let out = html("```\n<b>&amp;</b>\n```\n\nand `<i>`");
        assert!(out.contains("&lt;b&gt;&amp;amp;&lt;/b&gt;") && out.contains("<code>&lt;i&gt;</code>"), "{out}");
    }

    #[test]
    fn relative_urls_become_absolute_and_fragments_get_the_prefix() {
        let out = html("![fig](images/a.png) [doc](notes/x.html) [abs](https://example.com/a) text[^1]\n\n[^1]: note");
        assert!(out.contains("src=\"https://news.example.org/media/images/a.png\""), "{out}");
        assert!(out.contains("href=\"https://news.example.org/media/notes/x.html\""), "{out}");
        assert!(out.contains("href=\"https://example.com/a\""), "{out}");
        assert!(out.contains("href=\"#i1-fn-1\"") && out.contains("id=\"i1-fn-1\""), "{out}");
        assert_eq!(relative_images("![a](images/a.png) ![b](https://x.org/b.png)"), vec!["images/a.png"]);
    }

    #[test]
    fn cjk_emphasis_and_tables_render() {
        let out = html("**「括弧」**の後 和**中文**。\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n");
        assert!(out.contains("<strong>「括弧」</strong>の後"), "{out}");
        assert!(out.contains("<table>") && out.contains("<td align=\"right\">2</td>"), "{out}");
    }
}
