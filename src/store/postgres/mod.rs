//! The PostgreSQL backend: one database shared by any number of instances on any number of hosts.
//! Opening it, and the statements that are PostgreSQL's own (one file per table group, the names
//! the shared code in `store/` asks for).
//!
//! What SQLite got from having one writer, PostgreSQL gets from locks taken in the statements
//! themselves: `FOR UPDATE SKIP LOCKED` claims, row locks on the row a decision reads, advisory
//! locks to elect the one instance that does a periodic job. Every time that decides a lease, a
//! heartbeat or a due time is the database's `now()`, never a host's clock.

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
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use crate::store::{Result, StoreError};

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone)]
pub(crate) struct Postgres {
    pub pool: PgPool,
}

impl Postgres {
    /// Connects and brings the schema up to date. Several instances starting together migrate
    /// once: sqlx holds an advisory lock while it migrates.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        let open_err = |source| StoreError::Open { url: url.to_string(), source };
        let options = PgConnectOptions::from_str(url)
            .map_err(open_err)?
            .application_name("tidings")
            // A process frozen inside a transaction (stopped, or cut off) must not hold its row
            // locks for ever: the server ends such a session, and its work is rolled back. JIT
            // compiling costs more than it saves on statements of milliseconds.
            .options([("idle_in_transaction_session_timeout", "60s"), ("lock_timeout", "30s"), ("jit", "off")])
            .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
        // One connection first: its error says what is wrong (refused, unknown host, password),
        // where the pool's would only say that it timed out.
        sqlx::Connection::close(options.connect().await.map_err(open_err)?).await.map_err(open_err)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(open_err)?;
        crate::store::migrations::check_not_newer(crate::store::conn::Conn::Postgres(&mut *pool.acquire().await?), &MIGRATOR).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }
}

/// A PostgreSQL URL without its password: `database "D" on H:P as user "U"`.
pub fn describe(url: &str) -> String {
    match PgConnectOptions::from_str(url) {
        Ok(o) => format!("PostgreSQL database {:?} on {}:{} as user {:?}", o.get_database().unwrap_or("(default)"), o.get_host(), o.get_port(), o.get_username()),
        Err(_) => "(a PostgreSQL URL that does not parse)".to_string(),
    }
}
