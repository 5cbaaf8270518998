//! An issue file: TOML front matter between `+++` lines, then the Markdown body.
//!
//! Parsing checks every field and says which line is wrong; what comes out is an
//! [`IssueSource`] whose fields are all valid, ready to render.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::{LanguageTag, ListSlug};

const DELIMITER: &str = "+++";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueParseError {
    #[error("line 1: the file must start with a `+++` line opening the front matter")]
    NoFrontMatter,
    #[error("line {0}: the front matter opened here is never closed with a `+++` line")]
    Unclosed(usize),
    #[error("line {line}: {message}")]
    FrontMatter { line: usize, message: String },
    #[error("line {line}: field `{field}`: {message}")]
    Field { line: usize, field: &'static str, message: String },
    #[error("front matter: missing required field `{0}`")]
    Missing(&'static str),
    #[error("line {0}: the issue has no body after the front matter")]
    EmptyBody(usize),
}

/// The front matter as written, before checking.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrontMatter {
    list: Option<String>,
    slug: Option<String>,
    title: Option<String>,
    #[serde(default)]
    subtitle: String,
    volume: Option<u32>,
    number: Option<u32>,
    date: Option<toml::value::Datetime>,
    language: Option<String>,
    #[serde(default)]
    summary: String,
    send_at: Option<toml::value::Datetime>,
}

/// A parsed, checked issue file.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueSource {
    pub list: ListSlug,
    pub slug: ListSlug,
    pub title: String,
    pub subtitle: String,
    pub volume: Option<u32>,
    pub number: Option<u32>,
    pub date: NaiveDate,
    /// None: the list's language.
    pub language: Option<LanguageTag>,
    pub summary: String,
    pub send_at: Option<DateTime<Utc>>,
    pub body: String,
    /// The line of the file where the body starts, for messages about it.
    pub body_line: usize,
}

impl IssueSource {
    /// Parses `text`; `file_stem` is the default slug (the file name without `.md`).
    pub fn parse(text: &str, file_stem: &str) -> Result<Self, IssueParseError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let (front, body, body_line) = split(text)?;
        let raw: RawFrontMatter = toml::from_str(front).map_err(|e| toml_error(front, &e))?;
        let field_line = |field: &str| find_line(front, field);
        let bad = |field: &'static str, message: String| IssueParseError::Field { line: field_line(field), field, message };

        let list = raw.list.ok_or(IssueParseError::Missing("list"))?;
        let list = ListSlug::parse(&list).map_err(|e| bad("list", e.to_string()))?;
        let slug_text = raw.slug.unwrap_or_else(|| file_stem.to_string());
        let slug = ListSlug::parse(&slug_text).map_err(|e| bad("slug", e.to_string()))?;
        let title = one_line(raw.title.ok_or(IssueParseError::Missing("title"))?, "title", &bad)?;
        if title.is_empty() {
            return Err(bad("title", "must not be empty".into()));
        }
        let subtitle = one_line(raw.subtitle, "subtitle", &bad)?;
        let summary = raw.summary.split_whitespace().collect::<Vec<_>>().join(" ");
        let date = raw.date.ok_or(IssueParseError::Missing("date"))?;
        let date = as_date(&date).map_err(|m| bad("date", m))?;
        let language = raw.language.map(|l| LanguageTag::parse(&l)).transpose().map_err(|e| bad("language", e.to_string()))?;
        let send_at = raw.send_at.map(|t| as_instant(&t)).transpose().map_err(|m| bad("send_at", m))?;
        if body.trim().is_empty() {
            return Err(IssueParseError::EmptyBody(body_line));
        }
        Ok(Self { list, slug, title, subtitle, volume: raw.volume, number: raw.number, date, language, summary, send_at, body: body.to_string(), body_line })
    }
}

/// Splits off the front matter; returns it, the body, and the body's first line number.
fn split(text: &str) -> Result<(&str, &str, usize), IssueParseError> {
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or_default();
    if first.trim_end() != DELIMITER {
        return Err(IssueParseError::NoFrontMatter);
    }
    let start = first.len();
    let mut offset = start;
    for (i, line) in lines.enumerate() {
        if line.trim_end() == DELIMITER {
            return Ok((&text[start..offset], &text[offset + line.len()..], i + 3));
        }
        offset += line.len();
    }
    Err(IssueParseError::Unclosed(1))
}

/// The file line of a TOML error (the front matter starts on line 2).
fn toml_error(front: &str, e: &toml::de::Error) -> IssueParseError {
    let line = e.span().map_or(1, |s| front[..s.start.min(front.len())].matches('\n').count() + 1) + 1;
    IssueParseError::FrontMatter { line, message: e.message().trim().to_string() }
}

/// The file line where `field = …` is set, or the opening line when it is not.
fn find_line(front: &str, field: &str) -> usize {
    front
        .lines()
        .position(|l| l.trim_start().strip_prefix(field).is_some_and(|rest| rest.trim_start().starts_with('=')))
        .map_or(1, |i| i + 2)
}

fn one_line(value: String, field: &'static str, bad: &dyn Fn(&'static str, String) -> IssueParseError) -> Result<String, IssueParseError> {
    if value.chars().any(char::is_control) {
        return Err(bad(field, "must be one line, without control characters".into()));
    }
    Ok(value.trim().to_string())
}

fn as_date(value: &toml::value::Datetime) -> Result<NaiveDate, String> {
    match (value.date, value.time) {
        (Some(d), None) => NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into()).ok_or_else(|| format!("{value} is not a calendar date")),
        _ => Err(format!("expected a date like 2021-01-31, found {value}")),
    }
}

fn as_instant(value: &toml::value::Datetime) -> Result<DateTime<Utc>, String> {
    if value.date.is_none() || value.time.is_none() || value.offset.is_none() {
        return Err(format!("expected a date and time with a UTC offset, like 2021-02-01T08:00:00Z or 2021-02-01T16:00:00+08:00; found {value}"));
    }
    DateTime::parse_from_rfc3339(&value.to_string()).map(|t| t.with_timezone(&Utc)).map_err(|e| format!("{value}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "+++\nlist = \"cstn\"\ntitle = \"中国科技通讯 2021 年第 1 期\"\nvolume = 824\nnumber = 1\ndate = 2021-01-31\nlanguage = \"zh-CN\"\nsend_at = 2021-02-01T16:00:00+08:00\n+++\n\n## 聚焦\n\nBody.\n";

    #[test]
    fn a_good_file_parses() {
        let issue = IssueSource::parse(GOOD, "2021-01").unwrap();
        assert_eq!(issue.slug.as_str(), "2021-01");
        assert_eq!(issue.volume, Some(824));
        assert_eq!(issue.date, NaiveDate::from_ymd_opt(2021, 1, 31).unwrap());
        assert_eq!(issue.send_at.unwrap().to_rfc3339(), "2021-02-01T08:00:00+00:00");
        assert_eq!(issue.body_line, 10);
        assert!(issue.body.contains("## 聚焦"));
        let crlf = GOOD.replace('\n', "\r\n");
        assert_eq!(IssueSource::parse(&format!("\u{feff}{crlf}"), "2021-01").unwrap().title, issue.title);
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let cases: Vec<(String, &str)> = vec![
            ("no front matter\n".into(), "line 1: the file must start"),
            ("+++\nlist = \"x\"\n".into(), "never closed"),
            (GOOD.replace("volume = 824", "volume = \"many\""), "line 4"),
            (GOOD.replace("date = 2021-01-31", "date = 2021-02-30"), "line 6"),
            (GOOD.replace("date = 2021-01-31", "date = \"yesterday\""), "line 6"),
            (GOOD.replace("date = 2021-01-31", "date = 2021-01-31T10:00:00Z"), "line 6: field `date`"),
            (GOOD.replace("list = \"cstn\"\n", ""), "missing required field `list`"),
            (GOOD.replace("list = \"cstn\"", "list = \"CSTN\""), "line 2: field `list`"),
            (GOOD.replace("language = \"zh-CN\"", "language = \"chinese please\""), "line 7: field `language`"),
            (GOOD.replace("send_at = 2021-02-01T16:00:00+08:00", "send_at = 2021-02-01T16:00:00"), "line 8: field `send_at`"),
            (GOOD.replace("number = 1", "numbr = 1"), "line 5: unknown field `numbr`"),
            (GOOD.replace("title = \"中国科技通讯 2021 年第 1 期\"", "title = \"a\\nBcc: x\""), "line 3: field `title`"),
            (GOOD.replace("\n## 聚焦\n\nBody.\n", "\n  \n"), "has no body"),
        ];
        for (text, expected) in cases {
            let err = IssueSource::parse(&text, "x").unwrap_err().to_string();
            assert!(err.contains(expected), "expected {expected:?} in {err:?}");
        }
    }
}
