//! The prune: what `[retention]` allows, in small batches with pauses between them, so that a
//! running send never waits long for the database (SQLite has one writer); then the freed space
//! given back. `serve` runs it every hour (one instance at a time on PostgreSQL); `tidings prune`
//! runs it once.
//!
//! Interrupted anywhere (a `kill -9`), nothing is half-written: an issue's summary is written in
//! one transaction before any of its rows go, each batch is its own transaction, and the next run
//! carries on from where this one stopped.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};

use crate::config::RetentionConfig;
use crate::store::{Job, Prunable, Store, StoreError};

/// Rows a transaction deletes: a few milliseconds of the writer's time.
const BATCH: i64 = 2_000;
/// The pause after a step, as a multiple of the step's own time: the prune takes at most a fifth
/// of the writer and of a core, whatever the database's size (on a 3.5 GB file, a batch takes
/// three times as long as on a small one, and a fixed pause let a send beside it slow by a third).
const PAUSE_FACTOR: u32 = 4;
/// The shortest pause, and the longest.
const PAUSE_MIN: StdDuration = StdDuration::from_millis(5);
const PAUSE_MAX: StdDuration = StdDuration::from_secs(2);

/// Waits after a step that began at `started`, so a send's writes go first.
async fn breathe(started: std::time::Instant) {
    tokio::time::sleep((started.elapsed() * PAUSE_FACTOR).clamp(PAUSE_MIN, PAUSE_MAX)).await;
}
/// Pages given back to the file system a step.
const VACUUM_STEP: i64 = 2_000;

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct PruneReport {
    pub dry_run: bool,
    /// Issues whose delivery rows were pruned (their summaries are kept).
    pub issues: i64,
    pub deliveries: i64,
    pub events: i64,
    /// Free pages left in the SQLite file after giving space back (0 on PostgreSQL).
    pub free_pages_left: i64,
    /// Whether freed space goes back to the file system (SQLite: once `tidings init` converted
    /// an older database).
    pub returns_space: bool,
}

/// The bounds `[retention]` sets now: rows older than these may go.
pub fn bounds(config: &RetentionConfig, now: DateTime<Utc>) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let before = |days: u32| (days > 0).then(|| now - Duration::days(i64::from(days)));
    (before(config.deliveries_days), before(config.events_days))
}

/// Prunes what `config` allows (or, with `dry_run`, counts it).
pub async fn prune(store: &Store, config: &RetentionConfig, dry_run: bool) -> Result<PruneReport, StoreError> {
    let (deliveries_before, events_before) = bounds(config, crate::store::now());
    let mut report = PruneReport { dry_run, returns_space: store.returns_free_space().await?, ..Default::default() };
    if dry_run {
        let Prunable { issues, deliveries, events } = store.prunable(deliveries_before, events_before).await?;
        (report.issues, report.deliveries, report.events) = (issues, deliveries, events);
        return Ok(report);
    }
    let Some(_turn) = store.elect(Job::Retention).await? else { return Ok(report) };
    if let Some(before) = deliveries_before {
        for issue in store.issues_to_prune(before).await? {
            store.summarise_issue(issue).await?;
            loop {
                let started = std::time::Instant::now();
                let deleted = store.prune_issue_batch(issue, BATCH).await?;
                report.deliveries += deleted as i64;
                if deleted == 0 {
                    break;
                }
                breathe(started).await;
            }
            report.issues += 1;
        }
    }
    if let Some(before) = events_before {
        loop {
            let started = std::time::Instant::now();
            let deleted = store.prune_events_batch(before, BATCH).await?;
            report.events += deleted as i64;
            if deleted == 0 {
                break;
            }
            breathe(started).await;
        }
    }
    loop {
        let started = std::time::Instant::now();
        let left = store.reclaim_space(VACUUM_STEP).await?;
        report.free_pages_left = left;
        if left == 0 || !report.returns_space {
            break;
        }
        breathe(started).await;
    }
    Ok(report)
}

/// `serve`'s pruning: a first run a minute after start, then every hour, until `stop`.
pub async fn run_hourly(store: Store, config: RetentionConfig, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut wait = StdDuration::from_secs(60);
    loop {
        if tokio::time::timeout(wait, stop.changed()).await.is_ok() {
            return;
        }
        match prune(&store, &config, false).await {
            Ok(r) if r.deliveries + r.events > 0 => tracing::info!(issues = r.issues, deliveries = r.deliveries, events = r.events, "pruned what [retention] no longer keeps"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning failed; it carries on at the next run"),
        }
        wait = StdDuration::from_secs(3600);
    }
}
