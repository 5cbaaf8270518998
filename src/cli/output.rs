//! Printing reports: aligned tables for people, one JSON document for scripts.

use serde::Serialize;

use super::CliError;

pub fn json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::runtime(format!("cannot write JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Prints rows under a header, each column as wide as its widest cell (counting characters, so
/// CJK text lines up as well as a terminal's fixed-width font allows).
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(display_width(cell));
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(display_width(c))))).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Terminal columns: CJK ideographs and full-width forms take two.
fn display_width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}
