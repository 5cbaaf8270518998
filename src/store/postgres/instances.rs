//! Instances' heartbeats and leases on PostgreSQL: hosts' clocks may disagree, so every time
//! here is the database's `now()` (the host's time some binds carry is not used).

pub const REGISTER: &str = "INSERT INTO instances (id, pid, hostname, started_at, heartbeat_at) VALUES ($1, $2, $3, now(), now())
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()";

pub const HEARTBEAT: &str = "UPDATE instances SET heartbeat_at = now() WHERE id = $1";

/// $2 is the lease's length.
pub const EXTEND_LEASES: &str = "UPDATE deliveries SET lease_until = now() + $2 WHERE lease_owner = $1 AND state = 'sending'";

/// $2 is minus the heartbeat timeout.
pub const OTHERS: &str = "SELECT id, pid, hostname, heartbeat_at < now() + $2 AS stale FROM instances WHERE id <> $1";

pub const RECLAIM_EXPIRED: &str =
    "UPDATE deliveries SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = $1 WHERE state = 'sending' AND lease_until < now()";
