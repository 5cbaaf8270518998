//! One error type for the CLI, and the one place that maps failures to exit statuses:
//! 2 for bad usage or bad input, 1 for a runtime failure.

use std::fmt;

use crate::audience::{ExportError, ImportError};
use crate::config::ConfigError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct CliError {
    code: u8,
    message: String,
}

impl CliError {
    pub fn usage(message: impl fmt::Display) -> Self {
        Self { code: 2, message: message.to_string() }
    }

    pub fn runtime(message: impl fmt::Display) -> Self {
        Self { code: 1, message: message.to_string() }
    }

    pub fn exit_code(&self) -> u8 {
        self.code
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        if e.is_bad_input() { Self::usage(e) } else { Self::runtime(e) }
    }
}

impl From<crate::operations::OpError> for CliError {
    fn from(e: crate::operations::OpError) -> Self {
        use crate::operations::OpError;
        match e {
            OpError::Invalid { .. } => Self::usage(e),
            OpError::Store(s) => s.into(),
            OpError::Failed(m) | OpError::TooMany { message: m, .. } => Self::runtime(m),
        }
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        Self::usage(e)
    }
}

impl From<ImportError> for CliError {
    fn from(e: ImportError) -> Self {
        if e.is_bad_input() { Self::usage(e) } else { Self::runtime(e) }
    }
}

impl From<ExportError> for CliError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::Store(s) => s.into(),
            ExportError::Write(w) => Self::runtime(w),
        }
    }
}

impl CliError {
    /// Prefixes the message with the file it is about, unless it already names it.
    pub fn in_file(self, path: &str) -> Self {
        if self.message.contains(path) { self } else { Self { code: self.code, message: format!("{path}: {}", self.message) } }
    }
}
