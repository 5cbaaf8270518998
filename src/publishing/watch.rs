//! `serve`'s watcher on `content.issues_dir`: a new or changed `.md` file is added as an issue (and
//! scheduled when its front matter says `send_at`). A file whose exact content was added before
//! is left alone, so a restart does not reset an issue staff have since scheduled or edited.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};

use super::add::{add_issue_text, source_digest};
use crate::app::App;
use crate::store::Actor;

/// Editors save in bursts (write, rename, chmod): act once the folder has been quiet this long.
const QUIET: Duration = Duration::from_millis(300);

#[derive(Debug, thiserror::Error)]
#[error("cannot watch {dir}: {source}")]
pub struct WatchError {
    dir: String,
    source: notify::Error,
}

/// Runs until `stop` turns true. Problems with one file are logged and do not stop the watcher.
pub async fn watch_issues(app: Arc<App>, mut stop: watch::Receiver<bool>) -> Result<(), WatchError> {
    let dir = app.config.content.issues_dir.clone();
    if !dir.is_dir() {
        tracing::warn!(dir = %dir.display(), "content.issues_dir does not exist; not watching for issues");
        return Ok(());
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            for path in event.paths.into_iter().filter(|p| is_issue_file(p)) {
                let _ = tx.send(path);
            }
        }
    })
    .map_err(|source| WatchError { dir: dir.display().to_string(), source })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive).map_err(|source| WatchError { dir: dir.display().to_string(), source })?;
    tracing::info!(dir = %dir.display(), "watching for issue files");

    // Files added while the daemon was not running.
    for path in issue_files(&dir) {
        add_if_changed(&app, &path).await;
    }
    loop {
        let first = tokio::select! {
            _ = stop.changed() => break,
            path = rx.recv() => match path { Some(p) => p, None => break },
        };
        let mut changed = BTreeSet::from([first]);
        while let Ok(Some(path)) = tokio::time::timeout(QUIET, rx.recv()).await {
            changed.insert(path);
        }
        for path in changed {
            add_if_changed(&app, &path).await;
        }
    }
    drop(watcher);
    Ok(())
}

fn is_issue_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    // Editors' swap and backup files start with a dot or end in ~.
    name.ends_with(".md") && !name.starts_with('.')
}

fn issue_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).map(|entries| entries.flatten().map(|e| e.path()).filter(|p| is_issue_file(p)).collect()).unwrap_or_default();
    files.sort();
    files
}

async fn add_if_changed(app: &App, path: &Path) {
    // Gone again (a temporary file, or deleted): nothing to add.
    let Ok(text) = tokio::fs::read_to_string(path).await else { return };
    match app.store.issue_source_known(&source_digest(&text)).await {
        Ok(true) => return,
        Ok(false) => {}
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot check the issue file");
            return;
        }
    }
    match add_issue_text(app, path, &text, &Actor("watcher".into())).await {
        Ok(added) => tracing::info!(path = %path.display(), slug = %added.slug, saved = ?added.saved, scheduled_for = ?added.scheduled_for, "issue added from the content folder"),
        Err(e) => tracing::warn!(error = %e, "issue file not added"),
    }
}
