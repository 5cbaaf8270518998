//! Import jobs' SQLite statements.

/// Running jobs, and whether each has been silent since before $1.
pub const RUNNING: &str = "SELECT id, owner, COALESCE(progress_at, started_at) < $1 AS silent FROM import_jobs WHERE state = 'running'";
