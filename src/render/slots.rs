//! Render once, personalise cheaply: templates carry *slots* (marked with two private-use
//! characters that are stripped from every input) where per-recipient values go.
//!
//! A rendered text is split at its slots once; filling it for a recipient is then a few copies.

use std::fmt::Write;

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// The recipient's address.
    Email,
    UnsubscribeUrl,
    PreferencesUrl,
    /// A private list's personal feed.
    FeedUrl,
}

impl Slot {
    const ALL: [Slot; 4] = [Slot::Email, Slot::UnsubscribeUrl, Slot::PreferencesUrl, Slot::FeedUrl];

    fn name(self) -> &'static str {
        match self {
            Slot::Email => "email",
            Slot::UnsubscribeUrl => "unsubscribe_url",
            Slot::PreferencesUrl => "preferences_url",
            Slot::FeedUrl => "feed_url",
        }
    }

    /// The marker that stands for this slot in a rendered text.
    pub fn marker(self) -> String {
        format!("{OPEN}{}{CLOSE}", self.name())
    }
}

/// Removes the slot markers' characters from untrusted input, so content can never fake a slot.
pub fn strip_markers(input: &str) -> String {
    input.replace([OPEN, CLOSE], "")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Slot(Slot),
}

/// A rendered text split at its slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    pub fn parse(rendered: &str) -> Self {
        let mut parts = Vec::new();
        let mut rest = rendered;
        while let Some(start) = rest.find(OPEN) {
            let after = &rest[start + OPEN.len_utf8()..];
            let Some(end) = after.find(CLOSE) else { break };
            let name = &after[..end];
            let Some(slot) = Slot::ALL.into_iter().find(|s| s.name() == name) else { break };
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            parts.push(Part::Slot(slot));
            rest = &after[end + CLOSE.len_utf8()..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Self { parts }
    }

    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The text with every slot filled by `value`.
    pub fn fill(&self, value: impl Fn(Slot) -> String) -> String {
        let mut out = String::with_capacity(self.parts.iter().map(|p| if let Part::Text(t) = p { t.len() } else { 64 }).sum());
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Slot(s) => {
                    let _ = write!(out, "{}", value(*s));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_and_fill() {
        let text = format!("Hi {}, leave: {}.", Slot::Email.marker(), Slot::UnsubscribeUrl.marker());
        let t = Template::parse(&text);
        assert_eq!(t.parts().len(), 5);
        assert_eq!(t.fill(|s| format!("<{s:?}>")), "Hi <Email>, leave: <UnsubscribeUrl>.");
        assert_eq!(strip_markers(&text), "Hi email, leave: unsubscribe_url.");
    }
}
