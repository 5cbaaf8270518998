//! Retention's SQLite statements.

/// Binds: issue, batch.
pub const DELETE_DELIVERIES: &str = "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE issue_id = $1 LIMIT $2)";

/// Binds: before, batch.
pub const DELETE_EVENTS: &str = "DELETE FROM events WHERE id IN (
     SELECT id FROM events WHERE at < $1
       AND ((type >= 'bounce.' AND type < 'bounce/') OR (type >= 'confirmation.' AND type < 'confirmation/'))
     ORDER BY id LIMIT $2)";
