//! The newsletter's own layout: an issue as the editorial office writes it in plain text (what a
//! PDF-to-text export of the printed newsletter gives), turned into the Markdown with front matter
//! that `issue add` reads.
//!
//! The layout: a masthead (`Volume.824, Issue No.1 2021`, `2021 第 1 期, 总第 824 期`, the Chinese
//! title, the English title), the contents (one entry per article, a long one broken over two
//! lines), then the articles, each headed by its contents entry again (spacing may differ). `◇`
//! starts an item of a `聚焦` article; a short line alone after a gap of blank lines (where a
//! picture was) is its caption; `（来源：…）` is a source line. A paragraph the page layout broke
//! goes on after a blank line when the text before it does not end a sentence.
//!
//! Nothing is dropped: every non-blank line after the masthead ends up in the body, as a heading,
//! a paragraph, a caption or a source line.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use unicode_width::UnicodeWidthChar;

use crate::domain::ListSlug;
use crate::render::markdown::MAX_BODY_BYTES;

/// The longest line (in characters) taken as a caption when it stands alone after a gap.
const CAPTION_MAX: usize = 50;
/// The longest line (in characters) that may be a contents entry or an article heading.
const HEADING_MAX: usize = 64;
/// Blank lines in a row that mark where a picture was, rather than a paragraph break.
const GAP: usize = 2;
/// Markers that start an item of a `聚焦` article.
const ITEM_MARKERS: [char; 2] = ['◇', '◆'];

const HINT: &str = "if this is not an issue in the newsletter's text layout, write it as Markdown with front matter (a `+++` block first); for one in the layout, `tidings issue convert FILE.txt --list SLUG` prints the Markdown to review and correct";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("the file is {kib} KiB; at most {} KiB is accepted", MAX_BODY_BYTES / 1024)]
    TooLarge { kib: usize },
    #[error("line {line} (byte {offset}) is not UTF-8, and the file does not read as GB18030 text in the layout either: save it as UTF-8 (for example `iconv -f GB18030 -t UTF-8`)")]
    Encoding { line: usize, offset: usize },
    #[error("line {line}: expected the masthead, a line like `Volume.824, Issue No.1 2021` or `2021 第 1 期, 总第 824 期`, found {found:?}; {HINT}")]
    NoMasthead { line: usize, found: String },
    #[error("line {line}: the masthead says {this}, but line {other_line} says {other}")]
    MastheadDisagrees { line: usize, this: String, other_line: usize, other: String },
    #[error("line {line}: expected the newsletter's title after the masthead, found the end of the file")]
    NoTitle { line: usize },
    #[error("line {line}: expected the contents (one line per article) after the title, found {found:?}; each article then starts with its contents line again")]
    NoContents { line: usize, found: String },
    #[error("line {line}: the item {found:?} comes before any article: items (◇) belong under an article heading that repeats its contents line")]
    ItemOutsideArticle { line: usize, found: String },
    #[error("line {line}: the contents are followed by no article: each article starts with its contents line again")]
    NoArticles { line: usize },
}

/// Something the reader of the output should look at; the text is still all there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// An issue in the layout as Markdown with front matter, and what to check in it.
#[derive(Debug, Clone)]
pub struct Converted {
    pub markdown: String,
    pub slug: String,
    pub warnings: Vec<Warning>,
}

/// The bytes of a text file as text: UTF-8 (a BOM is dropped), UTF-16 with its BOM, or GB18030
/// when the bytes are not UTF-8 but decode cleanly as GB18030 into a file that starts with a
/// masthead, which no other reading of them would.
pub fn decode(bytes: &[u8]) -> Result<(String, Option<Warning>), LayoutError> {
    // UTF-16 says so with its byte-order mark (Windows editors' "Unicode").
    for (mark, encoding) in [(b"\xFF\xFE", encoding_rs::UTF_16LE), (b"\xFE\xFF", encoding_rs::UTF_16BE)] {
        if let Some(rest) = bytes.strip_prefix(mark) {
            let text = encoding.decode_without_bom_handling_and_without_replacement(rest).ok_or(LayoutError::Encoding { line: 1, offset: 0 })?;
            return Ok((text.into_owned(), Some(Warning { line: 1, message: "the file is UTF-16; read as such, as its byte-order mark says".into() })));
        }
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok((text.to_string(), None)),
        Err(e) => {
            let offset = e.valid_up_to();
            let line = bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1;
            let decoded = encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes);
            match decoded {
                Some(text) if is_layout(&text) => {
                    Ok((text.into_owned(), Some(Warning { line, message: "the file is not UTF-8; read as GB18030 (Chinese national encoding), as its masthead shows".into() })))
                }
                _ => Err(LayoutError::Encoding { line, offset }),
            }
        }
    }
}

/// Whether `text` starts (after blank lines) with a masthead line of the layout.
pub fn is_layout(text: &str) -> bool {
    split_lines(text).iter().find(|l| !l.text.is_empty()).is_some_and(|l| masthead_line(l.text).is_some())
}

/// Converts an issue in the layout into the Markdown with front matter `issue add` reads.
pub fn convert(text: &str, list: &ListSlug, date: NaiveDate) -> Result<Converted, LayoutError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // The Markdown is held to the same size later; refusing here keeps the reading linear-sized.
    if text.len() > MAX_BODY_BYTES {
        return Err(LayoutError::TooLarge { kib: text.len().div_ceil(1024) });
    }
    let lines = split_lines(text);
    let (masthead, rest) = masthead(&lines)?;
    let blocks = blocks(&lines[rest..]);
    let (mut entries, first) = contents(&blocks, lines.last().map_or(1, |l| l.no))?;
    let mut warnings = Vec::new();
    let articles = articles(&blocks[first..], &mut entries, &mut warnings);
    for entry in entries.iter().filter(|e| !e.used) {
        warnings.push(Warning { line: entry.line, message: format!("the contents line {:?} matches no article heading; its article's text stays under the article before it", entry.text) });
    }
    let order: Vec<usize> = articles.iter().filter_map(|a| a.entry).collect();
    if order.windows(2).any(|w| w[0] > w[1]) {
        warnings.push(Warning { line: articles[0].line, message: "the articles are not in the contents' order; they are kept in the order of the text".into() });
    }
    if date.format("%Y").to_string() != masthead.year.to_string() {
        warnings.push(Warning { line: masthead.line, message: format!("the masthead says {} but the issue is dated {date}: give it its own date (`--date`, or the draft form's date)", masthead.year) });
    }
    let slug = format!("{}-{:02}", masthead.year, masthead.number);
    let markdown = format!("{}{}{}", front_matter(&masthead, &slug, list, date, summary(&articles)), contents_list(&entries, &articles), body(&articles));
    Ok(Converted { markdown, slug, warnings })
}

/// One line of the input, trimmed, with its number.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    no: usize,
    text: &'a str,
}

/// Lines ended by LF, CRLF or a lone CR, in any mix; whitespace-only lines come out empty.
fn split_lines(text: &str) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
        let next = match &rest.as_bytes()[end..] {
            [b'\r', b'\n', ..] => end + 2,
            [] => end,
            _ => end + 1,
        };
        lines.push(Line { no: lines.len() + 1, text: rest[..end].trim() });
        rest = &rest[next..];
    }
    lines
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Masthead {
    line: usize,
    year: u32,
    number: u32,
    volume: Option<u32>,
    title: String,
    subtitle: String,
}

/// What one masthead line says: year, number, and the volume when it gives one.
fn masthead_line(text: &str) -> Option<(u32, u32, Option<u32>)> {
    let runs = digit_runs(text);
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if text.to_ascii_lowercase().starts_with("vol") && text.to_ascii_lowercase().contains("no") {
        return match runs[..] {
            [volume, number, year] if year >= 1000 => Some((year, number, Some(volume))),
            _ => None,
        };
    }
    if compact.contains('第') && compact.contains('期') {
        return match runs[..] {
            [year, number, volume] if year >= 1000 && compact.contains("总第") => Some((year, number, Some(volume))),
            [year, number] if year >= 1000 => Some((year, number, None)),
            _ => None,
        };
    }
    None
}

fn digit_runs(text: &str) -> Vec<u32> {
    text.split(|c: char| !c.is_ascii_digit()).filter(|r| !r.is_empty()).filter_map(|r| r.parse().ok()).collect()
}

/// The masthead lines, the title and the English title; returns the index of the line after them.
fn masthead(lines: &[Line<'_>]) -> Result<(Masthead, usize), LayoutError> {
    let mut filled = lines.iter().enumerate().filter(|(_, l)| !l.text.is_empty()).peekable();
    let Some((_, first)) = filled.peek().copied() else {
        return Err(LayoutError::NoMasthead { line: lines.len().max(1), found: String::new() });
    };
    let Some(said) = masthead_line(first.text) else {
        return Err(LayoutError::NoMasthead { line: first.no, found: first.text.to_string() });
    };
    filled.next();
    let (mut year, mut number, mut volume) = said;
    let mut last = first.no;
    // The English and the Chinese masthead lines, in either order: they must agree.
    while let Some((_, line)) = filled.peek().copied() {
        let Some((y, n, v)) = masthead_line(line.text) else { break };
        let describe = |y: u32, n: u32, v: Option<u32>| format!("{y} no. {n}{}", v.map(|v| format!(", volume {v}")).unwrap_or_default());
        if y != year || n != number || v.zip(volume).is_some_and(|(a, b)| a != b) {
            return Err(LayoutError::MastheadDisagrees { line: line.no, this: describe(y, n, v), other_line: first.no, other: describe(year, number, volume) });
        }
        (year, number, volume) = (y, n, volume.or(v));
        last = line.no;
        filled.next();
    }
    let Some((_, title)) = filled.next() else { return Err(LayoutError::NoTitle { line: last }) };
    let mut next = title.no;
    let subtitle = match filled.peek() {
        Some((_, line)) if !line.text.chars().any(is_cjk) => {
            next = line.no;
            line.text.to_string()
        }
        _ => String::new(),
    };
    Ok((Masthead { line: first.no, year, number, volume, title: title.text.to_string(), subtitle }, next))
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3000..=0x9FFF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
}

/// Lines in a row with no blank line between them, and how many blank lines came before.
#[derive(Debug, Clone)]
struct Block<'a> {
    lines: Vec<Line<'a>>,
    blanks_before: usize,
}

impl Block<'_> {
    fn line(&self) -> usize {
        self.lines[0].no
    }

    fn joined(&self) -> String {
        join_all(self.lines.iter().map(|l| l.text))
    }
}

fn blocks<'a>(lines: &[Line<'a>]) -> Vec<Block<'a>> {
    let mut blocks: Vec<Block<'a>> = Vec::new();
    let mut blanks = 0;
    let mut open = false;
    for line in lines {
        if line.text.is_empty() {
            blanks += 1;
            open = false;
        } else if open {
            blocks.last_mut().expect("an open block exists").lines.push(*line);
        } else {
            blocks.push(Block { lines: vec![*line], blanks_before: blanks });
            blanks = 0;
            open = true;
        }
    }
    blocks
}

/// Text for comparing a heading with its contents line: spacing differs between the two.
fn normal(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Two pieces of one paragraph or heading, joined: nothing between CJK text, a space elsewhere.
fn join(left: &str, right: &str) -> String {
    let mut joined = left.to_string();
    append(&mut joined, right);
    joined
}

/// `join` in place, so that a long paragraph grows without being copied line by line.
fn append(text: &mut String, piece: &str) {
    let wide = |c: Option<char>| c.is_some_and(|c| c.width() == Some(2));
    let cjk_seam = wide(text.chars().next_back()) && wide(piece.chars().next());
    if !text.is_empty() && !cjk_seam {
        text.push(' ');
    }
    text.push_str(piece);
}

fn join_all<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut joined = String::new();
    parts.for_each(|part| append(&mut joined, part));
    joined
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

fn is_item(text: &str) -> bool {
    text.starts_with(ITEM_MARKERS)
}

fn is_source(text: &str) -> bool {
    let inner = text.strip_prefix(['（', '(']).and_then(|t| t.strip_suffix(['）', ')']));
    inner.is_some_and(|t| t.trim_start().starts_with("来源"))
}

/// Whether a paragraph's text ends a sentence, so that what follows a blank line is a new one.
fn ends_sentence(text: &str) -> bool {
    let mut rev = text.chars().rev();
    match rev.next() {
        Some('。' | '！' | '？' | '!' | '?' | '…' | '.' | '”') => true,
        Some('’' | '」' | '』' | '）' | ')' | '"' | '\'') => rev.next().is_some_and(|c| matches!(c, '。' | '！' | '？' | '!' | '?' | '…' | '.')),
        _ => false,
    }
}

/// Could this line be (part of) a contents entry or an article heading? Headings may end in `！`,
/// `？` or a quote, but not in the stops and commas of running text.
fn heading_line(text: &str) -> bool {
    chars(text) <= HEADING_MAX && !is_item(text) && !is_source(text) && !text.ends_with(['。', '，', '；', '：', '、', '.', ',', ';'])
}

fn heading_like(block: &Block<'_>) -> bool {
    block.lines.iter().all(|l| heading_line(l.text))
}

/// One article of the contents.
#[derive(Debug, Clone)]
struct Entry {
    text: String,
    normal: String,
    line: usize,
    used: bool,
}

/// The contents entries and the index of the block that heads the first article: the first
/// block that repeats an entry, or else the last heading-like block before the first paragraph.
fn contents(blocks: &[Block<'_>], last_line: usize) -> Result<(Vec<Entry>, usize), LayoutError> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut first = None;
    for (k, block) in blocks.iter().enumerate() {
        let whole = normal(&block.joined());
        if seen.contains(&whole) || seen.contains(&normal(block.lines[0].text)) {
            first = Some(k);
            break;
        }
        if !heading_like(block) {
            if k == 0 && is_item(block.lines[0].text) {
                return Err(LayoutError::ItemOutsideArticle { line: block.line(), found: block.lines[0].text.to_string() });
            }
            if k <= 1 {
                return Err(LayoutError::NoContents { line: block.line(), found: block.lines[0].text.to_string() });
            }
            first = Some(k - 1);
            break;
        }
        seen.insert(whole);
        seen.extend(block.lines.iter().map(|l| normal(l.text)));
    }
    let first = match first {
        Some(f) => f,
        None if blocks.is_empty() => return Err(LayoutError::NoContents { line: last_line, found: String::new() }),
        None => return Err(LayoutError::NoArticles { line: blocks[blocks.len() - 1].line() }),
    };
    // Headings and pairs of lines in the body, to tell a broken entry from two entries.
    let lines: Vec<String> = blocks[first..].iter().flat_map(|b| b.lines.iter().map(|l| normal(l.text))).collect();
    let mut body: HashSet<String> = lines.iter().cloned().collect();
    body.extend(lines.windows(2).map(|w| format!("{}{}", w[0], w[1])));
    let mut entries = Vec::new();
    for block in &blocks[..first] {
        let whole = Entry { text: block.joined(), normal: normal(&block.joined()), line: block.line(), used: false };
        let separate = block.lines.len() > 1 && !body.contains(&whole.normal) && block.lines.iter().all(|l| body.contains(&normal(l.text)));
        if separate {
            entries.extend(block.lines.iter().map(|l| Entry { text: l.text.to_string(), normal: normal(l.text), line: l.no, used: false }));
        } else {
            entries.push(whole);
        }
    }
    Ok((entries, first))
}

/// What an article is made of, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Paragraph(String),
    Item(String),
    Caption(String),
    Source(String),
}

#[derive(Debug, Clone)]
struct Article {
    heading: String,
    /// The contents entry it matches.
    entry: Option<usize>,
    line: usize,
    parts: Vec<Part>,
}

impl Article {
    fn is_focus(&self) -> bool {
        self.heading.starts_with("聚焦")
    }
}

/// The contents entries by their text, for finding the headings that repeat them.
fn index(entries: &[Entry]) -> HashMap<String, Vec<usize>> {
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    for (n, entry) in entries.iter().enumerate() {
        index.entry(entry.normal.clone()).or_default().push(n);
    }
    index
}

/// The article heading at `lines[i..]`, if the line (or it and the next one) repeats an unused
/// contents entry; the entry and how many lines it takes.
fn heading_at(lines: &[(Line<'_>, usize)], i: usize, entries: &[Entry], index: &HashMap<String, Vec<usize>>) -> Option<(usize, usize)> {
    let one = normal(lines[i].0.text);
    let unused = |text: &str| index.get(text).and_then(|ns| ns.iter().copied().find(|n| !entries[*n].used));
    // A heading broken over two lines, in one block or across one blank line.
    let two = lines.get(i + 1).filter(|(_, blanks)| *blanks <= 1).map(|(l, _)| format!("{one}{}", normal(l.text)));
    unused(&one).map(|n| (n, 1)).or_else(|| two.and_then(|t| unused(&t)).map(|n| (n, 2)))
}

/// A heading without the spaces the layout left between two Chinese characters (`签署 合作`),
/// which the contents line does not have either.
fn tidy_heading(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    words.iter().skip(1).fold(words.first().copied().unwrap_or_default().to_string(), |acc, w| join(&acc, w))
}

/// How alike two headings are: the share of character pairs they have in common (Dice).
fn likeness(a: &str, b: &str) -> f64 {
    let pairs = |s: &str| -> HashMap<(char, char), usize> {
        let chars: Vec<char> = s.chars().collect();
        let mut counts = HashMap::new();
        for w in chars.windows(2) {
            *counts.entry((w[0], w[1])).or_insert(0) += 1;
        }
        counts
    };
    let (pa, pb) = (pairs(a), pairs(b));
    let total: usize = pa.values().sum::<usize>() + pb.values().sum::<usize>();
    if total == 0 {
        return 0.0;
    }
    let common: usize = pa.iter().map(|(p, n)| (*n).min(pb.get(p).copied().unwrap_or(0))).sum();
    2.0 * common as f64 / total as f64
}

/// An unused entry this heading-like line was probably meant to repeat, edited since: one of
/// the next two the contents lead the reader to expect.
fn edited_heading(text: &str, entries: &[Entry]) -> Option<usize> {
    let text = normal(text);
    let next = entries.iter().enumerate().filter(|(_, e)| !e.used).take(2);
    next.map(|(n, e)| (n, likeness(&text, &e.normal))).filter(|(_, l)| *l >= 0.6).max_by(|a, b| a.1.total_cmp(&b.1)).map(|(n, _)| n)
}

/// The articles from the first heading on. `entries` are marked as their headings are found.
fn articles(blocks: &[Block<'_>], entries: &mut [Entry], warnings: &mut Vec<Warning>) -> Vec<Article> {
    // Each line with the blank lines before it (0 inside a block).
    let lines: Vec<(Line<'_>, usize)> = blocks.iter().flat_map(|b| b.lines.iter().enumerate().map(move |(i, l)| (*l, if i == 0 { b.blanks_before } else { 0 }))).collect();
    let index = index(entries);
    let mut reader = Reader { articles: Vec::new(), open: None, entries, index, warnings };
    let mut i = 0;
    while i < lines.len() {
        i += if let Some((entry, taken)) = reader.heading_at(&lines, i) {
            reader.heading(&lines[i..i + taken], Some(entry))
        } else if reader.articles.is_empty() {
            // The first block heads the first article, even when no contents line matches it.
            reader.heading(&lines[i..i + blocks[0].lines.len()], None)
        } else if is_item(lines[i].0.text) {
            reader.item(&lines[i..])
        } else {
            reader.text(&lines, i)
        };
    }
    reader.close();
    reader.articles
}

/// Reads the body line by line into articles, keeping the paragraph it is in open.
struct Reader<'r> {
    articles: Vec<Article>,
    /// The paragraph read so far, which the next line may continue.
    open: Option<String>,
    entries: &'r mut [Entry],
    index: HashMap<String, Vec<usize>>,
    warnings: &'r mut Vec<Warning>,
}

impl Reader<'_> {
    /// The article heading at `lines[i]`, when it repeats an unused contents entry (exactly,
    /// or edited a little when it stands alone like a heading); the entry and the lines it takes.
    fn heading_at(&self, lines: &[(Line<'_>, usize)], i: usize) -> Option<(usize, usize)> {
        let (line, blanks) = lines[i];
        let alone = lines.get(i + 1).is_none_or(|(_, b)| *b > 0);
        heading_at(lines, i, self.entries, &self.index).or_else(|| if alone && blanks > 0 && heading_line(line.text) { edited_heading(line.text, self.entries).map(|n| (n, 1)) } else { None })
    }

    /// The paragraph read so far ends here.
    fn close(&mut self) {
        if let Some(article) = self.articles.last_mut() {
            article.parts.extend(self.open.take().map(Part::Paragraph));
        }
    }

    fn push(&mut self, part: Part) {
        self.close();
        self.articles.last_mut().expect("an article is open").parts.push(part);
    }

    /// Starts an article with the heading on `lines`, for contents entry `entry`.
    fn heading(&mut self, lines: &[(Line<'_>, usize)], entry: Option<usize>) -> usize {
        self.close();
        let (first, text) = (lines[0].0, join_all(lines.iter().map(|(l, _)| l.text)));
        match entry {
            Some(n) => {
                self.entries[n].used = true;
                if normal(&text) != self.entries[n].normal {
                    let message = format!("the heading {text:?} differs from its contents line {:?} (line {}); taken as that article", self.entries[n].text, self.entries[n].line);
                    self.warnings.push(Warning { line: first.no, message });
                }
            }
            None => self.warnings.push(Warning { line: first.no, message: format!("the first article's heading {text:?} matches no contents line") }),
        }
        self.articles.push(Article { heading: tidy_heading(&text), entry, line: first.no, parts: Vec::new() });
        lines.len()
    }

    /// A `◇` item's heading, with the rest of it when the page broke it over two lines.
    fn item(&mut self, lines: &[(Line<'_>, usize)]) -> usize {
        let mut heading = lines[0].0.text.to_string();
        let mut taken = 1;
        while let Some((next, 0)) = lines.get(taken).copied() {
            if chars(&heading) + chars(next.text) > HEADING_MAX {
                break;
            }
            heading = join(&heading, next.text);
            taken += 1;
        }
        let article = self.articles.last().expect("an article is open");
        if !article.is_focus() {
            let message = format!("an item (◇) in {:?}, which is not a 聚焦 section: kept as a sub-heading", article.heading);
            self.warnings.push(Warning { line: lines[0].0.no, message });
        }
        self.push(Part::Item(heading));
        taken
    }

    /// A line of text: a source line, a caption, or part of a paragraph.
    fn text(&mut self, lines: &[(Line<'_>, usize)], i: usize) -> usize {
        let (line, blanks) = lines[i];
        let alone = lines.get(i + 1).is_none_or(|(_, b)| *b > 0);
        if is_source(line.text) {
            self.push(Part::Source(line.text.to_string()));
        } else if blanks >= GAP && alone && chars(line.text) <= CAPTION_MAX && self.open.as_deref().is_none_or(ends_sentence) {
            // After a paragraph the page broke, the next line goes on with it however short:
            // taking the rest of a sentence for a caption would cut the paragraph in two.
            self.push(Part::Caption(line.text.to_string()));
        } else {
            match &mut self.open {
                // The same paragraph: a line wrapped in it, or the page broke it mid-sentence.
                Some(text) if blanks == 0 || !ends_sentence(text) => append(text, line.text),
                _ => {
                    self.close();
                    self.open = Some(line.text.to_string());
                }
            }
        }
        1
    }
}

/// The first paragraph before any item: the lead of the first `聚焦` article, else the first
/// paragraph of the issue.
fn summary(articles: &[Article]) -> String {
    let lead = articles.iter().find_map(|a| match a.parts.first() {
        Some(Part::Paragraph(p)) => Some(p.clone()),
        _ => None,
    });
    lead.or_else(|| articles.iter().flat_map(|a| &a.parts).find_map(|p| if let Part::Paragraph(p) = p { Some(p.clone()) } else { None })).unwrap_or_default()
}

fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn front_matter(m: &Masthead, slug: &str, list: &ListSlug, date: NaiveDate, summary: String) -> String {
    let mut front = vec![
        format!("list = {}", quote(list.as_str())),
        format!("slug = {}", quote(slug)),
        format!("title = {}", quote(&format!("{} {} 年第 {} 期", m.title, m.year, m.number))),
    ];
    if !m.subtitle.is_empty() {
        front.push(format!("subtitle = {}", quote(&m.subtitle)));
    }
    front.extend(m.volume.map(|v| format!("volume = {v}")));
    front.push(format!("number = {}", m.number));
    front.push(format!("date = {date}"));
    front.push(format!("language = {}", quote("zh-CN")));
    if !summary.is_empty() {
        front.push(format!("summary = {}", quote(&summary)));
    }
    format!("+++\n{}\n+++\n", front.join("\n"))
}

/// The contents as a list linking to the articles' headings, which readers of a long issue
/// expect at its top; a contents line that heads no article is listed without a link.
fn contents_list(entries: &[Entry], articles: &[Article]) -> String {
    let mut out = String::from("\n");
    for (n, entry) in entries.iter().enumerate() {
        let text = escape(&tidy_heading(&entry.text));
        match articles.iter().position(|a| a.entry == Some(n)) {
            Some(k) => out.push_str(&format!("- [{text}](#{})\n", anchor(k))),
            None => out.push_str(&format!("- {text}\n")),
        }
    }
    out
}

/// The id of the `k`th article's heading (the renderer prefixes it with the issue's slug).
fn anchor(k: usize) -> String {
    format!("a{}", k + 1)
}

fn body(articles: &[Article]) -> String {
    let mut out = String::new();
    for (k, article) in articles.iter().enumerate() {
        out.push_str(&format!("\n## <a id=\"{}\"></a>{}\n", anchor(k), escape(&article.heading)));
        for part in &article.parts {
            match part {
                Part::Paragraph(p) | Part::Source(p) => out.push_str(&format!("\n{}\n", escape(p))),
                Part::Item(h) => out.push_str(&format!("\n### {}\n", escape(h))),
                Part::Caption(c) => out.push_str(&format!("\n<figure>\n<figcaption>{}</figcaption>\n</figure>\n", escape_html(c))),
            }
        }
    }
    out
}

/// Text as Markdown that reads as the same text: characters Markdown would take for markup are
/// escaped, so `*`, `_`, `[`, `<` and a leading `#`, `>`, `-` or `1.` stay as written.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let at_start = i == 0;
        let entity = *c == '&' && chars.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric() || *n == '#');
        let ordered = matches!(c, '.' | ')') && i > 0 && chars[..i].iter().all(char::is_ascii_digit);
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '#') || entity || ordered || at_start && matches!(c, '-' | '+' | '=') {
            out.push('\\');
        }
        out.push(*c);
    }
    out
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> ListSlug {
        ListSlug::parse("cstn").unwrap()
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 1, 31).unwrap()
    }

    const ISSUE: &str = "\n\nVolume.900, Issue No.3 2022\n\n2022 第 3 期, 总第 900 期\n\n测试通讯\n\nTEST NEWSLETTER\n\n聚焦“新材料”\n\n第二篇文章的标题\n很长所以分两行\n\n聚焦“新材料”\n\n导语段落。\n\n◇ 第一个条目\n\n条目正文在这里断开，没有结束\n\n而是在下一页继续。\n\n\n\n \n图片说明文字\n\n第二 篇文章的标题很长所以分两行\n\n正文。\n\n（来源：测试部）";

    fn body_of(text: &str) -> String {
        let converted = convert(text, &list(), date()).unwrap();
        converted.markdown.split_once("\n+++\n").unwrap().1.to_string()
    }

    #[test]
    fn the_masthead_gives_slug_title_subtitle_volume_and_number() {
        let c = convert(ISSUE, &list(), NaiveDate::from_ymd_opt(2022, 3, 1).unwrap()).unwrap();
        assert_eq!(c.slug, "2022-03");
        for field in ["slug = \"2022-03\"", "title = \"测试通讯 2022 年第 3 期\"", "subtitle = \"TEST NEWSLETTER\"", "volume = 900", "number = 3", "date = 2022-03-01", "language = \"zh-CN\"", "summary = \"导语段落。\"", "list = \"cstn\""] {
            assert!(c.markdown.contains(field), "{field} in {}", c.markdown);
        }
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let source = crate::domain::IssueSource::parse(&c.markdown, "x").unwrap();
        assert_eq!((source.volume, source.number, source.title.as_str()), (Some(900), Some(3), "测试通讯 2022 年第 3 期"));
    }

    #[test]
    fn articles_items_captions_and_sources_take_their_markdown_shapes() {
        let body = body_of(ISSUE);
        let expected = "\n- [聚焦“新材料”](#a1)\n- [第二篇文章的标题很长所以分两行](#a2)\n\n## <a id=\"a1\"></a>聚焦“新材料”\n\n导语段落。\n\n### ◇ 第一个条目\n\n条目正文在这里断开，没有结束而是在下一页继续。\n\n<figure>\n<figcaption>图片说明文字</figcaption>\n</figure>\n\n## <a id=\"a2\"></a>第二篇文章的标题很长所以分两行\n\n正文。\n\n（来源：测试部）\n";
        assert_eq!(body, expected);
    }

    #[test]
    fn contents_lines_may_follow_each_other_without_blank_lines() {
        let text = ISSUE.replace("聚焦“新材料”\n\n第二篇文章的标题\n很长所以分两行\n\n聚焦", "聚焦“新材料”\n第二篇文章的标题很长所以分两行\n\n聚焦");
        assert_eq!(body_of(&text), body_of(ISSUE));
    }

    #[test]
    fn a_heading_broken_over_two_lines_in_the_body_is_one_heading() {
        for broken in ["第二篇文章的标题\n很长所以分两行", "第二篇文章的标题\n\n很长所以分两行"] {
            let text = ISSUE.replace("第二 篇文章的标题很长所以分两行\n\n正文", &format!("{broken}\n\n正文"));
            assert_eq!(body_of(&text), body_of(ISSUE), "{broken:?}");
        }
    }

    #[test]
    fn headings_lose_the_spaces_between_chinese_characters_only() {
        assert_eq!(tidy_heading("签署 合作谅解备忘录"), "签署合作谅解备忘录");
        assert_eq!(tidy_heading("中国科技部和 CEPI  签署"), "中国科技部和 CEPI 签署");
    }

    #[test]
    fn the_contents_are_a_linked_list_not_paragraphs() {
        let body = body_of(ISSUE);
        assert_eq!(body.matches("聚焦“新材料”").count(), 2, "once in the list, once as the heading: {body}");
        assert!(!body.contains("第二篇文章的标题\n"), "{body}");
        let text = ISSUE.replace("第二 篇文章的标题很长所以分两行", "完全不同的小标题");
        assert!(body_of(&text).contains("\n- [聚焦“新材料”](#a1)\n- 第二篇文章的标题很长所以分两行\n\n"), "a contents line with no article is listed unlinked");
    }

    #[test]
    fn a_short_line_after_a_gap_goes_on_with_a_paragraph_the_page_broke() {
        let text = ISSUE.replace("条目正文在这里断开，没有结束\n\n而是在下一页继续。", "条目正文在这里断开，没有结束而是在\n\n\n \n下一页。");
        let body = body_of(&text);
        assert!(body.contains("\n条目正文在这里断开，没有结束而是在下一页。\n\n<figure>\n<figcaption>图片说明文字"), "{body}");
    }

    #[test]
    fn a_gap_with_no_short_line_is_no_caption_and_a_long_line_after_a_gap_is_a_paragraph() {
        let long = "这是一段很长的正文，".repeat(8);
        let text = ISSUE.replace("\n\n\n\n \n图片说明文字", &format!("\n\n\n\n{long}"));
        let body = body_of(&text);
        assert!(!body.contains("<figure>"), "{body}");
        assert!(body.contains(&format!("\n{long}\n")), "{body}");
    }

    #[test]
    fn line_endings_may_be_mixed_and_a_bom_is_dropped() {
        let mixed: String = ISSUE.split('\n').enumerate().map(|(i, l)| format!("{l}{}", ["\r\n", "\n", "\r"][i % 3])).collect();
        assert_eq!(body_of(&format!("\u{feff}{mixed}")), body_of(ISSUE));
        let (text, warning) = decode(format!("\u{feff}{ISSUE}").as_bytes()).unwrap();
        assert_eq!((text.as_str(), warning), (ISSUE, None));
    }

    #[test]
    fn gb18030_is_read_when_it_shows_a_masthead_and_refused_otherwise() {
        let (bytes, _, _) = encoding_rs::GB18030.encode(ISSUE);
        assert!(std::str::from_utf8(&bytes).is_err());
        let (text, warning) = decode(&bytes).unwrap();
        assert_eq!(text, ISSUE);
        assert!(warning.unwrap().message.contains("GB18030"));
        let (bytes, _, _) = encoding_rs::GB18030.encode("没有刊头的文字\n\n第二行");
        match decode(&bytes) {
            Err(LayoutError::Encoding { line: 1, .. }) => {}
            other => panic!("{other:?}"),
        }
        let utf16: Vec<u8> = [0xFEFF].into_iter().chain(ISSUE.encode_utf16()).flat_map(u16::to_le_bytes).collect();
        assert_eq!(decode(&utf16).unwrap().0, ISSUE, "UTF-16 with its byte-order mark");
        let err = decode(b"Volume.1, Issue No.1 2021\n\xff\xfe\n").unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("UTF-8"), "{err}");
    }

    #[test]
    fn bad_input_names_the_line() {
        let cases: Vec<(String, &str)> = vec![
            ("\n\nHello world\n".into(), "line 3: expected the masthead"),
            ("# Markdown\n".into(), "tidings issue convert"),
            (ISSUE.replace("2022 第 3 期, 总第 900 期", "2022 第 4 期, 总第 900 期"), "line 5: the masthead says 2022 no. 4"),
            ("Volume.900, Issue No.3 2022\n\n".into(), "line 1: expected the newsletter's title"),
            ("Volume.900, Issue No.3 2022\n\n测试通讯\n\nTEST\n\n这是第一段正文，直接开始了。\n".into(), "line 7: expected the contents"),
            ("Volume.900, Issue No.3 2022\n\n测试通讯\n\nTEST\n\n◇ 条目\n".into(), "line 7: the item \"◇ 条目\" comes before any article"),
            ("Volume.900, Issue No.3 2022\n\n测试通讯\n\nTEST\n\n标题一\n\n标题二\n".into(), "line 9: the contents are followed by no article"),
        ];
        for (text, expected) in cases {
            let err = convert(&text, &list(), date()).unwrap_err().to_string();
            assert!(err.contains(expected), "expected {expected:?} in {err:?}");
        }
    }

    #[test]
    fn a_contents_line_with_no_article_is_named_and_an_edited_heading_still_heads_its_article() {
        let text = ISSUE.replace("第二 篇文章的标题很长所以分两行", "第二篇文章的题目很长所以分两行");
        let c = convert(&text, &list(), date()).unwrap();
        assert!(c.markdown.contains("\n## <a id=\"a2\"></a>第二篇文章的题目很长所以分两行\n"), "{}", c.markdown);
        assert!(c.warnings.iter().any(|w| w.line == 31 && w.message.contains("differs from its contents line")), "{:?}", c.warnings);
        let text = ISSUE.replace("第二 篇文章的标题很长所以分两行", "完全不同的小标题");
        let c = convert(&text, &list(), date()).unwrap();
        assert!(c.warnings.iter().any(|w| w.line == 13 && w.message.contains("matches no article heading")), "{:?}", c.warnings);
        assert!(c.markdown.contains("完全不同的小标题") && c.markdown.contains("正文。"), "nothing is lost: {}", c.markdown);
    }

    #[test]
    fn an_item_in_a_plain_article_is_kept_with_a_warning() {
        let text = ISSUE.replace("正文。", "◇ 普通文章里的条目\n\n正文。");
        let c = convert(&text, &list(), date()).unwrap();
        assert!(c.markdown.contains("\n### ◇ 普通文章里的条目\n"), "{}", c.markdown);
        assert!(c.warnings.iter().any(|w| w.message.contains("not a 聚焦 section")), "{:?}", c.warnings);
    }

    #[test]
    fn markdown_characters_stay_text() {
        assert_eq!(escape("# 1. *a* _b_ [c](d) <e> & &amp; a|b ~x~"), "\\# 1. \\*a\\* \\_b\\_ \\[c\\](d) \\<e\\> & \\&amp; a\\|b \\~x\\~");
        assert_eq!(escape("2021. 年"), "2021\\. 年");
        assert_eq!(escape("- 列表"), "\\- 列表");
        assert_eq!(escape_html("a<b>&"), "a&lt;b&gt;&amp;");
    }

    #[test]
    fn sentences_end_at_chinese_and_latin_stops() {
        for ended in ["完。", "真的吗？", "好！", "说“好。”", "说“好”", "（完。）", "Done."] {
            assert!(ends_sentence(ended), "{ended}");
        }
        for open in ["落实双方", "包括：", "（以下简称《规划》）", "2021-2035"] {
            assert!(!ends_sentence(open), "{open}");
        }
    }

    /// Lines dropped, doubled, blanked or glued on at random: the conversion either refuses the
    /// text or keeps every line after the masthead, and never panics.
    #[test]
    fn no_line_is_ever_lost_whatever_the_shape_of_the_text() {
        let lines: Vec<&str> = ISSUE.split('\n').collect();
        let mut seed: u64 = 18;
        let mut next = |n: usize| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        let extras = ["", " ", "\u{3000}", "◇ 额外条目", "（来源：某报）", "短句", "聚焦“新材料”", "没有结束的半句"];
        let mut converted_ok = 0;
        for _ in 0..2000 {
            let mut text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            for _ in 0..1 + next(4) {
                let at = 8 + next(text.len() - 8);
                match next(4) {
                    0 => drop(text.remove(at)),
                    1 => text.insert(at, text[at].clone()),
                    2 => text.insert(at, extras[next(extras.len())].to_string()),
                    _ => text[at].push_str(extras[next(extras.len())]),
                }
            }
            let text = text.join("\n");
            let Ok(converted) = convert(&text, &list(), date()) else { continue };
            converted_ok += 1;
            let out = normal(&converted.markdown).replace('\\', "");
            for line in text.split('\n').skip(9).filter(|l| !l.trim().is_empty()) {
                assert!(out.contains(&normal(line)), "{line:?} lost from {text:?}:\n{}", converted.markdown);
            }
        }
        assert!(converted_ok > 1500, "most shapes still convert: {converted_ok}");
    }

    /// The reading stays about linear: a megabyte of short lines (all contents, or all
    /// heading-like lines in the body) is read in moments, and a larger file is refused.
    #[test]
    fn large_files_are_read_in_linear_time_or_refused() {
        let head = "Volume.1, Issue No.1 2022\n\n测试\n\nTEST\n\n";
        let many = |prefix: &str| (0..60_000).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>().join("\n\n");
        for text in [format!("{head}{}", many("目录")), format!("{head}目录\n\n目录\n\n{}", many("小标题"))] {
            let started = std::time::Instant::now();
            let _ = convert(&text, &list(), date());
            assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?} for {} KiB", started.elapsed(), text.len() / 1024);
        }
        let huge = format!("{head}目录\n\n目录\n\n{}", "正文。".repeat(MAX_BODY_BYTES / 9 + 1));
        assert!(matches!(convert(&huge, &list(), date()), Err(LayoutError::TooLarge { .. })));
    }

    #[test]
    fn a_date_outside_the_masthead_year_is_warned_about() {
        let c = convert(ISSUE, &list(), NaiveDate::from_ymd_opt(2026, 12, 3).unwrap()).unwrap();
        assert!(c.warnings.iter().any(|w| w.line == 3 && w.message.contains("--date")), "{:?}", c.warnings);
    }
}
