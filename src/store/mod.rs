//! Every SQL statement Tidings runs lives below this module, one file per table group.
//!
//! The rest of the code calls typed functions on [`Store`] and never sees SQL, nor which database
//! is open: SQLite (the embedded default) or PostgreSQL (several instances sharing one database).
//! Each table group's file here holds its row types and its logic, written once; statements that
//! read the same on both databases are written there, and those that must differ (locks, time
//! arithmetic, JSON, bulk paths) live in `sqlite/` and `postgres/` under the same names, picked by
//! [`conn::q!`] for the backend the store opened.

pub mod backup;
mod bounces;
pub(crate) mod conn;
pub(crate) mod postgres;
pub(crate) mod sqlite;
mod charts;
mod copy;
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
pub mod migrations;
mod retention;
mod scrub;
mod settings;
mod staff;
mod staff_views;
mod subscribers;
mod suppressions;
mod websub;

use chrono::{DateTime, SubsecRound, Utc};

use crate::domain::{EmailAddress, ListSlug};
pub use conn::Job;
use conn::{Pooled, Tx, q};

pub use bounces::{BouncePolicy, Decision, NewBounce};
pub use charts::{CurveMinute, GrowthDay, SendRate};
pub use copy::TableCopy;
pub use retention::{IssueSummary, Prunable};
pub use websub::{HubPush, HubRequest};
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

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {}: {source}", describe_url(url))]
    Open { url: String, source: sqlx::Error },
    #[error("{0}")]
    Schema(String),
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// Text with a NUL character, which PostgreSQL cannot store.
    #[error("the text contains a NUL character, which cannot be stored")]
    BadText,
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
    #[error("{0}")]
    Unsupported(String),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Errors that are the caller's input, not the database's fault.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Self::BadText | Self::UnknownList(_) | Self::ListExists(_) | Self::UnknownIssue(_) | Self::IssueLocked { .. } | Self::IssueState { .. } | Self::UnknownSubscriber(_) | Self::Suppressed { .. } | Self::StaffExists(_) | Self::UnknownStaff(_) | Self::LastOwner(_) | Self::TokenExists(_) | Self::UnknownToken(_) | Self::UnknownImport(_)
        )
    }
}

impl StoreError {
    /// The database cannot be reached for now (restarting, cut off, out of connections): worth
    /// waiting for, not a reason to stop.
    pub fn is_unavailable(&self) -> bool {
        let Self::Database(e) = self else { return false };
        match e {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => true,
            // Connection exceptions (08), the server shutting down or starting (57P0x), too many
            // connections (53300), a lock held by a frozen instance (55P03, lock_timeout).
            // A statement cancelled by statement_timeout (57014) is worth another try too.
            sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "57014" || c == "53300" || c == "55P03"),
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The handle to the database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

/// The database the store opened, chosen by the scheme of `database.url`.
#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
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
        let backend = if is_postgres_url(url) {
            Backend::Postgres(postgres::Postgres::open(url, max_connections).await?)
        } else {
            Backend::Sqlite(sqlite::Sqlite::open(url, max_connections, create).await?)
        };
        let store = Self { backend };
        store.ensure_suppression_key().await?;
        store.scrub_stored_addresses().await?;
        Ok(store)
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Schema versions applied, newest last.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>> {
        let mut c = self.read().await?;
        Ok(q!(scalar_all, &mut c, "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")?)
    }

    /// A connection for reads.
    pub(crate) async fn read(&self) -> Result<Pooled> {
        Ok(match &self.backend {
            Backend::Sqlite(db) => Pooled::Sqlite(db.pool.acquire().await?),
            Backend::Postgres(db) => Pooled::Postgres(db.pool.acquire().await?),
        })
    }

    /// A write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`), so two
    /// writers wait their turn instead of failing with SQLITE_BUSY when a read turns into a write.
    pub(crate) async fn write(&self) -> Result<Tx> {
        Ok(match &self.backend {
            Backend::Sqlite(db) => Tx::Sqlite(db.write().await?),
            Backend::Postgres(db) => Tx::Postgres(db.pool.begin().await?),
        })
    }

    /// On SQLite, copies the write-ahead log into the main file and empties it, so old page
    /// images (say, of an erased person) do not linger in the log. PostgreSQL's own vacuum and
    /// WAL recycling do that job there.
    async fn checkpoint(&self) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(db) => db.checkpoint().await,
            Backend::Postgres(_) => Ok(()),
        }
    }

    /// Runs a script of statements as they are (tests build fixtures with it).
    #[cfg(test)]
    pub(crate) async fn execute_script(&self, sql: &str) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(db) => drop(sqlx::raw_sql(sql).execute(&db.pool).await?),
            Backend::Postgres(db) => drop(sqlx::raw_sql(sql).execute(&db.pool).await?),
        }
        Ok(())
    }

    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(db) => db.pool.close().await,
            Backend::Postgres(db) => db.pool.close().await,
        }
    }
}

/// PostgreSQL's claim statement, for the test that reads its plan.
pub fn postgres_claim_statement() -> &'static str {
    postgres::deliveries::CLAIM
}

/// This instance's turn at a job one instance at a time may do (see [`Store::elect`]); the turn
/// ends when it is dropped.
pub struct Election {
    _turn: Option<Tx>,
}

impl Store {
    /// Whether this instance is the one to do `job` now: on PostgreSQL, the first to take the
    /// job's advisory lock, held until the returned turn is dropped (or the server ends an idle
    /// session); on SQLite, always (one host, and the work is idempotent).
    pub async fn elect(&self, job: Job) -> Result<Option<Election>> {
        if !self.is_postgres() {
            return Ok(Some(Election { _turn: None }));
        }
        let mut tx = self.write().await?;
        Ok(conn::elect(&mut tx, job).await?.then_some(Election { _turn: Some(tx) }))
    }
}

/// Whether `url` names a PostgreSQL database (anything else is a SQLite file).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` as it may be shown: a PostgreSQL URL without its password, as "database D on host H".
pub fn describe_url(url: &str) -> String {
    if is_postgres_url(url) { postgres::describe(url) } else { url.to_string() }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        // PostgreSQL refuses U+0000 in text (22021) and in JSON (22P05); SQLite would store it.
        match &e {
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("22021" | "22P05")) => Self::BadText,
            _ => Self::Database(e),
        }
    }
}

/// Text from outside (relays' replies, bounce reports) as it is stored: without NUL characters,
/// which PostgreSQL cannot hold and no reader needs.
pub(crate) fn storable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') { std::borrow::Cow::Owned(text.replace('\0', "")) } else { std::borrow::Cow::Borrowed(text) }
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
