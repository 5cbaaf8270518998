//! A check's outcome, as the checklist shows it.

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    /// Works, but worth fixing (mail may land in spam, or go slower).
    Warn,
    /// Something a send needs is wrong.
    Fail,
    /// Not checked, and why.
    Skip,
}

impl Status {
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Pass => "✔",
            Self::Warn => "!",
            Self::Fail => "✘",
            Self::Skip => "-",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Check {
    /// configuration, relay or dns.
    pub group: String,
    pub name: String,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do, for a failure or a warning.
    pub advice: Option<String>,
}

impl Check {
    pub fn pass(group: &str, name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { group: group.into(), name: name.into(), status: Status::Pass, detail: detail.into(), advice: None }
    }

    pub fn warn(group: &str, name: impl Into<String>, detail: impl Into<String>, advice: impl Into<String>) -> Self {
        Self { group: group.into(), name: name.into(), status: Status::Warn, detail: detail.into(), advice: Some(advice.into()) }
    }

    pub fn fail(group: &str, name: impl Into<String>, detail: impl Into<String>, advice: impl Into<String>) -> Self {
        Self { group: group.into(), name: name.into(), status: Status::Fail, detail: detail.into(), advice: Some(advice.into()) }
    }

    pub fn skip(group: &str, name: impl Into<String>, why: impl Into<String>) -> Self {
        Self { group: group.into(), name: name.into(), status: Status::Skip, detail: why.into(), advice: None }
    }

    /// A failure, or only a warning where nothing is sent for real yet.
    pub fn fail_if(production: bool, group: &str, name: impl Into<String>, detail: impl Into<String>, advice: impl Into<String>) -> Self {
        if production { Self::fail(group, name, detail, advice) } else { Self::warn(group, name, detail, advice) }
    }
}
