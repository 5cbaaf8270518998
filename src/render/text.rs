//! The plain-text alternative, from the Markdown's syntax tree: headings underlined, list items
//! and ◇ items with hanging indents, tables as aligned columns, links as numbered references
//! listed at the end, footnotes after them, wrapped near 72 columns.

use comrak::nodes::{AstNode, ListType, NodeValue, TableAlignment};
use comrak::{Arena, parse_document};
use unicode_width::UnicodeWidthStr;

use super::markdown::{is_relative, options};
use super::slots::strip_markers;
use super::wrap::wrap;

/// Stands for a soft line break until we know whether its neighbours are CJK (no space) or not.
const SOFT: char = '\u{E002}';

pub struct TextBody {
    pub body: String,
    pub links: Vec<String>,
    pub notes: Vec<String>,
}

/// Renders the Markdown body as text. Relative URLs are made absolute under `media_base`.
pub fn render(markdown: &str, media_base: &str) -> TextBody {
    let arena = Arena::new();
    let root = parse_document(&arena, &strip_markers(markdown), &options());
    let mut r = Renderer { links: Vec::new(), notes: Vec::new(), media_base };
    let mut blocks = Vec::new();
    for child in root.children() {
        if let Some(block) = r.block(child, "") {
            blocks.push(block);
        }
    }
    TextBody { body: blocks.join("\n"), links: r.links, notes: r.notes }
}

struct Renderer<'m> {
    links: Vec<String>,
    notes: Vec<String>,
    media_base: &'m str,
}

impl Renderer<'_> {
    fn absolute(&self, url: &str) -> String {
        if is_relative(url) { format!("{}{}", self.media_base, url.trim_start_matches('/')) } else { url.to_string() }
    }

    /// The number of a link in the list at the end, adding it when new.
    fn reference(&mut self, url: &str) -> usize {
        let url = self.absolute(url);
        match self.links.iter().position(|u| *u == url) {
            Some(i) => i + 1,
            None => {
                self.links.push(url);
                self.links.len()
            }
        }
    }

    /// One block, as lines ending in '\n'; `indent` prefixes every line.
    fn block<'a>(&mut self, node: &'a AstNode<'a>, indent: &str) -> Option<String> {
        let value = node.data().value.clone();
        match value {
            NodeValue::Paragraph => Some(wrap(&self.inline_children(node), indent, indent)),
            NodeValue::Heading(h) => {
                let text = self.inline_children(node).replace('\n', " ");
                let underline = match h.level {
                    1 => "=",
                    2 => "-",
                    _ => return Some(wrap(&text, indent, indent)),
                };
                let mut out = wrap(&text, indent, indent);
                let width = out.lines().map(|l| l.width()).max().unwrap_or(0).saturating_sub(indent.width());
                out.push_str(&format!("{indent}{}\n", underline.repeat(width)));
                Some(out)
            }
            NodeValue::List(list) => Some(self.list(node, list.list_type, list.start, list.tight, indent)),
            NodeValue::BlockQuote => Some(self.children_blocks(node, &format!("{indent}> "))),
            NodeValue::CodeBlock(code) => Some(code.literal.lines().map(|l| format!("{indent}    {l}\n")).collect()),
            NodeValue::ThematicBreak => Some(format!("{indent}{}\n", "* ".repeat(3).trim_end())),
            NodeValue::Table(table) => Some(self.table(node, &table.alignments, indent)),
            NodeValue::FootnoteDefinition(def) => {
                let text: Vec<String> = node.children().map(|c| self.inline_children(c)).collect();
                self.notes.push(format!("[^{}] {}", def.name, text.join(" ").trim()));
                None
            }
            // A figure's caption is text the reader should have; other raw HTML is markup.
            NodeValue::HtmlBlock(html) => figure_caption(&html.literal).map(|caption| wrap(&format!("[{caption}]"), indent, indent)),
            NodeValue::FrontMatter(_) => None,
            _ => Some(self.children_blocks(node, indent)),
        }
    }

    fn children_blocks<'a>(&mut self, node: &'a AstNode<'a>, indent: &str) -> String {
        let blocks: Vec<String> = node.children().filter_map(|c| self.block(c, indent)).collect();
        blocks.join(&format!("{}\n", indent.trim_end()))
    }

    fn list<'a>(&mut self, node: &'a AstNode<'a>, kind: ListType, start: usize, tight: bool, indent: &str) -> String {
        let mut items = Vec::new();
        for (i, item) in node.children().enumerate() {
            let marker = match kind {
                ListType::Bullet => "- ".to_string(),
                ListType::Ordered => format!("{}. ", start + i),
            };
            let hang = format!("{indent}{}", " ".repeat(marker.width()));
            let body = self.children_blocks(item, &hang);
            // The first line of the item takes the marker in place of the hanging indent.
            items.push(format!("{indent}{marker}{}", body.strip_prefix(hang.as_str()).unwrap_or(&body)));
        }
        items.join(if tight { "" } else { "\n" })
    }

    fn table<'a>(&mut self, node: &'a AstNode<'a>, alignments: &[TableAlignment], indent: &str) -> String {
        let rows: Vec<Vec<String>> = node.children().map(|row| row.children().map(|cell| self.inline_children(cell).replace('\n', " ")).collect()).collect();
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.width()).max().unwrap_or(0)).collect();
        let mut out = String::new();
        for (r, row) in rows.iter().enumerate() {
            let cells: Vec<String> = (0..columns)
                .map(|c| {
                    let text = row.get(c).map_or("", String::as_str);
                    let pad = widths[c].saturating_sub(text.width());
                    match alignments.get(c) {
                        Some(TableAlignment::Right) => format!("{}{text}", " ".repeat(pad)),
                        Some(TableAlignment::Center) => format!("{}{text}{}", " ".repeat(pad / 2), " ".repeat(pad - pad / 2)),
                        _ => format!("{text}{}", " ".repeat(pad)),
                    }
                })
                .collect();
            out.push_str(&format!("{indent}{}\n", cells.join("  ").trim_end()));
            if r == 0 {
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                out.push_str(&format!("{indent}{}\n", rule.join("  ")));
            }
        }
        out
    }

    fn inline_children<'a>(&mut self, node: &'a AstNode<'a>) -> String {
        let mut out = String::new();
        for child in node.children() {
            self.inline(child, &mut out);
        }
        resolve_soft_breaks(&out)
    }

    fn inline<'a>(&mut self, node: &'a AstNode<'a>, out: &mut String) {
        let value = node.data().value.clone();
        match value {
            NodeValue::Text(t) => out.push_str(&t),
            NodeValue::Code(c) => out.push_str(&format!("`{}`", c.literal)),
            NodeValue::SoftBreak => out.push(SOFT),
            NodeValue::LineBreak => out.push('\n'),
            NodeValue::Link(link) => {
                let text = self.inline_children(node);
                // A link within the page (the contents of an issue) has nowhere to go in text.
                if text == link.url || format!("mailto:{text}") == link.url || link.url.starts_with('#') {
                    out.push_str(&text);
                } else {
                    let n = self.reference(&link.url);
                    out.push_str(&format!("{text} [{n}]"));
                }
            }
            NodeValue::Image(link) => {
                let alt = self.inline_children(node);
                let n = self.reference(&link.url);
                out.push_str(&format!("[{alt}] [{n}]"));
            }
            NodeValue::FootnoteReference(r) => out.push_str(&format!("[^{}]", r.name)),
            NodeValue::HtmlInline(_) => {}
            _ => {
                for child in node.children() {
                    self.inline(child, out);
                }
            }
        }
    }
}

/// The text of the `<figcaption>` of a raw `<figure>` block, tags removed and entities decoded.
fn figure_caption(html: &str) -> Option<String> {
    if !html.trim_start().to_ascii_lowercase().starts_with("<figure") {
        return None;
    }
    let lower = html.to_ascii_lowercase();
    let open = lower.find("<figcaption")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</figcaption")?;
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// A soft break between two CJK characters joins them; anywhere else it is a space.
fn resolve_soft_breaks(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let wide = |c: Option<&char>| c.is_some_and(|c| UnicodeWidthStr::width(c.encode_utf8(&mut [0; 4]) as &str) == 2);
    let mut out = String::with_capacity(text.len());
    for (i, c) in chars.iter().enumerate() {
        if *c != SOFT {
            out.push(*c);
        } else if !(wide(i.checked_sub(1).and_then(|p| chars.get(p))) && wide(chars.get(i + 1))) {
            out.push(' ');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structure_reads_well_as_text() {
        let md = "## 聚焦：新材料\n\n第一段文字，\n继续。See [the report](https://example.org/r) and [again](https://example.org/r).\n\n- one\n- two\n\n| 领域 Field | 金额 |\n|---|--:|\n| 人工智能 | 12.5 |\n| Energy | 3 |\n\n![图 1](images/f.png)\n\nNote[^a].\n\n[^a]: The note.\n";
        let t = render(md, "https://x.org/media/");
        assert!(t.body.starts_with("聚焦：新材料\n------------\n"), "{}", t.body);
        assert!(t.body.contains("第一段文字，继续。See the report [1] and again [1]."), "{}", t.body);
        assert!(t.body.contains("- one\n- two\n"), "{}", t.body);
        assert!(t.body.contains("领域 Field  金额\n----------  ----\n人工智能    12.5\nEnergy         3\n"), "{}", t.body);
        assert!(t.body.contains("[图 1] [2]"), "{}", t.body);
        assert_eq!(t.links, vec!["https://example.org/r", "https://x.org/media/images/f.png"]);
        assert_eq!(t.notes, vec!["[^a] The note."]);
    }

    #[test]
    fn a_figure_caption_is_kept_and_other_raw_html_is_not() {
        let toc = render("- [聚焦](#a1)\n\n## <a id=\"a1\"></a>聚焦\n", "https://x.org/media/");
        assert_eq!((toc.body.as_str(), toc.links.len()), ("- 聚焦\n\n聚焦\n----\n", 0), "links within the page are plain text");
        let t = render("前文。\n\n<figure>\n<figcaption>大学生在给观众展示&lt;飞行&gt;平台 &amp; <b>滑行</b>。</figcaption>\n</figure>\n\n<div>装饰</div>\n\n后文。\n", "https://x.org/media/");
        assert_eq!(t.body, "前文。\n\n[大学生在给观众展示<飞行>平台 & 滑行。]\n\n后文。\n");
    }
}
