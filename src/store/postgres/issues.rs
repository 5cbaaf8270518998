//! Issues' PostgreSQL statements: the row a decision reads is locked until the decision is
//! written, so two instances (two schedulers, a pause and a send) decide one after the other.

pub const LOCK: &str = "SELECT list_id, status, slug FROM issues WHERE id = $1 FOR UPDATE";

pub const STATUS_BY_SLUG: &str = "SELECT status FROM issues WHERE slug = $1 FOR UPDATE";
