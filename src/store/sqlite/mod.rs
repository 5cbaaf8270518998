//! The SQLite backend: one file, one writer at a time. Opening it, its write transactions, and
//! the statements that are SQLite's own (one file per table group, the names the shared code in
//! `store/` asks for).

pub mod charts;
pub mod confirmations;
pub mod deliveries;
pub mod events;
pub mod export;
pub mod import;
pub mod import_jobs;
pub mod instances;
pub mod issues;
pub mod retention;
pub mod subscribers;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, SqlitePool, Transaction};

use crate::store::{Result, StoreError};

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Clone)]
pub(crate) struct Sqlite {
    pub pool: SqlitePool,
    /// SQLite allows one writer at a time; waiting here, in turn, instead of in SQLite's busy
    /// handler (which sleeps and retries) keeps write latency flat under load.
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction that holds this process's writer turn until it commits or drops.
pub(crate) struct WriteTx {
    tx: Transaction<'static, sqlx::Sqlite>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl Sqlite {
    /// Opens the file (creating it when `create`) and brings its schema up to date.
    pub async fn open(url: &str, max_connections: u32, create: bool) -> Result<Self> {
        let open_err = |source| StoreError::Open { url: url.to_string(), source };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_err)?
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // A 64 MiB page cache and in-memory temp tables for imports.
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            // Deleted and rewritten rows are zeroed in the pages being written anyway, so erasing a
            // person really erases them ("fast": without the extra I/O of "on", 12% of an import).
            .pragma("secure_delete", "fast")
            // Checkpoint every 64 MiB of log rather than 4 MiB: bulk writes copy hot index pages
            // into the main file far less often. The limit trims the log file back afterwards.
            .pragma("wal_autocheckpoint", "16384")
            .pragma("journal_size_limit", "67108864")
            // Space freed by pruning goes back to the file system in steps (a new database; an
            // older one is converted once by `tidings init`).
            .auto_vacuum(sqlx::sqlite::SqliteAutoVacuum::Incremental)
            // Snapshotting a million-person audience takes seconds by design: not a warning.
            .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
        let pool = SqlitePoolOptions::new().max_connections(max_connections.max(1)).connect_with(options).await.map_err(open_err)?;
        crate::store::migrations::check_not_newer(crate::store::conn::Conn::Sqlite(&mut *pool.acquire().await?), &MIGRATOR).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool, writer: Arc::new(tokio::sync::Mutex::new(())) })
    }

    pub async fn write(&self) -> Result<WriteTx> {
        let turn = self.writer.clone().lock_owned().await;
        Ok(WriteTx { tx: self.pool.begin_with("BEGIN IMMEDIATE").await?, _turn: turn })
    }

    /// Best effort while readers are active.
    pub async fn checkpoint(&self) -> Result<()> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await?;
        Ok(())
    }
}

/// Whether the file gives freed pages back in steps (`auto_vacuum = INCREMENTAL`).
pub async fn incremental_vacuum_on(conn: &mut sqlx::SqliteConnection) -> Result<bool> {
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum").fetch_one(conn).await?;
    Ok(mode == 2)
}
