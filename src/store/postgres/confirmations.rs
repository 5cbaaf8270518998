//! The confirmation emails' queue on PostgreSQL: rows another instance holds are skipped, and
//! leases run on the database's clock ($1 is the lease's length; the host's `now` in $2 is not
//! used).

pub const CLAIM: &str = "UPDATE subscriptions u SET confirmation_not_before = now() + $1, confirmation_attempts = u.confirmation_attempts + 1
     FROM (SELECT list_id, subscriber_id FROM subscriptions
           WHERE status = 'pending' AND confirmation_sent_at IS NULL
             AND (confirmation_not_before IS NULL OR confirmation_not_before <= now())
           ORDER BY consent_at LIMIT $3 FOR UPDATE SKIP LOCKED) due
     WHERE u.list_id = due.list_id AND u.subscriber_id = due.subscriber_id
     RETURNING u.list_id, u.subscriber_id";

/// $2 is the retry's delay, added to the database's clock.
pub const RECORD: &str = "UPDATE subscriptions SET confirmation_sent_at = $1, confirmation_not_before = now() + $2, confirmation_attempts = confirmation_attempts - $3
     WHERE list_id = $4 AND subscriber_id = $5 AND status = 'pending'";
