//! `ListSlug`: the short identifier of a list, used in URLs, `List-Id` and the CLI.

use std::fmt;

const MAX_SLUG_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a valid slug: {why} (use 1 to 64 lower-case letters, digits, '-' or '_', starting with a letter or digit)")]
pub struct SlugError {
    pub input: String,
    pub why: &'static str,
}

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListSlug(String);

impl ListSlug {
    pub fn parse(input: &str) -> Result<Self, SlugError> {
        let fail = |why| SlugError { input: input.to_string(), why };
        if input.is_empty() {
            return Err(fail("it is empty"));
        }
        if input.len() > MAX_SLUG_LEN {
            return Err(fail("it is too long"));
        }
        if !input.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(fail("it must start with a letter or digit"));
        }
        if let Some(c) = input.chars().find(|c| !is_slug_char(*c)) {
            return Err(fail(if c.is_ascii_uppercase() { "it has an upper-case letter" } else { "it has a character that is not allowed" }));
        }
        Ok(Self(input.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_slug_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
}

impl fmt::Display for ListSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ListSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ListSlug({:?})", self.0)
    }
}

impl std::str::FromStr for ListSlug {
    type Err = SlugError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["cstn", "2021-01", "weekly_news", "a"] {
            assert!(ListSlug::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "CSTN", "-x", "a b", "a/b", "新闻", &"x".repeat(65), "a\nb"] {
            assert!(ListSlug::parse(bad).is_err(), "{bad:?}");
        }
    }
}
