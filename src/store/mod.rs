//! Every SQL statement Tidings runs lives below this module, one file per table group.
//!
//! The rest of the code calls typed functions on [`Store`] and never sees SQL. Statements are
//! written to run on PostgreSQL too where that costs nothing (`$n` placeholders, `ON CONFLICT`,
//! `RETURNING`); what is SQLite-only (`json_each`, `json_patch`, pragmas) is marked so a
//! PostgreSQL backend knows what to replace.

pub mod backup;
mod bounces;
mod charts;
mod confirmations;
mod consent;
mod deliveries;
mod events;
mod export;
mod import;
mod import_jobs;
mod instances;
mod issues;
mod lists;
mod scrub;
mod staff;
mod staff_views;
mod subscribers;
mod suppressions;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::domain::{EmailAddress, ListSlug};

pub use bounces::{BouncePolicy, Decision, NewBounce};
pub use charts::{CurveMinute, GrowthDay, SendRate};
pub use confirmations::PendingConfirmation;
pub use consent::{ConfirmOutcome, ListChoice};
pub use deliveries::{Claimed, DeliveryCounts, Outcome};
pub use instances::HEARTBEAT_TIMEOUT_SECS;
pub use events::{Actor, EventRecord, NewEvent};
pub use export::{ExportFilter, ExportRow};
pub use issues::{Issue, IssueSaved, NewIssue};
pub use import_jobs::{ImportJob, ImportTotals};
pub use import::{ImportBatchOutcome, ImportRow, RowOutcome, SkippedRow};
pub use lists::{List, ListCounts, NewList};
pub use staff_views::{BounceLogEntry, SubscriberQuery, SubscriberRow};
pub use staff::{RoleColumn, Session, StaffIdentity, StaffMember, TokenRecord};
pub use subscribers::{
    AddOutcome, BounceRecord, DeliveryRecord, NewSubscription, SubscriberDetail, SubscriptionRecord, UnsubscribeOutcome,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("no list with slug {0:?}")]
    UnknownList(String),
    #[error("a list with slug {0:?} already exists")]
    ListExists(String),
    #[error("no subscriber with address {0}")]
    UnknownSubscriber(String),
    #[error("{address} is suppressed ({reason}) and is never mailed again")]
    Suppressed { address: String, reason: String },
    #[error("no issue with slug {0:?}")]
    UnknownIssue(String),
    #[error("issue {slug:?} is {status}: its content can no longer change")]
    IssueLocked { slug: String, status: String },
    #[error("issue {slug:?} is {status}, so it cannot become {wanted}")]
    IssueState { slug: String, status: String, wanted: String },
    #[error("a staff account for {0} already exists")]
    StaffExists(String),
    #[error("no staff account for {0}")]
    UnknownStaff(String),
    #[error("{0} is the last owner: make another staff member owner first")]
    LastOwner(String),
    #[error("a live token named {0:?} already exists")]
    TokenExists(String),
    #[error("no live token named {0:?}")]
    UnknownToken(String),
    #[error("no import job {0}")]
    UnknownImport(i64),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Errors that are the caller's input, not the database's fault.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::UnknownList(_) | Self::ListExists(_) | Self::UnknownIssue(_) | Self::IssueLocked { .. } | Self::IssueState { .. } | Self::UnknownSubscriber(_) | Self::Suppressed { .. } | Self::StaffExists(_) | Self::UnknownStaff(_) | Self::LastOwner(_) | Self::TokenExists(_) | Self::UnknownToken(_) | Self::UnknownImport(_)
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The handle to the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// SQLite allows one writer at a time; waiting here, in turn, instead of in SQLite's busy
    /// handler (which sleeps and retries) keeps write latency flat under load.
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction that holds this process's writer turn until it commits or drops.
pub(crate) struct WriteTx {
    tx: Transaction<'static, Sqlite>,
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

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        Self::open_with(url, max_connections, true).await
    }

    /// Opens the database at `url` only if it exists: for verbs that must not make an empty one
    /// where an operator mistyped the path (a backup of nothing would look like success).
    pub async fn open_existing(url: &str, max_connections: u32) -> Result<Self> {
        Self::open_with(url, max_connections, false).await
    }

    async fn open_with(url: &str, max_connections: u32, create: bool) -> Result<Self> {
        let open_err = |source| StoreError::Open { url: url.to_string(), source };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_err)?
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // SQLite-only tuning: a 64 MiB page cache and in-memory temp tables for imports.
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            // Deleted and rewritten rows are zeroed in the pages being written anyway, so erasing a
            // person really erases them ("fast": without the extra I/O of "on", 12% of an import).
            .pragma("secure_delete", "fast")
            // Checkpoint every 64 MiB of log rather than 4 MiB: bulk writes copy hot index pages
            // into the main file far less often. The limit trims the log file back afterwards.
            .pragma("wal_autocheckpoint", "16384")
            .pragma("journal_size_limit", "67108864")
            // Snapshotting a million-person audience takes seconds by design: not a warning.
            .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options)
            .await
            .map_err(open_err)?;
        MIGRATOR.run(&pool).await?;
        let store = Self { pool, writer: Arc::new(tokio::sync::Mutex::new(())) };
        store.ensure_suppression_key().await?;
        store.scrub_stored_addresses().await?;
        Ok(store)
    }

    /// Schema versions applied, newest last.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&self.pool)
            .await?)
    }

    /// A write transaction that takes the write lock up front (`BEGIN IMMEDIATE`), so two writers
    /// wait on `busy_timeout` instead of failing with SQLITE_BUSY when a read turns into a write.
    async fn write(&self) -> Result<WriteTx> {
        let turn = self.writer.clone().lock_owned().await;
        Ok(WriteTx { tx: self.pool.begin_with("BEGIN IMMEDIATE").await?, _turn: turn })
    }

    /// Copies the write-ahead log into the main file and empties it, so old page images (say,
    /// of an erased person) do not linger in the log. Best effort while readers are active.
    async fn checkpoint(&self) -> Result<()> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The current time as stored: UTC, whole microseconds (PostgreSQL's precision).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn unknown_list(slug: &ListSlug) -> StoreError {
    StoreError::UnknownList(slug.to_string())
}

fn unknown_subscriber(email: &EmailAddress) -> StoreError {
    StoreError::UnknownSubscriber(email.to_string())
}
