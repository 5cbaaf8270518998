//! Staff roles and what each may do, decided in this one place for the API and the pages alike.

use std::fmt;
use std::str::FromStr;

/// Ordered: each role may do everything the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Editor,
    Owner,
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read lists, subscribers, issues, logs.
    Read,
    /// Manage subscribers and lists, draft issues, send test copies.
    Edit,
    /// Send to a list, pause, resume, cancel; manage staff, tokens and settings.
    Own,
}

impl Role {
    pub fn allows(self, needed: Permission) -> bool {
        let least = match needed {
            Permission::Read => Role::Viewer,
            Permission::Edit => Role::Editor,
            Permission::Own => Role::Owner,
        };
        self >= least
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Owner => "owner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a role: use owner, editor or viewer")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "editor" => Ok(Role::Editor),
            "owner" => Ok(Role::Owner),
            other => Err(UnknownRole(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_may_do_what_the_lesser_ones_may() {
        assert!(Role::Viewer.allows(Permission::Read));
        assert!(!Role::Viewer.allows(Permission::Edit));
        assert!(Role::Editor.allows(Permission::Edit));
        assert!(!Role::Editor.allows(Permission::Own));
        assert!(Role::Owner.allows(Permission::Own));
        assert_eq!("editor".parse::<Role>(), Ok(Role::Editor));
        assert!("admin".parse::<Role>().is_err());
    }
}
