//! Whether this instance still owns what it claimed. A heartbeat runs beside the workers; before
//! each message a worker asks for a recent heartbeat that found this instance alive. An instance
//! that was frozen or cut off past the heartbeat timeout may have been declared dead, its
//! deliveries taken back and given to another instance: then it sends nothing more of what it
//! held, and the outcomes it still writes change nothing (they are fenced by the lease's owner).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use chrono::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

use super::engine::process_alive;
use crate::store::{HEARTBEAT_TIMEOUT_SECS, Store};

/// How often the heartbeat runs.
pub const HEARTBEAT_EVERY: StdDuration = StdDuration::from_secs(5);
/// A heartbeat older than this no longer vouches for the claims: well inside the timeout after
/// which other instances may declare this one dead.
const FRESH: StdDuration = StdDuration::from_secs((HEARTBEAT_TIMEOUT_SECS as u64) * 2 / 3);
/// How long a worker waits for a fresh heartbeat before it gives back what it holds.
const WAIT_FOR_BEAT: StdDuration = StdDuration::from_secs(10);

#[derive(Debug, Clone, Copy)]
struct Beat {
    /// Bumped each time this instance learns it was declared dead: claims made before belong to
    /// someone else now.
    epoch: u64,
    /// When a heartbeat last found this instance alive.
    at: Instant,
}

pub struct Liveness {
    beat: watch::Sender<Beat>,
    /// Deliveries taken back from dead instances so far.
    pub reclaimed: AtomicU64,
}

/// One batch's view: the epoch it was claimed in, and whether it has already given up.
pub struct Claim {
    epoch: u64,
    given_up: AtomicBool,
}

impl Liveness {
    pub fn new() -> Arc<Self> {
        Arc::new(Self { beat: watch::Sender::new(Beat { epoch: 0, at: Instant::now() }), reclaimed: AtomicU64::new(0) })
    }

    /// Marks a batch claimed now.
    pub fn claim(&self) -> Claim {
        Claim { epoch: self.beat.borrow().epoch, given_up: AtomicBool::new(false) }
    }

    /// Whether a message of `claim` may be sent now: a fresh heartbeat has found this instance
    /// alive since the claim. Waits a little for one when the last is old (the process was
    /// frozen, or the database is unreachable); false means give the rest back.
    pub async fn may_send(&self, claim: &Claim) -> bool {
        if claim.given_up.load(Ordering::Relaxed) {
            return false;
        }
        let mut beats = self.beat.subscribe();
        let waited = tokio::time::timeout(WAIT_FOR_BEAT, beats.wait_for(|b| b.epoch != claim.epoch || b.at.elapsed() < FRESH)).await;
        let ok = matches!(waited, Ok(Ok(b)) if b.epoch == claim.epoch);
        if !ok {
            claim.given_up.store(true, Ordering::Relaxed);
        }
        ok
    }

    /// Beats every [`HEARTBEAT_EVERY`], keeping this instance's leases and taking back those of
    /// dead instances, and re-registers it when it finds it was declared dead. Runs until the
    /// task is aborted.
    pub async fn run(self: Arc<Self>, store: Store, instance: String, hostname: String, lease: Duration) {
        let mut failing = false;
        loop {
            match store.heartbeat(&instance).await {
                Ok(alive) => {
                    if failing {
                        tracing::info!("the database answers again: heartbeats resumed");
                        failing = false;
                    }
                    if !alive {
                        tracing::warn!(instance, "this instance was declared dead (no heartbeat in time) and its deliveries were taken back; dropping what it held");
                        self.beat.send_modify(|b| b.epoch += 1);
                        if let Err(e) = store.register_instance(&instance, std::process::id(), &hostname).await {
                            tracing::warn!(error = %e, "cannot register this instance again");
                            continue;
                        }
                    }
                    match store.extend_leases(&instance, lease).await {
                        Ok(()) => self.beat.send_modify(|b| b.at = Instant::now()),
                        Err(e) => tracing::warn!(error = %e, "cannot extend this instance's leases"),
                    }
                    // Here rather than between batches: a batch to a slow relay can take longer
                    // than the heartbeat timeout, and a dead instance's readers would wait.
                    match store.reclaim_leases(&instance, &hostname, process_alive).await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(reclaimed = n, "took back deliveries claimed by a process that is gone");
                            self.reclaimed.fetch_add(n, Ordering::Relaxed);
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot take back dead instances' deliveries"),
                    }
                }
                Err(e) if !failing => {
                    tracing::warn!(error = %e, "heartbeat failed; workers pause until the database answers");
                    failing = true;
                }
                Err(_) => {}
            }
            tokio::time::sleep(HEARTBEAT_EVERY).await;
        }
    }
}
