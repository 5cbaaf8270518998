//! Markdown → safe HTML with absolute URLs.
//!
//! comrak parses CommonMark with tables, footnotes, strikethrough and CJK-friendly emphasis, and
//! passes raw HTML through; ammonia then removes everything that is not plain formatting (scripts,
//! event handlers, `javascript:` URLs, styles). Relative image and link paths become absolute under
//! `{base_url}/media/`; footnote ids get the issue's slug as a prefix so several issues can share
//! a page.

use std::borrow::Cow;

use comrak::arena_tree::NodeEdge;
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

/// The largest issue body accepted (a long issue is well under 200 KiB of Markdown).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The deepest nesting of block containers (quotes, lists) or raw HTML elements accepted: real
/// issues stay under ten, and the HTML tree builder and sanitiser recurse per level.
pub const MAX_NESTING: usize = 32;
/// The deepest Markdown syntax tree accepted, inline elements (emphasis, links, images) counted:
/// the CSS inliner and the text renderer recurse per level too. A list item is two levels and
/// its paragraph one more, so every body within `MAX_NESTING` stays well under this.
pub const MAX_TREE_DEPTH: usize = 3 * MAX_NESTING + 16;

/// Why a body is refused before rendering; `line` counts from the body's first line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("the body is {kib} KiB; at most {} KiB is accepted", MAX_BODY_BYTES / 1024)]
    TooLarge { kib: usize },
    #[error("line {line}: {what} nested {depth} deep; at most {limit} levels are accepted")]
    TooDeep { line: usize, what: &'static str, depth: usize, limit: usize },
}

/// Refuses a body whose size or nesting would make rendering slow or exhaust the stack, so that
/// only reasonable input reaches comrak and ammonia.
pub fn check_shape(markdown: &str) -> Result<(), ShapeError> {
    if markdown.len() > MAX_BODY_BYTES {
        return Err(ShapeError::TooLarge { kib: markdown.len().div_ceil(1024) });
    }
    let mut open = OpenElements::default();
    for (n, line) in markdown.lines().enumerate() {
        let depth = block_depth(line);
        if depth > MAX_NESTING {
            return Err(ShapeError::TooDeep { line: n + 1, what: "quotes and lists", depth, limit: MAX_NESTING });
        }
        let html_depth = open.read(line);
        if html_depth > MAX_NESTING {
            return Err(ShapeError::TooDeep { line: n + 1, what: "HTML elements", depth: html_depth, limit: MAX_NESTING });
        }
    }
    tree_depth(markdown)
}

/// Refuses a syntax tree deeper than `MAX_TREE_DEPTH`: emphasis and links nest within a single
/// line (`*a *a … a* a*`), which no line-by-line count sees. Walks the tree without recursing.
fn tree_depth(markdown: &str) -> Result<(), ShapeError> {
    let arena = Arena::new();
    let root = parse_document(&arena, markdown, &options());
    let mut depth = 0usize;
    for edge in root.traverse() {
        match edge {
            NodeEdge::Start(node) => {
                depth += 1;
                if depth > MAX_TREE_DEPTH {
                    let line = node.data().sourcepos.start.line;
                    return Err(ShapeError::TooDeep { line, what: "Markdown elements (emphasis, links, quotes, lists)", depth, limit: MAX_TREE_DEPTH });
                }
            }
            NodeEdge::End(_) => depth -= 1,
        }
    }
    Ok(())
}

/// How many block containers a line opens or continues: `>` markers, list markers, and
/// indentation (each two columns may continue a list item).
fn block_depth(line: &str) -> usize {
    let indent: usize = line.chars().take_while(|c| c.is_whitespace()).map(|c| if c == '\t' { 4 } else { 1 }).sum();
    let mut rest = line.trim_start();
    let mut markers = 0;
    loop {
        let next = if let Some(r) = rest.strip_prefix('>') {
            r
        } else if let Some(r) = rest.strip_prefix(['-', '*', '+']).filter(|r| r.starts_with([' ', '\t'])) {
            r
        } else {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            match rest[digits..].strip_prefix(['.', ')']).filter(|r| digits > 0 && digits < 10 && r.starts_with([' ', '\t'])) {
                Some(r) => r,
                None => break,
            }
        };
        markers += 1;
        rest = next.trim_start();
    }
    markers + indent / 2
}

/// HTML elements whose end tag is optional or absent: they do not deepen the tree reliably.
const UNNESTED: [&str; 26] = [
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "thead", "tbody",
    "tfoot", "rt", "rp",
];

/// The raw HTML elements left open so far, counted so that the tree the HTML parser builds is
/// never deeper than the count says.
#[derive(Default)]
struct OpenElements(Vec<String>);

impl OpenElements {
    /// Reads the tags on `line`; returns the deepest count reached on it (an element can open
    /// and close again on one line, `<div>` ×5,000 then `</div>` ×5,000).
    fn read(&mut self, line: &str) -> usize {
        let mut deepest = self.0.len();
        let mut rest = line;
        while let Some(at) = rest.find('<') {
            rest = &rest[at + 1..];
            let closing = rest.starts_with('/');
            let name: String = rest.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
            if name.is_empty() || UNNESTED.contains(&name.as_str()) {
                continue;
            }
            if closing {
                // Only an end tag for the innermost open element surely closes something: the
                // parser ignores a stray `</x>`, and closing an outer `<b>` can leave the block
                // inside it open (the adoption agency), so neither may lower the count.
                if self.0.last() == Some(&name) {
                    self.0.pop();
                }
            } else {
                // Not even `<div/>` closes itself: HTML ignores the slash on non-void elements.
                self.0.push(name);
                deepest = deepest.max(self.0.len());
            }
        }
        deepest
    }
}

/// The deepest element nesting of sanitised HTML (well-formed, as ammonia writes it: every
/// normal element closed, attribute values in double quotes, `<` in text escaped).
pub fn html_depth(html: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let bytes = html.as_bytes();
    let mut i = 0;
    while let Some(at) = html[i..].find('<').map(|at| i + at) {
        let closing = bytes.get(at + 1) == Some(&b'/');
        let name_start = at + 1 + usize::from(closing);
        let name_len = html[name_start..].bytes().take_while(u8::is_ascii_alphanumeric).count();
        let name = html[name_start..name_start + name_len].to_ascii_lowercase();
        // The tag ends at the first `>` outside a quoted attribute value.
        let mut quoted = false;
        let mut end = name_start + name_len;
        while end < bytes.len() && (quoted || bytes[end] != b'>') {
            quoted ^= bytes[end] == b'"';
            end += 1;
        }
        if name_len > 0 && !VOID.contains(&name.as_str()) {
            if closing {
                depth = depth.saturating_sub(1);
            } else {
                depth += 1;
                deepest = deepest.max(depth);
            }
        }
        i = (end + 1).max(at + 1);
        if i >= bytes.len() {
            break;
        }
    }
    deepest
}

/// Elements that never have an end tag.
const VOID: [&str; 13] = ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"];

/// How deep rendered HTML may nest: well above what `check_shape` lets through (raw tables in
/// the deepest quotes reach 160), well below what overflows a 2 MiB stack (thousands). The last
/// guard before the email's CSS inliner and the plain-text writer, which recurse per level.
pub const MAX_RENDERED_DEPTH: usize = 2 * MAX_TREE_DEPTH + 64;

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

    /// Rendering runs on threads with the default 2 MiB stack (tokio's blocking pool): all three
    /// renderings, as `issue add` makes them (the CSS inliner and the text renderer recurse too).
    fn renders_on_a_small_stack(md: String) {
        use super::super::issue::{IssueView, Site, render};
        let rendering = move || {
            let site = Site::new("https://news.example.org", "News", "1 Road");
            let date = chrono::NaiveDate::from_ymd_opt(2021, 1, 31).unwrap();
            let view = IssueView { slug: "i1", title: "T", subtitle: "", volume: None, number: None, date, language: "en", summary: "", list_name: "News", private_list: false };
            render(&view, &md, &site).expect("rendered");
        };
        std::thread::Builder::new().stack_size(2 * 1024 * 1024).spawn(rendering).unwrap().join().expect("rendered without overflowing the stack");
    }

    #[test]
    fn deep_nesting_is_refused_before_rendering_and_what_passes_renders() {
        for (deep, what) in [
            ("> ".repeat(5000) + "x", "quotes and lists"),
            ("- ".repeat(5000) + "x", "quotes and lists"),
            ("1. ".repeat(40) + "x", "quotes and lists"),
            ("<div>".repeat(5000), "HTML elements"),
            ("<div>\n".repeat(40), "HTML elements"),
            (format!("{}x", " ".repeat(200)), "quotes and lists"),
            // Found with the issue_parse fuzz target on a 2 MiB stack: end tags and self-closing slashes the HTML parser ignores,
            // nesting within one line, and inline nesting all overflowed the CSS inliner's or the
            // text renderer's stack.
            ("<div/>".repeat(5000), "HTML elements"),
            ("<div></x>".repeat(5000), "HTML elements"),
            ("<b><div></b>".repeat(5000), "HTML elements"),
            ("<div>".repeat(5000) + &"</div>".repeat(5000), "HTML elements"),
            ("*a ".repeat(5000) + "x" + &" a*".repeat(5000), "Markdown elements (emphasis, links, quotes, lists)"),
            ("~~a ".repeat(5000) + "x" + &" a~~".repeat(5000), "Markdown elements (emphasis, links, quotes, lists)"),
            ("![".repeat(5000) + "x" + &"](u)".repeat(5000), "Markdown elements (emphasis, links, quotes, lists)"),
        ] {
            match check_shape(&deep) {
                Err(ShapeError::TooDeep { what: w, .. }) => assert_eq!(w, what),
                other => panic!("{other:?} for {:?}", &deep[..20]),
            }
        }
        assert!(matches!(check_shape(&"a".repeat(MAX_BODY_BYTES + 1)), Err(ShapeError::TooLarge { .. })));
        // Just under the limits, and inline markup that does not nest, render fine.
        for ok in [
            "> ".repeat(MAX_NESTING) + "x",
            "<div>".repeat(MAX_NESTING) + &"</div>".repeat(MAX_NESTING),
            "<p>a\n".repeat(5000),
            "*a _b ".repeat(5000),
            "[".repeat(20000) + &"]".repeat(20000),
            "**".repeat(10000),
            "`".repeat(10000),
            "<span>".repeat(MAX_NESTING - 1) + &"<b>x</b> ".repeat(20000),
            // The deepest trees the limits let through: inline nesting, lists, and raw HTML whose
            // implied elements (tbody, tr) the count does not see, inside quotes.
            "*a ".repeat(MAX_TREE_DEPTH - 4) + "x" + &" a*".repeat(MAX_TREE_DEPTH - 4),
            "- ".repeat(MAX_NESTING) + &"*a ".repeat(MAX_TREE_DEPTH - 2 * MAX_NESTING - 4) + "x" + &" a*".repeat(MAX_TREE_DEPTH - 2 * MAX_NESTING - 4),
            "> ".repeat(MAX_NESTING) + &"<table><td>".repeat(MAX_NESTING) + &"*a ".repeat(MAX_TREE_DEPTH - MAX_NESTING - 4) + "x" + &" a*".repeat(MAX_TREE_DEPTH - MAX_NESTING - 4),
        ] {
            assert_eq!(check_shape(&ok), Ok(()), "{:?}", &ok[..20]);
            renders_on_a_small_stack(ok);
        }
    }

    #[test]
    fn tags_that_fool_a_naive_count_are_followed_as_a_parser_would() {
        // `<div/>` opens a div; an end tag nobody opened closes nothing; `/>` inside a quoted
        // value is not the end of the tag.
        for deep in ["<div/>".repeat(20000), "<div></x>".repeat(20000), "<div title=\"/>\">".repeat(20000), "<section></div>".repeat(100)] {
            assert!(matches!(check_shape(&deep), Err(ShapeError::TooDeep { what: "HTML elements", .. })), "{:?}", &deep[..20]);
        }
        assert_eq!(check_shape(&"<div><span>x</span></div>\n".repeat(5000)), Ok(()));
    }

    #[test]
    fn the_depth_of_sanitised_html_is_measured() {
        assert_eq!(html_depth(r#"<div><p>a</p><img src="x"><br><span title="a>b">c</span></div><p>d</p>"#), 2);
        assert_eq!(html_depth("plain &lt;b&gt; text"), 0);
        assert_eq!(html_depth(&"<em>".repeat(500)), 500);
        let allowed = "> ".repeat(MAX_NESTING) + &"*a ".repeat(40) + "x" + &" a*".repeat(40);
        assert_eq!(check_shape(&allowed), Ok(()));
        assert!(html_depth(&html(&allowed)) <= MAX_RENDERED_DEPTH, "what the shape check allows passes the rendered check");
    }

    #[test]
    fn cjk_emphasis_and_tables_render() {
        let out = html("**「括弧」**の後 和**中文**。\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n");
        assert!(out.contains("<strong>「括弧」</strong>の後"), "{out}");
        assert!(out.contains("<table>") && out.contains("<td align=\"right\">2</td>"), "{out}");
    }
}
