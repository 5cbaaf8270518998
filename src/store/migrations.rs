//! The schema's history on either backend: refusing a database that a newer binary migrated, and
//! telling which migrations are applied and which are pending (`tidings db status`).

use sqlx::migrate::Migrator;

use super::conn::{AsConn, q};
use super::{Result, StoreError};

/// The newest version a migrator knows.
pub fn latest(migrator: &Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or_default()
}

/// Versions applied to the database behind `c`; none when it has no schema history yet.
pub(crate) async fn applied(c: &mut impl AsConn) -> Vec<i64> {
    // A database that was never migrated has no history table: nothing is applied.
    let found: std::result::Result<Vec<i64>, sqlx::Error> = q!(scalar_all, c, "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version");
    found.unwrap_or_default()
}

/// Refuses a database whose schema is newer than this binary: running on it could write what
/// the newer schema forbids, and sqlx's own error would not say what to do.
pub(crate) async fn check_not_newer(mut c: impl AsConn, migrator: &Migrator) -> Result<()> {
    let newest = applied(&mut c).await.into_iter().max().unwrap_or_default();
    let known = latest(migrator);
    if newest > known {
        return Err(StoreError::Schema(format!(
            "the database has schema version {newest}, newer than this tidings knows ({known}): run the tidings that migrated it, or restore a backup taken before the upgrade"
        )));
    }
    Ok(())
}

/// Where a database stands against this binary's migrations (`tidings db status`).
#[derive(Debug, serde::Serialize)]
pub struct SchemaStatus {
    pub backend: &'static str,
    pub database: String,
    /// The newest migration applied; 0 for a database never initialised.
    pub schema_version: i64,
    /// The newest this binary knows.
    pub latest_known: i64,
    pub pending: Vec<PendingMigration>,
    /// Migrations applied that this binary does not know: a newer tidings migrated it.
    pub unknown_applied: Vec<i64>,
}

#[derive(Debug, serde::Serialize)]
pub struct PendingMigration {
    pub version: i64,
    pub description: String,
}

/// Reads the schema's history without changing anything (no migration is run, no file made).
pub async fn status(url: &str) -> Result<SchemaStatus> {
    use std::str::FromStr;
    use sqlx::ConnectOptions;
    let open_err = |source| StoreError::Open { url: url.to_string(), source };
    let (backend, migrator, applied) = if super::is_postgres_url(url) {
        let mut conn = sqlx::postgres::PgConnectOptions::from_str(url).map_err(open_err)?.connect().await.map_err(open_err)?;
        ("postgres", &super::postgres::MIGRATOR, applied(&mut super::conn::Conn::Postgres(&mut conn)).await)
    } else {
        let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(open_err)?.create_if_missing(false).read_only(true);
        let mut conn = options.connect().await.map_err(open_err)?;
        ("sqlite", &super::sqlite::MIGRATOR, applied(&mut super::conn::Conn::Sqlite(&mut conn)).await)
    };
    let known: Vec<i64> = migrator.iter().map(|m| m.version).collect();
    Ok(SchemaStatus {
        backend,
        database: super::describe_url(url),
        schema_version: applied.iter().copied().max().unwrap_or_default(),
        latest_known: latest(migrator),
        pending: migrator.iter().filter(|m| !applied.contains(&m.version)).map(|m| PendingMigration { version: m.version, description: m.description.to_string() }).collect(),
        unknown_applied: applied.into_iter().filter(|v| !known.contains(v)).collect(),
    })
}
