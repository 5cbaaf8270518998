//! The event log's SQLite statements.

pub const APPEND: &str = "INSERT INTO events (at, type, actor, subscriber_id, list_id, issue_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)";
