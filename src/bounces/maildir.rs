//! `serve` polls `bounce.maildir`: each message in `new/` is ingested, then moved to `cur/`.
//! A crash between the two only means the message is read again, and its bounces are recorded
//! once: they carry the file's name as their event id.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::ingest::{IngestError, ingest};
use crate::app::App;
use crate::store::Job;

const POLL: Duration = Duration::from_secs(5);
const MAX_MESSAGE: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
#[error("bounce.maildir {dir}: {source}")]
pub struct MaildirError {
    dir: String,
    source: std::io::Error,
}

pub async fn poll_maildir(app: Arc<App>, mut stop: watch::Receiver<bool>) -> Result<(), MaildirError> {
    if app.config.bounce.maildir.is_empty() {
        return Ok(());
    }
    let root = PathBuf::from(&app.config.bounce.maildir);
    for sub in ["new", "cur", "tmp"] {
        tokio::fs::create_dir_all(root.join(sub)).await.map_err(|source| MaildirError { dir: root.display().to_string(), source })?;
    }
    tracing::info!(maildir = %root.display(), "polling for bounces");
    loop {
        // Instances sharing a database (and a Maildir on a shared disk) take turns.
        match app.store.elect(Job::Maildir).await {
            Ok(Some(_turn)) => {
                if let Err(e) = sweep(&app, &root).await {
                    tracing::error!(error = %e, "reading the bounce maildir");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot take a turn at the bounce maildir"),
        }
        if tokio::time::timeout(POLL, stop.changed()).await.is_ok() {
            return Ok(());
        }
    }
}

/// Ingests everything in `new/`; returns how many messages were moved on.
pub async fn sweep(app: &App, root: &Path) -> Result<usize, MaildirError> {
    let fail = |source| MaildirError { dir: root.display().to_string(), source };
    let mut names: Vec<String> = Vec::new();
    let mut entries = tokio::fs::read_dir(root.join("new")).await.map_err(fail)?;
    while let Some(entry) = entries.next_entry().await.map_err(fail)? {
        if let Some(name) = entry.file_name().to_str().filter(|n| !n.starts_with('.')) {
            names.push(name.to_string());
        }
    }
    names.sort();
    let mut moved = 0;
    for name in names {
        let path = root.join("new").join(&name);
        let raw = match read_capped(&path).await {
            Ok(raw) => raw,
            Err(e) => {
                tracing::warn!(file = %name, error = %e, "cannot read a bounce message");
                continue;
            }
        };
        let flags = match ingest(app, &raw, Some(&format!("maildir:{name}"))).await {
            Ok(report) => {
                tracing::info!(file = %name, kind = ?report.kind, decisions = ?report.decisions, "bounce message recorded");
                "S"
            }
            Err(IngestError::Unreadable(e)) => {
                tracing::warn!(file = %name, error = %e, "not a message; moved aside");
                "T"
            }
            // The database is unavailable: leave the message in new/ for the next sweep.
            Err(IngestError::Store(e)) => {
                tracing::error!(file = %name, error = %e, "cannot record a bounce; will retry");
                continue;
            }
        };
        tokio::fs::rename(&path, root.join("cur").join(format!("{name}:2,{flags}"))).await.map_err(fail)?;
        moved += 1;
    }
    Ok(moved)
}

async fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut raw = Vec::new();
    tokio::fs::File::open(path).await?.take(MAX_MESSAGE).read_to_end(&mut raw).await?;
    Ok(raw)
}
