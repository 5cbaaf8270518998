//! Import jobs' PostgreSQL statements: silence measured on the database's clock ($1 is minus the
//! allowed silence).

pub const RUNNING: &str = "SELECT id, owner, COALESCE(progress_at, started_at) < now() + $1 AS silent FROM import_jobs WHERE state = 'running'";
