//! The confirmation emails' queue on SQLite: the host's clock (binds: lease end, now, limit).

pub const CLAIM: &str = "UPDATE subscriptions SET confirmation_not_before = $1, confirmation_attempts = confirmation_attempts + 1
     WHERE (list_id, subscriber_id) IN (
         SELECT list_id, subscriber_id FROM subscriptions
         WHERE status = 'pending' AND confirmation_sent_at IS NULL
           AND (confirmation_not_before IS NULL OR confirmation_not_before <= $2)
         ORDER BY consent_at LIMIT $3)
     RETURNING list_id, subscriber_id";

pub const RECORD: &str = "UPDATE subscriptions SET confirmation_sent_at = $1, confirmation_not_before = $2, confirmation_attempts = confirmation_attempts - $3
     WHERE list_id = $4 AND subscriber_id = $5 AND status = 'pending'";
