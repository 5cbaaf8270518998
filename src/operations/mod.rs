//! Staff operations that more than one face runs (the CLI, the JSON API, the admin pages): each
//! is implemented once here, takes typed input and an actor, and leaves an event.

pub mod imports;
pub mod lists;
pub mod retention;
pub mod sends;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The caller's input is wrong; `field` names it when there is one.
    #[error("{message}")]
    Invalid { field: Option<&'static str>, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something outside the caller's control failed (the relay, the disk).
    #[error("{0}")]
    Failed(String),
    /// The caller has done this too often; they may try again after the given seconds.
    #[error("{message}")]
    TooMany { message: String, retry_after_secs: u64 },
}

impl OpError {
    pub fn invalid(field: &'static str, message: impl std::fmt::Display) -> Self {
        Self::Invalid { field: Some(field), message: message.to_string() }
    }
}
