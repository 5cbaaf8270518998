//! `SubscriberName`: a display name that is safe to put in a mail header.

use std::fmt;

const MAX_NAME_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name contains a control character (such as a line break)")]
    ControlCharacter,
    #[error("the name is longer than {MAX_NAME_CHARS} characters")]
    TooLong,
}

/// A subscriber's name: trimmed, never containing CR, LF or any other control character, so it
/// can be placed in a `To:` header or a greeting without escaping surprises. May be empty.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SubscriberName(String);

impl SubscriberName {
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let trimmed = input.trim();
        if trimmed.chars().any(is_forbidden) {
            return Err(NameError::ControlCharacter);
        }
        if trimmed.chars().count() > MAX_NAME_CHARS {
            return Err(NameError::TooLong);
        }
        Ok(Self(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Control characters, plus the Unicode line and paragraph separators some mail clients honour.
fn is_forbidden(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

impl fmt::Display for SubscriberName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SubscriberName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubscriberName({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_keep_unicode() {
        assert_eq!(SubscriberName::parse("  王小明 ").unwrap().as_str(), "王小明");
        assert_eq!(SubscriberName::parse("Zoë O'Brien-Śmith").unwrap().as_str(), "Zoë O'Brien-Śmith");
        assert!(SubscriberName::parse("").unwrap().is_empty());
    }

    #[test]
    fn header_injection_is_impossible() {
        for bad in ["Eve\r\nBcc: all@example.com", "Eve\nX: y", "Eve\u{0}", "a\u{2028}b", "tab\there"] {
            assert_eq!(SubscriberName::parse(bad), Err(NameError::ControlCharacter), "{bad:?}");
        }
    }

    #[test]
    fn overlong_names_are_refused() {
        assert!(SubscriberName::parse(&"名".repeat(200)).is_ok());
        assert_eq!(SubscriberName::parse(&"名".repeat(201)), Err(NameError::TooLong));
    }
}
