//! `serve`'s watcher on `content.issues_dir`: a new or changed `.md` file is added as an issue (and
//! scheduled when its front matter says `send_at`), and so is a `.txt` file in the newsletter's
//! text layout, for `content.default_list`. A file whose exact content was added before is left
//! alone, so a restart does not reset an issue staff have since scheduled or edited.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};

use super::add::{add_issue_text, add_text_issue, source_digest};
use super::plaintext;
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

    // Text files that cannot be added without `content.default_list`, reported once each.
    let mut reported = HashSet::new();
    // Files added while the daemon was not running.
    for path in issue_files(&dir) {
        add_if_changed(&app, &path, &mut reported).await;
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
            add_if_changed(&app, &path, &mut reported).await;
        }
    }
    drop(watcher);
    Ok(())
}

fn is_issue_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    // Editors' swap and backup files start with a dot or end in ~.
    (name.ends_with(".md") || is_text(path)) && !name.starts_with('.')
}

fn is_text(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "txt")
}

fn issue_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).map(|entries| entries.flatten().map(|e| e.path()).filter(|p| is_issue_file(p)).collect()).unwrap_or_default();
    files.sort();
    files
}

async fn add_if_changed(app: &App, path: &Path, reported: &mut HashSet<PathBuf>) {
    if is_text(path) {
        return add_text_if_changed(app, path, reported).await;
    }
    // Gone again (a temporary file, or deleted): nothing to add.
    let Ok(text) = tokio::fs::read_to_string(path).await else { return };
    if !known(app, path, &text).await {
        match add_issue_text(app, path, &text, &Actor("watcher".into())).await {
            Ok(added) => tracing::info!(path = %path.display(), slug = %added.slug, saved = ?added.saved, scheduled_for = ?added.scheduled_for, "issue added from the content folder"),
            Err(e) => tracing::warn!(error = %e, "issue file not added"),
        }
    }
}

/// A text-layout file, for `content.default_list`, dated the day it is added.
async fn add_text_if_changed(app: &App, path: &Path, reported: &mut HashSet<PathBuf>) {
    let list = app.config.content.default_list.trim();
    if list.is_empty() {
        if reported.insert(path.to_path_buf()) {
            tracing::warn!(path = %path.display(), "text issue file not added: set content.default_list to the list such files are for");
        }
        return;
    }
    let Ok(bytes) = tokio::fs::read(path).await else { return };
    // Known by its text, not by the Markdown made from it, which has the day's date in it.
    let text = match plaintext::decode(&bytes) {
        Ok((text, _)) => text,
        Err(e) => return tracing::warn!(path = %path.display(), error = %e, "issue file not added"),
    };
    if known(app, path, &text).await {
        return;
    }
    match add_text_issue(app, path, &bytes, list, chrono::Utc::now().date_naive(), &Actor("watcher".into())).await {
        Ok(added) => {
            for warning in &added.warnings {
                tracing::warn!(path = %path.display(), "{warning}");
            }
            tracing::info!(path = %path.display(), slug = %added.slug, saved = ?added.saved, list, "issue added from a text file in the content folder")
        }
        Err(e) => tracing::warn!(error = %e, "issue file not added"),
    }
}

/// Whether exactly this text was added before (or cannot be checked: then it is not added).
async fn known(app: &App, path: &Path, text: &str) -> bool {
    match app.store.issue_source_known(&source_digest(text)).await {
        Ok(known) => known,
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot check the issue file");
            true
        }
    }
}
