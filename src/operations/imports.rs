//! A CSV import as a background job: the upload is already on disk (never held whole in memory);
//! the job reads it in the background, reports bytes read every second, and keeps the per-row
//! report when it ends.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::OpError;
use crate::app::App;
use crate::audience;
use crate::store::{Actor, ImportTotals, List, NewEvent};

/// Starts importing `file` (removed when the job ends) into `list`; returns the job id.
pub async fn start(app: Arc<App>, list: List, confirmed: bool, file: tempfile::TempPath, actor: Actor) -> Result<i64, OpError> {
    let path: PathBuf = file.to_path_buf();
    let size = std::fs::metadata(&path).map_err(|e| OpError::Failed(format!("the upload cannot be read back: {e}")))?.len();
    let checked = path.clone();
    tokio::task::spawn_blocking(move || audience::check_utf8(&checked)).await.map_err(|e| OpError::Failed(e.to_string()))?.map_err(|e| OpError::invalid("body", e))?;
    let owner = format!("{}:{}", crate::delivery::engine::this_hostname(), std::process::id());
    let id = app.store.start_import_job(list.id, confirmed, size, &actor, &owner).await?;
    tokio::spawn(async move {
        // A successful run records its own report; a failure is recorded here.
        if let Err(error) = run(&app, &list, confirmed, &path, id, &actor).await {
            tracing::warn!(job = id, list = %list.slug, %error, "import failed");
            if let Err(e) = app.store.finish_import_job(id, Err(error)).await {
                tracing::error!(job = id, error = %e, "cannot record the end of an import");
            }
        }
        drop(file);
    });
    Ok(id)
}

async fn run(app: &App, list: &List, confirmed: bool, path: &std::path::Path, id: i64, actor: &Actor) -> Result<(), String> {
    let read = Arc::new(AtomicU64::new(0));
    let file = std::fs::File::open(path).map_err(|e| format!("the upload cannot be read back: {e}"))?;
    let source = Counting { inner: std::io::BufReader::with_capacity(1 << 16, file), read: read.clone() };
    let ticker = {
        let (store, read) = (app.store.clone(), read.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = store.import_progress(id, read.load(Ordering::Relaxed)).await;
            }
        })
    };
    let report = audience::import_csv(&app.store, source, list.id, confirmed, |_| {}).await;
    ticker.abort();
    let report = report.map_err(|e| e.to_string())?;
    let problems = serde_json::to_value(&report.problems).unwrap_or_default();
    let totals = ImportTotals { rows: report.rows, imported: report.imported, updated: report.updated, skipped: report.skipped, problems: &problems };
    app.store.finish_import_job(id, Ok(totals)).await.map_err(|e| e.to_string())?;
    let detail = serde_json::json!({"job": id, "rows": report.rows, "imported": report.imported, "updated": report.updated, "skipped": report.skipped});
    let event = NewEvent { kind: "import.finished", actor, subscriber_id: None, list_id: Some(list.id), issue_id: None, detail };
    app.store.record_event(event).await.map_err(|e| e.to_string())?;
    // Whoever watched the import finish looks at the counts next.
    app.store.refresh_list_stats().await.map_err(|e| e.to_string())
}

struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
