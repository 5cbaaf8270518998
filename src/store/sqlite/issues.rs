//! Issues' SQLite statements.

/// The issue a status change or a send decides about (the writer's turn keeps it still).
pub const LOCK: &str = "SELECT list_id, status, slug FROM issues WHERE id = $1";

pub const STATUS_BY_SLUG: &str = "SELECT status FROM issues WHERE slug = $1";
