//! One statement, two databases: the connection types the store's shared code runs on, and the
//! [`q!`] macro that runs a statement on whichever backend the store opened.
//!
//! The store's logic (what to read, what to decide, what to write) is written once; the SQL text
//! is either portable (a literal, valid on SQLite and PostgreSQL alike) or each backend's own, a
//! constant of the same name in `store::sqlite::<group>` and `store::postgres::<group>`, written
//! `[group::NAME]`. Nothing above `store/` sees either.

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, SqliteConnection};

/// A connection of either backend, borrowed for one or more statements.
pub(crate) enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}


/// Anything a statement can run on: a transaction, a pooled connection, or a borrowed one.
pub(crate) trait AsConn {
    fn conn(&mut self) -> Conn<'_>;
}

impl AsConn for Conn<'_> {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Conn::Sqlite(c) => Conn::Sqlite(c),
            Conn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// A connection taken from the pool for reads.
pub(crate) enum Pooled {
    Sqlite(PoolConnection<sqlx::Sqlite>),
    Postgres(PoolConnection<sqlx::Postgres>),
}

impl AsConn for Pooled {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Pooled::Sqlite(c) => Conn::Sqlite(c),
            Pooled::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// A write transaction. On SQLite it also holds this process's writer turn (see
/// `sqlite::WriteTx`); on PostgreSQL it is a plain transaction, and whatever relied on SQLite's
/// single writer takes row or advisory locks inside it.
pub(crate) enum Tx {
    Sqlite(super::sqlite::WriteTx),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub async fn commit(self) -> super::Result<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => Ok(tx.commit().await?),
        }
    }
}

impl AsConn for Tx {
    fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(tx) => Conn::Sqlite(tx),
            Tx::Postgres(tx) => Conn::Postgres(tx),
        }
    }
}

/// Runs one statement on a connection of either backend.
///
/// `q!(MODE, CONN, SQL, BIND...)` where MODE is `exec` (rows affected), `one`/`opt`/`all` (rows
/// as the annotated type), or `scalar`/`scalar_opt`/`scalar_all` (one column); CONN is anything
/// [`AsConn`] (`&mut tx`); SQL is a portable literal or `&str`/`String` variable, or
/// `[group::NAME]` for a statement each backend writes its own way.
macro_rules! q {
    ($mode:ident, $c:expr, $sql:tt $(, $b:expr)* $(,)?) => {
        match $crate::store::conn::AsConn::conn($c) {
            $crate::store::conn::Conn::Sqlite(c) => $crate::store::conn::q!(@run $mode, c, $crate::store::conn::q!(@sql sqlite $sql) $(, $b)*),
            $crate::store::conn::Conn::Postgres(c) => $crate::store::conn::q!(@run $mode, c, $crate::store::conn::q!(@sql postgres $sql) $(, $b)*),
        }
    };
    (@sql sqlite [$($path:tt)+]) => { $crate::store::sqlite::$($path)+ };
    (@sql postgres [$($path:tt)+]) => { $crate::store::postgres::$($path)+ };
    (@sql $backend:ident $sql:tt) => { $sql };
    (@run exec, $c:ident, $sql:expr $(, $b:expr)*) => {
        sqlx::query(::core::convert::AsRef::<str>::as_ref(&$sql))$(.bind($b))*.execute(&mut *$c).await.map(|r| r.rows_affected())
    };
    (@run one, $c:ident, $sql:expr $(, $b:expr)*) => {
        sqlx::query_as(::core::convert::AsRef::<str>::as_ref(&$sql))$(.bind($b))*.fetch_one(&mut *$c).await
    };
    (@run opt, $c:ident, $sql:expr $(, $b:expr)*) => {
        sqlx::query_as(::core::convert::AsRef::<str>::as_ref(&$sql))$(.bind($b))*.fetch_optional(&mut *$c).await
    };
    (@run all, $c:ident, $sql:expr $(, $b:expr)*) => {
        sqlx::query_as(::core::convert::AsRef::<str>::as_ref(&$sql))$(.bind($b))*.fetch_all(&mut *$c).await
    };
    (@run scalar, $c:ident, $sql:expr $(, $b:expr)*) => {
        sqlx::query_scalar(::core::convert::AsRef::<str>::as_ref(&$sql))$(.bind($b))*.fetch_one(&mut *$c).await
    };
    (@run scalar_opt, $c:ident, $sql:expr $(, $b:expr)*) => {
        sqlx::query_scalar(::core::convert::AsRef::<str>::as_ref(&$sql))$(.bind($b))*.fetch_optional(&mut *$c).await
    };
    (@run scalar_all, $c:ident, $sql:expr $(, $b:expr)*) => {
        sqlx::query_scalar(::core::convert::AsRef::<str>::as_ref(&$sql))$(.bind($b))*.fetch_all(&mut *$c).await
    };
}

pub(crate) use q;

/// Work that one instance at a time may do, each with its own PostgreSQL advisory lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Making the installation's suppression key (instances starting together).
    SuppressionKey,
    /// The secret key made when the configuration sets none.
    SecretKey,
    /// Queueing scheduled issues that are due.
    Scheduler,
    /// Recounting the lists' subscriber summaries.
    ListStats,
    /// Marking import jobs whose process died as failed.
    InterruptedImports,
    /// Reading the bounce Maildir.
    Maildir,
    /// Staff accounts: the last owner must stay.
    Staff,
    /// Pruning old delivery rows and events.
    Retention,
}

impl Job {
    /// The advisory lock's key: "tid" in the high bytes keeps clear of other applications' keys.
    fn key(self) -> i64 {
        0x7469_6400_0000_0000 | self as i64
    }
}

/// Holds `job`'s lock until the transaction ends, waiting for it. SQLite's one writer already
/// serialises every write transaction.
pub(crate) async fn serialise(c: &mut impl AsConn, job: Job) -> super::Result<()> {
    if let Conn::Postgres(c) = c.conn() {
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(job.key()).execute(&mut *c).await?;
    }
    Ok(())
}

/// Takes `job`'s lock until the transaction ends if no other instance holds it: whether this
/// instance is the one to do the job now.
pub(crate) async fn elect(c: &mut impl AsConn, job: Job) -> super::Result<bool> {
    Ok(match c.conn() {
        Conn::Postgres(c) => sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)").bind(job.key()).fetch_one(&mut *c).await?,
        Conn::Sqlite(_) => true,
    })
}

/// A time this long from now, as a statement parameter: on SQLite the host's clock plus the
/// delay (one host, one clock), on PostgreSQL an interval the statement adds to the database's
/// `now()` (`now() + $n`), so instances on hosts whose clocks disagree still agree on leases and
/// due times.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Later(pub chrono::Duration);

impl sqlx::Type<sqlx::Sqlite> for Later {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <chrono::DateTime<chrono::Utc> as sqlx::Type<sqlx::Sqlite>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Sqlite> for Later {
    fn encode_by_ref(&self, buf: &mut Vec<sqlx::sqlite::SqliteArgumentValue<'q>>) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <chrono::DateTime<chrono::Utc> as sqlx::Encode<'q, sqlx::Sqlite>>::encode(super::now() + self.0, buf)
    }
}

impl sqlx::Type<sqlx::Postgres> for Later {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <sqlx::postgres::types::PgInterval as sqlx::Type<sqlx::Postgres>>::type_info()
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for Later {
    fn encode_by_ref(&self, buf: &mut sqlx::postgres::PgArgumentBuffer) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        let interval = sqlx::postgres::types::PgInterval::try_from(self.0)?;
        <sqlx::postgres::types::PgInterval as sqlx::Encode<'_, sqlx::Postgres>>::encode(interval, buf)
    }
}
