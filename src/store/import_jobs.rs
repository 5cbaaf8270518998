//! Background imports started from the API or the admin pages: progress and the per-row report.

use chrono::{DateTime, Duration, Utc};

use super::events::Actor;
use super::conn::{Later, q};
use super::{Result, Store, StoreError};

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ImportJob {
    pub id: i64,
    pub list: String,
    /// running, done or failed
    pub state: String,
    pub bytes_total: i64,
    pub bytes_read: i64,
    pub rows: i64,
    pub imported: i64,
    pub updated: i64,
    pub skipped: i64,
    /// Rejected rows, `[{"line", "reason"}]`, the first 10,000.
    #[schema(value_type = Vec<Object>)]
    pub problems: sqlx::types::Json<serde_json::Value>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A running import that has reported no progress for this long has lost its process.
pub const IMPORT_SILENCE_SECS: i64 = 90;

/// The numbers of a finished import.
pub struct ImportTotals<'a> {
    pub rows: u64,
    pub imported: u64,
    pub updated: u64,
    pub skipped: u64,
    pub problems: &'a serde_json::Value,
}

impl Store {
    /// A job run by this process (`owner`, host:pid).
    pub async fn start_import_job(&self, list_id: i64, confirmed: bool, bytes_total: u64, actor: &Actor, owner: &str) -> Result<i64> {
        let mut tx = self.write().await?;
        let id: i64 = q!(scalar, &mut tx, "INSERT INTO import_jobs (list_id, actor, confirmed, state, bytes_total, started_at, owner, progress_at) VALUES ($1, $2, $3, 'running', $4, $5, $6, $5) RETURNING id", list_id, &actor.0, confirmed, bytes_total as i64, super::now(), owner)?;
        tx.commit().await?;
        Ok(id)
    }

    pub async fn import_progress(&self, id: i64, bytes_read: u64) -> Result<()> {
        let mut tx = self.write().await?;
        q!(exec, &mut tx, "UPDATE import_jobs SET bytes_read = $1, progress_at = $3 WHERE id = $2 AND state = 'running'", bytes_read as i64, id, super::now())?;
        tx.commit().await
    }

    pub async fn finish_import_job(&self, id: i64, outcome: std::result::Result<ImportTotals<'_>, String>) -> Result<()> {
        let mut tx = self.write().await?;
        let now = super::now();
        match outcome {
            Ok(t) => {
                q!(exec, &mut tx, "UPDATE import_jobs SET state = 'done', bytes_read = bytes_total, rows = $1, imported = $2, updated = $3, skipped = $4, problems = $5, finished_at = $6 WHERE id = $7", t.rows as i64, t.imported as i64, t.updated as i64, t.skipped as i64, sqlx::types::Json(t.problems), now, id)?;
            }
            Err(error) => {
                q!(exec, &mut tx, "UPDATE import_jobs SET state = 'failed', error = $1, finished_at = $2 WHERE id = $3", error, now, id)?;
            }
        }
        tx.commit().await
    }

    pub async fn import_job(&self, id: i64) -> Result<ImportJob> {
        q!(opt, &mut self.read().await?, "SELECT j.id, l.slug AS list, j.state, j.bytes_total, j.bytes_read, j.rows, j.imported, j.updated, j.skipped, j.problems, j.error, j.started_at, j.finished_at
             FROM import_jobs j JOIN lists l ON l.id = j.list_id WHERE j.id = $1", id)?
        .ok_or(StoreError::UnknownImport(id))
    }

    /// Jobs whose process died can never finish: those run by a process of this host that is gone
    /// (`alive` tells), and those of any host that have reported no progress for
    /// [`IMPORT_SILENCE_SECS`] (a job reports every second). One instance at a time does it.
    pub async fn fail_interrupted_imports(&self, hostname: &str, alive: impl Fn(u32) -> bool) -> Result<u64> {
        let Some(_turn) = self.elect(super::Job::InterruptedImports).await? else { return Ok(0) };
        let running: Vec<(i64, Option<String>, bool)> = q!(all, &mut self.read().await?, [import_jobs::RUNNING], Later(-Duration::seconds(IMPORT_SILENCE_SECS)))?;
        let gone = |owner: &Option<String>| {
            let Some((host, pid)) = owner.as_deref().and_then(|o| o.rsplit_once(':')) else { return true };
            host == hostname && pid.parse().is_ok_and(|pid| !alive(pid))
        };
        let mut failed = 0;
        let mut tx = self.write().await?;
        for (id, owner, silent) in running {
            if silent || gone(&owner) {
                failed += q!(exec, &mut tx, "UPDATE import_jobs SET state = 'failed', error = 'interrupted: the server stopped during the import; rows before the stop are kept', finished_at = $1 WHERE id = $2 AND state = 'running'", super::now(), id)?;
            }
        }
        tx.commit().await?;
        Ok(failed)
    }
}
