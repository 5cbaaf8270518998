//! Instances' heartbeats and leases on PostgreSQL: hosts' clocks may disagree, so every time
//! here is the database's `now()` (the host's time some binds carry is not used).

pub const REGISTER: &str = "INSERT INTO instances (id, pid, hostname, started_at, heartbeat_at) VALUES ($1, $2, $3, now(), now())
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()";

pub const HEARTBEAT: &str = "UPDATE instances SET heartbeat_at = now() WHERE id = $1";

/// $2 is the lease's length.
pub const EXTEND_LEASES: &str = "UPDATE deliveries SET lease_until = now() + $2 WHERE lease_owner = $1 AND state = 'sending'";

/// $2 is minus the heartbeat timeout.
pub const OTHERS: &str = "SELECT id, pid, hostname, heartbeat_at < now() + $2 AS stale FROM instances WHERE id <> $1";

// Rows the dead instance still has locked (it froze inside a transaction) are skipped, not waited
// for: taking them back must not hang on the very process it is taking them from. They are taken
// back at a later turn, once its transaction ends (it woke and committed, or the server ended its
// session: idle_in_transaction_session_timeout).

pub const RECLAIM_EXPIRED: &str = "UPDATE deliveries SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = $1
     WHERE id = ANY(ARRAY(SELECT id FROM deliveries WHERE state = 'sending' AND lease_until < now() FOR UPDATE SKIP LOCKED))";

pub const RECLAIM_OWNER: &str = "UPDATE deliveries SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = $1
     WHERE id = ANY(ARRAY(SELECT id FROM deliveries WHERE state = 'sending' AND lease_owner = $2 FOR UPDATE SKIP LOCKED))";

pub const FORGET: &str = "DELETE FROM instances WHERE id = ANY(ARRAY(SELECT id FROM instances WHERE id = $1 FOR UPDATE SKIP LOCKED))";
