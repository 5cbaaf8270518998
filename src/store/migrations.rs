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
