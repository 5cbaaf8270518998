//! `LanguageTag`: a BCP 47 language tag such as `zh-CN` or `en`, checked for shape only.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a language tag (expected something like \"en\" or \"zh-CN\")")]
pub struct LanguageError(pub String);

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LanguageTag(String);

impl LanguageTag {
    pub fn parse(input: &str) -> Result<Self, LanguageError> {
        let fail = || LanguageError(input.to_string());
        let mut subtags = input.split('-');
        let primary = subtags.next().unwrap_or_default();
        let primary_ok = (2..=8).contains(&primary.len()) && primary.chars().all(|c| c.is_ascii_alphabetic());
        let rest_ok = subtags.all(|s| (1..=8).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()));
        if !primary_ok || !rest_ok || input.len() > 35 {
            return Err(fail());
        }
        Ok(Self(input.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for LanguageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LanguageTag({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        for ok in ["en", "zh-CN", "zh-Hans-CN", "de-CH-1996"] {
            assert!(LanguageTag::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "e", "zh_CN", "english language", "zh-", "中文"] {
            assert!(LanguageTag::parse(bad).is_err(), "{bad:?}");
        }
    }
}
