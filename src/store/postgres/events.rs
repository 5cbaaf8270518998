//! The event log's PostgreSQL statements: details are `jsonb`.

pub const APPEND: &str = "INSERT INTO events (at, type, actor, subscriber_id, list_id, issue_id, detail) VALUES ($1, $2, $3, $4, $5, $6, CAST($7 AS jsonb))";
