//! Export's SQLite statements.

/// Binds: list or NULL, effective status or NULL.
pub const ATTRIBUTE_KEYS: &str = "SELECT DISTINCT j.key FROM subscriptions u JOIN subscribers s ON s.id = u.subscriber_id, json_each(s.attributes) j
     WHERE ($1 IS NULL OR u.list_id = $1)
       AND ($2 IS NULL OR (CASE WHEN s.status <> 'active' AND u.status <> 'unsubscribed' THEN s.status ELSE u.status END) = $2)
     ORDER BY j.key";
