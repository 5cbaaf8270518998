//! Subscribers' SQLite statements.

pub const FIND: &str = "SELECT id, status FROM subscribers WHERE email_key = $1";

/// RFC 7396 merge: keys set to null are removed.
pub const MERGE_ATTRIBUTES: &str = "UPDATE subscribers SET attributes = json_patch(attributes, $1) WHERE id = $2";

pub const REPORTS_NAMING: &str = "SELECT id, problems, error FROM import_jobs WHERE problems LIKE '%' || $1 || '%' OR error LIKE '%' || $1 || '%'";

pub const SCRUB_REPORT: &str = "UPDATE import_jobs SET problems = $1, error = $2 WHERE id = $3";

pub const SUBSCRIPTION_STATUS: &str = "SELECT u.status FROM subscriptions u JOIN subscribers s ON s.id = u.subscriber_id
     WHERE u.list_id = $1 AND u.subscriber_id = $2 AND s.status = 'active'";

pub const STATUS_BY_ID: &str = "SELECT status FROM subscribers WHERE id = $1";

pub const PERSON_FOR_BOUNCE: &str = "SELECT email_key, status FROM subscribers WHERE id = $1";
