//! The delivery queue on PostgreSQL, shared by every instance: claims skip the rows another
//! instance is claiming, a batch's outcomes are one statement fenced by the lease's owner, and
//! every lease and due time is the database's `now()`.

use chrono::Duration;
use sqlx::{PgConnection, PgPool};

use crate::store::conn::Later;
use crate::store::deliveries::{Claimed, Outcome, OutcomeColumns};
use crate::store::Result;

/// The audience snapshot (binds: issue, list; the host's time in $3 is not used).
pub const SNAPSHOT: &str = "INSERT INTO deliveries (issue_id, subscriber_id, state, next_attempt_at, updated_at)
     SELECT $1, u.subscriber_id, 'queued', now(), now()
     FROM subscriptions u JOIN subscribers s ON s.id = u.subscriber_id
     WHERE u.list_id = $2 AND u.status = 'confirmed' AND s.status = 'active'
     ORDER BY u.subscriber_id
     ON CONFLICT (issue_id, subscriber_id) DO NOTHING";

/// Whether any scheduled issue is due by the database's clock.
pub const ANY_DUE_ISSUE: &str = "SELECT id FROM issues WHERE status = 'scheduled' AND send_at <= now() LIMIT 1";

/// Scheduled issues whose time has come by the database's clock, locked for the scheduler.
pub const DUE_ISSUES: &str = "SELECT id FROM issues WHERE status = 'scheduled' AND send_at <= now() ORDER BY send_at FOR UPDATE SKIP LOCKED";

/// Picks the oldest sending issue with rows due, claims up to $3 of them and returns them with
/// their readers, in one round trip. Both reads of `deliveries` stay on the partial index of
/// queued rows in the generic plan a cached prepared statement gets (see the test of it): the
/// issue's earliest due row is a `min()` the index answers with its first entry (an `EXISTS`
/// is planned as a scan that hopes to meet a due row early), and the rows are updated by id
/// through `= ANY(ARRAY(…))` (`id IN (SELECT … LIMIT n)` becomes a hash join over the table).
pub const CLAIM: &str = "WITH issue AS (
         SELECT i.id, i.list_id FROM issues i
         WHERE i.status = 'sending'
           AND (SELECT min(q.next_attempt_at) FROM deliveries q WHERE q.issue_id = i.id AND q.state = 'queued') <= now()
         ORDER BY i.started_at, i.id LIMIT 1
     ), claimed AS (
         UPDATE deliveries SET state = 'sending', lease_owner = $1, lease_until = now() + $2, attempts = attempts + 1, updated_at = now()
         WHERE id = ANY(ARRAY(
             SELECT q.id FROM deliveries q
             WHERE q.issue_id = (SELECT id FROM issue) AND q.state = 'queued' AND q.next_attempt_at <= now()
             ORDER BY q.next_attempt_at, q.id LIMIT $3
             FOR UPDATE SKIP LOCKED))
         RETURNING id, issue_id, subscriber_id, attempts
     )
     SELECT c.id, c.issue_id, c.subscriber_id, c.attempts, s.email, s.name, s.status AS subscriber_status, u.status AS subscription_status
     FROM claimed c CROSS JOIN issue
     LEFT JOIN subscribers s ON s.id = c.subscriber_id
     LEFT JOIN subscriptions u ON u.list_id = issue.list_id AND u.subscriber_id = c.subscriber_id
     ORDER BY c.id";

/// A batch's outcomes in one statement: arrays of (id, state, due in seconds, code, error,
/// attempts given back), applied only to rows still leased by $7.
pub const RECORD: &str = "UPDATE deliveries d SET state = o.state,
         next_attempt_at = CASE WHEN o.due_in IS NULL THEN d.next_attempt_at ELSE now() + make_interval(secs => o.due_in) END,
         smtp_code = o.code, last_error = o.error, attempts = d.attempts - o.back,
         sent_at = CASE WHEN o.state = 'sent' THEN now() ELSE d.sent_at END,
         lease_owner = NULL, lease_until = NULL, updated_at = now()
     FROM UNNEST($1::bigint[], $2::text[], $3::float8[], $4::bigint[], $5::text[], $6::bigint[]) AS o(id, state, due_in, code, error, back)
     WHERE d.id = o.id AND d.lease_owner = $7 AND d.state = 'sending'
     RETURNING d.id";

pub async fn claim(pool: &PgPool, owner: &str, limit: i64, lease: Duration) -> Result<Vec<Claimed>> {
    Ok(sqlx::query_as(CLAIM).bind(owner).bind(Later(lease)).bind(limit).fetch_all(pool).await?)
}

/// Returns the ids of the rows that were still `owner`'s and changed.
pub async fn record(tx: &mut PgConnection, owner: &str, outcomes: &[(Claimed, Outcome)]) -> Result<Vec<i64>> {
    let n = outcomes.len();
    let (mut ids, mut states, mut due, mut codes, mut errors, mut back) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for (d, outcome) in outcomes {
        let o = OutcomeColumns::of(outcome);
        ids.push(d.id);
        states.push(o.state);
        due.push(o.due_in.map(|t| t.num_milliseconds() as f64 / 1000.0));
        codes.push(o.code);
        errors.push(o.error);
        back.push(o.attempts_back);
    }
    Ok(sqlx::query_scalar(RECORD).bind(ids).bind(states).bind(due).bind(codes).bind(errors).bind(back).bind(owner).fetch_all(&mut *tx).await?)
}
