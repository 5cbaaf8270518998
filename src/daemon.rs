//! `tidings serve`: the services of one process, run side by side until shutdown. When one fails,
//! the others are told to stop too, and each finishes its work in hand first.

use std::sync::Arc;

use tokio::sync::watch;

use crate::app::App;
use crate::bounces::maildir::{MaildirError, poll_maildir};
use crate::delivery::engine::{Engine, EngineError, Mode};
use crate::publishing::watch::{WatchError, watch_issues};
use crate::web::{WebError, serve_http};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Watch(#[from] WatchError),
    #[error(transparent)]
    Web(#[from] WebError),
    #[error(transparent)]
    Maildir(#[from] MaildirError),
}

/// Runs the delivery engine (scheduler and workers), the HTTP server, the content watcher, the
/// bounce Maildir poller, the hourly prune and the WebSub hub until `stop` is set to true.
pub async fn run(app: Arc<App>, stop: watch::Sender<bool>) -> Result<(), DaemonError> {
    let engine = Engine::start(app.clone()).await?;
    let deliver = async {
        let result = engine.run(Mode::Forever, stop.subscribe()).await.map(|_| ());
        stop_all_on_error(&stop, result.map_err(DaemonError::from))
    };
    let watcher = async { stop_all_on_error(&stop, watch_issues(app.clone(), stop.subscribe()).await.map_err(DaemonError::from)) };
    let web = async { stop_all_on_error(&stop, serve_http(app.clone(), stop.subscribe()).await.map_err(DaemonError::from)) };
    let bounces = async { stop_all_on_error(&stop, poll_maildir(app.clone(), stop.subscribe()).await.map_err(DaemonError::from)) };
    let retention = crate::operations::retention::run_hourly(app.store.clone(), app.config.retention.clone(), stop.subscribe());
    let hub = crate::websub::hub::run(app.clone(), stop.subscribe());
    let (delivered, watched, served, polled, (), ()) = tokio::join!(deliver, watcher, web, bounces, retention, hub);
    delivered.and(watched).and(served).and(polled)
}

fn stop_all_on_error(stop: &watch::Sender<bool>, result: Result<(), DaemonError>) -> Result<(), DaemonError> {
    if let Err(e) = &result {
        tracing::error!(error = %e, "a service stopped; shutting down");
        let _ = stop.send(true);
    }
    result
}
