//! Subscribers' PostgreSQL statements: the person's row is locked while a decision about them is
//! made, attributes are `jsonb`.

pub const FIND: &str = "SELECT id, status FROM subscribers WHERE email_key = $1 FOR UPDATE";

/// Taken before anything is decided about an address that may not have a row yet.
pub const LOCK_ADDRESS: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 7001))";

/// Keys set to null are removed, as SQLite's `json_patch` does (attributes are one level deep).
pub const MERGE_ATTRIBUTES: &str = "UPDATE subscribers SET attributes = jsonb_strip_nulls(attributes || CAST($1 AS jsonb)) WHERE id = $2";

pub const REPORTS_NAMING: &str =
    "SELECT id, CAST(problems AS text), error FROM import_jobs WHERE CAST(problems AS text) LIKE '%' || $1 || '%' OR error LIKE '%' || $1 || '%'";

pub const SCRUB_REPORT: &str = "UPDATE import_jobs SET problems = CAST($1 AS jsonb), error = $2 WHERE id = $3";

/// Two confirmations of one link at once: the second waits, then finds it confirmed.
pub const SUBSCRIPTION_STATUS: &str = "SELECT u.status FROM subscriptions u JOIN subscribers s ON s.id = u.subscriber_id
     WHERE u.list_id = $1 AND u.subscriber_id = $2 AND s.status = 'active' FOR UPDATE OF u";

pub const STATUS_BY_ID: &str = "SELECT status FROM subscribers WHERE id = $1 FOR UPDATE";

/// Two reports about one person at once: the second decides on what the first wrote.
pub const PERSON_FOR_BOUNCE: &str = "SELECT email_key, status FROM subscribers WHERE id = $1 FOR UPDATE";
