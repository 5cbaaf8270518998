//! Online backups: a consistent copy of the live database (`VACUUM INTO` reads one snapshot
//! while senders keep writing), and the checks that say whether a copy is fit to restore.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

use super::conn::{Conn, q};
use super::sqlite::MIGRATOR;
use super::{HEARTBEAT_TIMEOUT_SECS, Result, Store, StoreError};

/// What a backup file holds, as read back from it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub schema_version: i64,
    /// `PRAGMA integrity_check`'s answer: `ok`, or what is wrong.
    pub integrity: String,
    pub lists: i64,
    pub subscribers: i64,
    pub issues: i64,
    pub deliveries: i64,
    pub deliveries_sent: i64,
    pub suppressions: i64,
    pub events: i64,
}

/// A process that holds the database open: its heartbeat is recent and, on this host, it runs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiveInstance {
    pub pid: i64,
    pub hostname: String,
    pub heartbeat_at: DateTime<Utc>,
}

impl Store {
    /// Writes a consistent copy of the whole database to `out`, which must not exist.
    pub async fn backup_into(&self, out: &Path) -> Result<()> {
        if self.is_postgres() {
            return Err(StoreError::Unsupported("backups of a PostgreSQL database are taken with pg_dump (see the README's Deploying section)".into()));
        }
        let target = out.to_str().ok_or_else(|| StoreError::Corrupt(format!("{} is not a UTF-8 path", out.display())))?;
        q!(exec, &mut self.read().await?, "VACUUM INTO $1", target)?;
        Ok(())
    }

    /// The processes that may be using this database now. On this host a process counts while it
    /// runs, however long since its last heartbeat (a daemon waiting out a relay that is down
    /// beats rarely); elsewhere, while its heartbeat is recent.
    pub async fn live_instances(&self, hostname: &str, alive: impl Fn(u32) -> bool) -> Result<Vec<LiveInstance>> {
        let rows: Vec<(i64, String, DateTime<Utc>)> = q!(all, &mut self.read().await?, "SELECT pid, hostname, heartbeat_at FROM instances")?;
        let fresh = super::now() - Duration::seconds(HEARTBEAT_TIMEOUT_SECS);
        Ok(rows
            .into_iter()
            .filter(|(pid, host, beat)| if host == hostname { alive(*pid as u32) } else { *beat >= fresh })
            .map(|(pid, hostname, heartbeat_at)| LiveInstance { pid, hostname, heartbeat_at })
            .collect())
    }
}

/// The newest schema version this build knows.
pub fn latest_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or_default()
}

/// The file behind a `sqlite:` URL.
pub fn database_file(url: &str) -> Option<PathBuf> {
    if super::is_postgres_url(url) {
        return None;
    }
    let options = SqliteConnectOptions::from_str(url).ok()?;
    let file = options.get_filename();
    (file != Path::new(":memory:")).then(|| file.to_path_buf())
}

/// Reads a backup (or any Tidings database file) without changing it: its integrity, schema
/// version and what it holds.
pub async fn inspect(path: &Path) -> Result<BackupReport> {
    let bytes = std::fs::metadata(path).map_err(|e| StoreError::Corrupt(format!("cannot read {}: {e}", path.display())))?.len();
    let mut conn = SqliteConnectOptions::new().filename(path).read_only(true).connect().await.map_err(|source| StoreError::Open { url: path.display().to_string(), source })?;
    let c = &mut Conn::Sqlite(&mut conn);
    let integrity: Vec<String> = q!(scalar_all, c, "PRAGMA integrity_check")?;
    let integrity = integrity.join("; ");
    let is_ours: Option<String> = q!(scalar_opt, c, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")?;
    if is_ours.is_none() {
        return Err(StoreError::Corrupt(format!("{} is not a Tidings database (it has no schema history)", path.display())));
    }
    let schema_version: i64 = q!(scalar, c, "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")?;
    let mut count = async |sql: &str| -> Result<i64> { Ok(q!(scalar, c, sql)?) };
    Ok(BackupReport {
        path: path.to_path_buf(),
        bytes,
        schema_version,
        lists: count("SELECT COUNT(*) FROM lists").await?,
        subscribers: count("SELECT COUNT(*) FROM subscribers").await?,
        issues: count("SELECT COUNT(*) FROM issues").await?,
        deliveries: count("SELECT COUNT(*) FROM deliveries").await?,
        deliveries_sent: count("SELECT COUNT(*) FROM deliveries WHERE state = 'sent'").await?,
        suppressions: count("SELECT COUNT(*) FROM suppressions").await?,
        events: count("SELECT COUNT(*) FROM events").await?,
        integrity,
    })
}
