//! Line wrapping for the plain-text email: near 72 columns, counting CJK characters as two,
//! breaking between CJK characters or at spaces, never inside a URL or a Latin word, and never
//! putting closing punctuation at the start of a line (or opening punctuation at the end).

use unicode_width::UnicodeWidthStr;

pub const WIDTH: usize = 72;

/// Punctuation that must not begin a line.
const NO_START: &str = "，。、；：！？）」』】》〉”’…·％,.;:!?)]}%";
/// Punctuation that must not end a line.
const NO_END: &str = "（「『【《〈“‘([{";

struct Unit {
    text: String,
    space_before: bool,
}

fn is_cjk(c: char) -> bool {
    UnicodeWidthStr::width(c.encode_utf8(&mut [0; 4]) as &str) == 2
}

/// Splits text into units that may not be broken: Latin words (and URLs) whole, CJK characters
/// one by one, with forbidden punctuation glued to its neighbour.
fn units(text: &str) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    let mut space = false;
    let mut glue_next = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = true;
            glue_next = false;
            continue;
        }
        let attach = !space && units.last().is_some() && (glue_next || NO_START.contains(c) || (!is_cjk(c) && units.last().is_some_and(|u| !u.text.chars().last().is_some_and(is_cjk))));
        match units.last_mut() {
            Some(last) if attach => last.text.push(c),
            _ => units.push(Unit { text: c.to_string(), space_before: space }),
        }
        glue_next = NO_END.contains(c);
        space = false;
    }
    units
}

/// Wraps `text` into lines that start with `first` (the first line) or `rest` (the others).
pub fn wrap(text: &str, first: &str, rest: &str) -> String {
    let mut out = String::new();
    for (n, paragraph_line) in text.split('\n').enumerate() {
        let mut line = String::from(if n == 0 { first } else { rest });
        let mut width = line.width();
        let mut empty = true;
        for unit in units(paragraph_line) {
            let unit_width = unit.text.width();
            let gap = usize::from(unit.space_before && !empty);
            if !empty && width + gap + unit_width > WIDTH {
                out.push_str(line.trim_end());
                out.push('\n');
                line = String::from(rest);
                width = line.width();
            } else if gap == 1 {
                line.push(' ');
                width += 1;
            }
            line.push_str(&unit.text);
            width += unit_width;
            empty = false;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths(s: &str) -> Vec<usize> {
        s.lines().map(|l| l.width()).collect()
    }

    #[test]
    fn latin_text_wraps_at_spaces_near_72() {
        let text = "word ".repeat(40);
        let out = wrap(text.trim(), "", "");
        assert!(widths(&out).iter().all(|w| *w <= WIDTH), "{out}");
        assert!(out.lines().all(|l| !l.starts_with(' ') && !l.ends_with(' ')));
        assert_eq!(out.split_whitespace().count(), 40);
    }

    #[test]
    fn cjk_wraps_between_characters_and_respects_punctuation() {
        let text = "中国科学院的研究人员近日在新型储能材料领域取得重要进展，相关成果发表在国际学术期刊上。该团队开发的固态电解质在室温下表现出很高的离子电导率，为下一代电池提供了新的思路。";
        let out = wrap(text, "", "");
        assert!(widths(&out).iter().all(|w| *w <= WIDTH), "{out}");
        assert!(out.lines().count() >= 2);
        for line in out.lines() {
            let first = line.chars().next().unwrap();
            assert!(!NO_START.contains(first), "line starts with {first}: {out}");
        }
        assert_eq!(out.replace('\n', ""), text, "no character lost or added");
    }

    #[test]
    fn urls_are_never_broken() {
        let url = "https://example.org/a/very/long/path/that/goes/on/and/on/and/on/for/more/than/seventy-two/columns";
        let out = wrap(&format!("See {url} for details"), "", "");
        assert!(out.lines().any(|l| l == url), "{out}");
    }

    #[test]
    fn hanging_indent_for_list_items() {
        let out = wrap(&"item text ".repeat(20), "- ", "  ");
        assert!(out.starts_with("- item"));
        assert!(out.lines().skip(1).all(|l| l.starts_with("  ") && !l.starts_with("   ")), "{out}");
    }
}
