//! Retention's PostgreSQL statements: rows found through their indexes and deleted by id
//! (`= ANY(ARRAY(…))` stays an index scan under a cached statement's generic plan).

pub const DELETE_DELIVERIES: &str = "DELETE FROM deliveries WHERE id = ANY(ARRAY(SELECT id FROM deliveries WHERE issue_id = $1 LIMIT $2))";

pub const DELETE_EVENTS: &str = "DELETE FROM events WHERE id = ANY(ARRAY(
     SELECT id FROM events WHERE at < $1
       AND ((type >= 'bounce.' AND type < 'bounce/') OR (type >= 'confirmation.' AND type < 'confirmation/'))
     ORDER BY id LIMIT $2))";
