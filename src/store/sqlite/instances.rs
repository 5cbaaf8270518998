//! Instances' heartbeats and leases on SQLite: one host, its clock (binds carry the time).

pub const REGISTER: &str = "INSERT INTO instances (id, pid, hostname, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $4)
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at";

pub const HEARTBEAT: &str = "UPDATE instances SET heartbeat_at = $2 WHERE id = $1";

pub const EXTEND_LEASES: &str = "UPDATE deliveries SET lease_until = $2 WHERE lease_owner = $1 AND state = 'sending'";

/// Every other instance, and whether its heartbeat is older than $2.
pub const OTHERS: &str = "SELECT id, pid, hostname, heartbeat_at < $2 AS stale FROM instances WHERE id <> $1";

pub const RECLAIM_EXPIRED: &str =
    "UPDATE deliveries SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = $1 WHERE state = 'sending' AND lease_until < $1";

pub const RECLAIM_OWNER: &str =
    "UPDATE deliveries SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = $1 WHERE state = 'sending' AND lease_owner = $2";

pub const FORGET: &str = "DELETE FROM instances WHERE id = $1";
