//! The delivery engine: scheduler and workers in one loop, shared by `deliver --until-idle` and
//! `serve`.
//!
//! Each turn: keep this process's heartbeat and leases fresh, take back dead processes' leases,
//! queue scheduled issues that are due, claim a batch of due deliveries, send them with bounded
//! concurrency (and a token bucket when the relay has a quota), and write the outcomes back in
//! one transaction. A crash loses nothing: what was claimed but not recorded is sent again by the
//! next process, so at most the messages in flight are repeated.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use futures_util::stream::{self, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{Mutex, mpsc, watch};

use super::confirmation::confirmation_message;
use super::dkim::{Dkim, DkimError};
use super::liveness::{Claim, Liveness};
use super::message::{MessageFactory, Outgoing, Recipient};
use super::policy::after_failure;
use super::transport::{SendError, Transport, TransportError};
use crate::app::{App, Counters};
use crate::domain::{EmailAddress, SubscriberName};
use crate::store::{Actor, BouncePolicy, Claimed, Outcome, PendingConfirmation, StoreError};

/// How long a claim is good for without a heartbeat extending it.
const LEASE_SECS: i64 = 120;
/// How long the recorder gathers outcomes into one write, and how many at most.
const GATHER: StdDuration = StdDuration::from_millis(20);
const GATHER_MAX: usize = 64;
/// `--until-idle` gives up after this many waits in a row with the database unreachable
/// (about a minute).
const DB_DOWN_GIVE_UP: u32 = 14;
/// `--until-idle` gives up after this many back-offs in a row with the relay unreachable.
const RELAY_DOWN_GIVE_UP: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("cannot prepare issue {issue}'s messages: {message}")]
    Message { issue: i64, message: String },
    #[error(transparent)]
    Dkim(#[from] DkimError),
    #[error("the mail relay is unreachable or refusing us ({0}); the remaining deliveries stay queued")]
    RelayDown(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Stop when nothing is due.
    UntilIdle,
    /// Run until shutdown is signalled.
    Forever,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RunReport {
    pub sent: u64,
    pub retried: u64,
    pub failed: u64,
    pub bounced: u64,
    pub skipped: u64,
    pub issues_queued: u64,
    pub issues_finished: u64,
    pub reclaimed: u64,
    pub confirmations_sent: u64,
}

pub struct Engine {
    app: Arc<App>,
    transport: Transport,
    instance: String,
    hostname: String,
    factories: Mutex<HashMap<i64, Arc<MessageFactory>>>,
    limiter: Option<DefaultDirectRateLimiter>,
    dkim: Option<Dkim>,
    liveness: Arc<Liveness>,
}

/// What one turn of the loop came to.
enum Turn {
    Busy,
    Idle(Option<StdDuration>),
}

impl Engine {
    pub async fn start(app: Arc<App>) -> Result<Self, EngineError> {
        let transport = Transport::from_config(&app.config.smtp)?;
        let dkim = Dkim::from_config(&app.config.dkim)?;
        let hostname = this_hostname();
        let mut tag = [0u8; 4];
        getrandom::getrandom(&mut tag).map_err(|e| EngineError::Message { issue: 0, message: e.to_string() })?;
        let instance = format!("{hostname}:{}:{}", std::process::id(), tag.iter().map(|b| format!("{b:02x}")).collect::<String>());
        app.store.register_instance(&instance, std::process::id(), &hostname).await?;
        let limiter = NonZeroU32::new(app.config.delivery.rate_per_second).map(|n| RateLimiter::direct(Quota::per_second(n)));
        Ok(Self { app, transport, instance, hostname, factories: Mutex::new(HashMap::new()), limiter, dkim, liveness: Liveness::new() })
    }

    /// Runs until idle or until `stop` turns true. In-flight messages always finish first. A
    /// database that stops answering is waited for (and, until idle, given up on after a while).
    pub async fn run(&self, mode: Mode, mut stop: watch::Receiver<bool>) -> Result<RunReport, EngineError> {
        let heart = tokio::spawn(self.liveness.clone().run(self.app.store.clone(), self.instance.clone(), self.hostname.clone(), Duration::seconds(LEASE_SECS)));
        let mut report = RunReport::default();
        let (mut relay_down, mut db_down) = (0u32, 0u32);
        let result = loop {
            if *stop.borrow() {
                break Ok(());
            }
            let turn = self.turn(mode, &mut report, &mut relay_down, &mut stop).await;
            match turn {
                Ok(turn) => {
                    if db_down > 0 {
                        tracing::info!("the database answers again; delivery resumes");
                        db_down = 0;
                    }
                    match turn {
                        Turn::Busy => {}
                        Turn::Idle(Some(wait)) => {
                            let _ = tokio::time::timeout(wait, stop.changed()).await;
                        }
                        Turn::Idle(None) => break Ok(()),
                    }
                }
                Err(EngineError::Store(e)) if e.is_unavailable() => {
                    db_down += 1;
                    if mode == Mode::UntilIdle && db_down > DB_DOWN_GIVE_UP {
                        break Err(EngineError::Store(e));
                    }
                    if db_down == 1 {
                        tracing::warn!(error = %e, "the database is unreachable; delivery waits for it");
                    }
                    let _ = tokio::time::timeout(StdDuration::from_secs(u64::from(db_down.min(5))), stop.changed()).await;
                }
                Err(e) => break Err(e),
            }
        };
        heart.abort();
        report.reclaimed += self.liveness.reclaimed.load(std::sync::atomic::Ordering::Relaxed);
        if let Err(e) = self.app.store.unregister_instance(&self.instance).await {
            tracing::warn!(error = %e, "cannot unregister this instance; others will find it gone by its heartbeat");
        }
        self.transport.shutdown().await;
        tracing::info!(sent = report.sent, failed = report.failed, bounced = report.bounced, skipped = report.skipped, "delivery stopped");
        result.map(|_| report)
    }

    /// One turn: queue due issues, send due confirmations, then one batch of deliveries. (The
    /// heartbeat beside it takes back dead instances' leases.)
    async fn turn(&self, mode: Mode, report: &mut RunReport, relay_down: &mut u32, stop: &mut watch::Receiver<bool>) -> Result<Turn, EngineError> {
        report.issues_queued += self.queue_due_issues().await?;
        // Confirmations first: someone is waiting for that email now.
        let (confirmations, down) = self.send_confirmations().await?;
        report.confirmations_sent += confirmations;
        Counters::add(&self.app.counters.confirmations_sent, confirmations);
        if let Some(error) = down {
            *relay_down += 1;
            self.back_off(mode, *relay_down, error, stop).await?;
            return Ok(Turn::Busy);
        }
        let claim = self.liveness.claim();
        let batch = self.app.store.claim_deliveries(&self.instance, self.batch_size(), Duration::seconds(LEASE_SECS)).await?;
        if batch.is_empty() && confirmations > 0 {
            return Ok(Turn::Busy);
        }
        if batch.is_empty() && mode == Mode::UntilIdle && self.reclaim().await? > 0 {
            // Before calling it a day: deliveries a dead process held are due work too.
            return Ok(Turn::Busy);
        }
        if batch.is_empty() {
            let finished = self.app.store.finish_issues().await?;
            for issue in &finished {
                tracing::info!(issue, "send finished: every recipient has an outcome");
                self.summarise(*issue, mode).await;
            }
            report.issues_finished += finished.len() as u64;
            return Ok(Turn::Idle(self.idle_wait(mode).await?));
        }
        let (batch_report, down) = self.send_and_record(batch, &claim, stop).await?;
        let counters = &self.app.counters;
        Counters::add(&counters.messages_sent, batch_report.sent);
        Counters::add(&counters.messages_failed, batch_report.failed + batch_report.bounced);
        merge(report, &batch_report);
        match down {
            None => *relay_down = 0,
            Some(error) => {
                *relay_down += 1;
                self.back_off(mode, *relay_down, error, stop).await?;
            }
        }
        Ok(Turn::Busy)
    }

    /// Waits out a relay outage (1, 2, 4 … 64 s), or gives up when running until idle.
    async fn back_off(&self, mode: Mode, times: u32, error: String, stop: &mut watch::Receiver<bool>) -> Result<(), EngineError> {
        if mode == Mode::UntilIdle && times >= RELAY_DOWN_GIVE_UP {
            return Err(EngineError::RelayDown(error));
        }
        let wait = StdDuration::from_secs(1 << times.min(6));
        tracing::warn!(%error, wait_secs = wait.as_secs(), "mail relay unreachable; backing off");
        let _ = tokio::time::timeout(wait, stop.changed()).await;
        Ok(())
    }

    /// Sends due confirmation emails; returns how many went out, and the relay's error if it
    /// could not be reached.
    async fn send_confirmations(&self) -> Result<(u64, Option<String>), EngineError> {
        let due = self.app.store.claim_confirmations(self.batch_size(), Duration::seconds(LEASE_SECS)).await?;
        if due.is_empty() {
            return Ok((0, None));
        }
        let concurrency = self.app.config.delivery.concurrency.max(1) as usize;
        let outcomes: Vec<_> = stream::iter(due).map(|c| async move { let o = self.confirm_one(&c).await; (c, o) }).buffer_unordered(concurrency).collect().await;
        let (mut sent, mut down) = (0, None);
        for (c, outcome) in &outcomes {
            match outcome {
                Outcome::Sent => sent += 1,
                Outcome::Requeue { error, .. } => down = Some(error.clone()),
                _ => {}
            }
            self.app.store.record_confirmation(c, outcome, self.bounce_policy()).await?;
        }
        if sent > 0 {
            tracing::info!(sent, "confirmation emails sent");
        }
        Ok((sent, down))
    }

    async fn confirm_one(&self, c: &PendingConfirmation) -> Outcome {
        if c.subscriber_status != "active" {
            return Outcome::Skipped { why: "the address may no longer be mailed" };
        }
        let message = match confirmation_message(&self.app, c, Utc::now()) {
            Ok(m) => m,
            Err(e) => return Outcome::Failed { code: None, error: e.to_string() },
        };
        self.send_message(message, c.attempts).await
    }

    /// Sends one message within the rate limit and reads a failure by the retry policy.
    async fn send_message(&self, mut message: Outgoing, attempts: i64) -> Outcome {
        if let Some(dkim) = &self.dkim
            && let Err(e) = dkim.sign(&mut message.bytes)
        {
            return Outcome::Failed { code: None, error: e.to_string() };
        }
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        match self.transport.send(&message).await {
            Ok(()) => Outcome::Sent,
            Err(error) => {
                if !matches!(error, SendError::Connection { .. }) {
                    tracing::debug!(error = error.message(), "send failed");
                }
                let config = &self.app.config.delivery;
                after_failure(&error, attempts, i64::from(config.max_attempts), config.retry_base_secs)
            }
        }
    }

    fn bounce_policy(&self) -> BouncePolicy {
        self.app.bounce_policy()
    }

    fn batch_size(&self) -> i64 {
        i64::from(self.app.config.delivery.concurrency.max(1)) * 8
    }

    /// Takes back the leases of processes that are gone.
    async fn reclaim(&self) -> Result<u64, EngineError> {
        let reclaimed = self.app.store.reclaim_leases(&self.instance, &self.hostname, process_alive).await?;
        if reclaimed > 0 {
            tracing::info!(reclaimed, "took back deliveries claimed by a process that is gone");
        }
        Ok(reclaimed)
    }

    async fn queue_due_issues(&self) -> Result<u64, EngineError> {
        let queued = self.app.store.queue_due_issues(&Actor("scheduler".into())).await?;
        for (issue, recipients) in &queued {
            tracing::info!(issue, recipients, "scheduled issue queued");
        }
        Ok(queued.len() as u64)
    }

    /// How long to wait before looking again, or None to stop (until-idle with nothing due).
    /// Writes a finished send's summary, so its pages stop counting its rows (a million of them
    /// take a second and a half). The daemon does it beside the sending; `--until-idle` waits
    /// for it. A failure only costs speed: the prune writes the summary later.
    async fn summarise(&self, issue: i64, mode: Mode) {
        let store = self.app.store.clone();
        let work = async move {
            if let Err(e) = store.summarise_issue(issue).await {
                tracing::warn!(issue, error = %e, "a finished send's summary could not be written; its pages count its rows");
            }
        };
        match mode {
            Mode::Forever => drop(tokio::spawn(work)),
            Mode::UntilIdle => work.await,
        }
    }

    async fn idle_wait(&self, mode: Mode) -> Result<Option<StdDuration>, EngineError> {
        let next = self.app.store.next_due().await?;
        let until_next = next.map(|t| (t - Utc::now()).to_std().unwrap_or_default());
        Ok(match (mode, until_next) {
            // A retry due within moments is part of the same run.
            (Mode::UntilIdle, Some(wait)) if wait <= StdDuration::from_secs(2) => Some(wait.max(StdDuration::from_millis(50))),
            (Mode::UntilIdle, _) => None,
            (Mode::Forever, Some(wait)) => Some(wait.clamp(StdDuration::from_millis(200), StdDuration::from_secs(1))),
            (Mode::Forever, None) => Some(StdDuration::from_secs(1)),
        })
    }

    /// Sends a batch with bounded concurrency while a recorder writes outcomes as they arrive, a
    /// transaction for whatever has come in meanwhile. Sent-but-unrecorded messages — the ones a
    /// crash would send again — stay within the channel's small capacity.
    async fn send_and_record(&self, batch: Vec<Claimed>, claim: &Claim, stop: &watch::Receiver<bool>) -> Result<(RunReport, Option<String>), EngineError> {
        let concurrency = self.app.config.delivery.concurrency.max(1) as usize;
        let (tx, mut rx) = mpsc::channel::<(Claimed, Outcome)>(concurrency);
        let store = self.app.store.clone();
        let owner = self.instance.clone();
        let policy = self.bounce_policy();
        let stop = stop.clone();
        let recorder = tokio::spawn(async move {
            let (mut report, mut down) = (RunReport::default(), None);
            while let Some(first) = rx.recv().await {
                // Outcomes arrive one by one; gathering a few milliseconds' worth makes one write
                // of many (a statement a message would be the database's main load).
                let mut chunk = vec![first];
                let gather_until = tokio::time::Instant::now() + GATHER;
                while chunk.len() < GATHER_MAX {
                    match tokio::time::timeout_at(gather_until, rx.recv()).await {
                        Ok(Some(next)) => chunk.push(next),
                        _ => break,
                    }
                }
                tally(&mut report, &chunk);
                down = down.or_else(|| chunk.iter().find_map(|(_, o)| if let Outcome::Requeue { error, .. } = o { Some(error.clone()) } else { None }));
                record_until_written(&store, &owner, &chunk, policy, &stop).await?;
            }
            Ok::<_, StoreError>((report, down))
        });
        stream::iter(batch)
            .map(|d| async move {
                // Nothing more of a batch this instance may no longer own (see `liveness`).
                let outcome = if self.liveness.may_send(claim).await { self.deliver_one(&d).await } else { Outcome::Released };
                (d, outcome)
            })
            .buffer_unordered(concurrency)
            .for_each(|item| {
                let tx = tx.clone();
                async move {
                    // The recorder only stops early on a database error, reported below.
                    let _ = tx.send(item).await;
                }
            })
            .await;
        drop(tx);
        let recorded = recorder.await.map_err(|e| EngineError::Message { issue: 0, message: format!("the recorder stopped: {e}") })?;
        Ok(recorded?)
    }

    async fn deliver_one(&self, d: &Claimed) -> Outcome {
        let (Some(subscriber_id), Some(email)) = (d.subscriber_id, d.email.as_deref()) else {
            return Outcome::Skipped { why: "the subscriber was erased" };
        };
        if d.subscriber_status.as_deref() != Some("active") {
            return Outcome::Skipped { why: "the subscriber may no longer be mailed (bounced or complained)" };
        }
        if d.subscription_status.as_deref() != Some("confirmed") {
            return Outcome::Skipped { why: "the subscriber left the list after the send was queued" };
        }
        let Ok(address) = EmailAddress::parse(email) else {
            return Outcome::Failed { code: None, error: "the stored address no longer parses".into() };
        };
        let name = SubscriberName::parse(d.name.as_deref().unwrap_or_default()).unwrap_or_default();
        let factory = match self.factory(d.issue_id).await {
            Ok(f) => f,
            Err(e) => return Outcome::Failed { code: None, error: e.to_string() },
        };
        let message = match factory.message(&Recipient { subscriber_id, email: &address, name: &name }, Utc::now(), false) {
            Ok(m) => m,
            Err(e) => return Outcome::Failed { code: None, error: e.to_string() },
        };
        self.send_message(message, d.attempts).await
    }

    /// The issue's message factory, built once per issue per process.
    async fn factory(&self, issue_id: i64) -> Result<Arc<MessageFactory>, EngineError> {
        let mut factories = self.factories.lock().await;
        if let Some(f) = factories.get(&issue_id) {
            return Ok(f.clone());
        }
        let issue = self.app.store.issue_by_id(issue_id).await?;
        let factory = crate::publishing::factory(&self.app, &issue).map_err(|e| EngineError::Message { issue: issue_id, message: e.to_string() })?;
        let factory = Arc::new(factory);
        factories.insert(issue_id, factory.clone());
        Ok(factory)
    }
}

/// Writes a chunk of outcomes, waiting out a database that does not answer: these messages were
/// sent, and a row left `sending` would be sent again once its lease ran out. Gives up only when
/// the process is stopping.
async fn record_until_written(store: &crate::store::Store, owner: &str, chunk: &[(Claimed, Outcome)], policy: BouncePolicy, stop: &watch::Receiver<bool>) -> Result<(), StoreError> {
    let mut tries = 0u32;
    loop {
        match store.record_outcomes(owner, chunk, policy).await {
            Err(e) if e.is_unavailable() && !*stop.borrow() => {
                tries += 1;
                if tries == 1 {
                    tracing::warn!(error = %e, outcomes = chunk.len(), "cannot record outcomes; retrying until the database answers");
                }
                tokio::time::sleep(StdDuration::from_secs(u64::from(tries.min(5)))).await;
            }
            result => return result,
        }
    }
}

fn merge(total: &mut RunReport, batch: &RunReport) {
    total.sent += batch.sent;
    total.retried += batch.retried;
    total.failed += batch.failed;
    total.bounced += batch.bounced;
    total.skipped += batch.skipped;
}

fn tally(report: &mut RunReport, outcomes: &[(Claimed, Outcome)]) {
    for (_, outcome) in outcomes {
        match outcome {
            Outcome::Sent => report.sent += 1,
            Outcome::Retry { .. } | Outcome::Requeue { .. } => report.retried += 1,
            Outcome::Failed { .. } => report.failed += 1,
            Outcome::Rejected { hard: true, .. } => report.bounced += 1,
            Outcome::Rejected { .. } => report.failed += 1,
            Outcome::Skipped { .. } => report.skipped += 1,
            Outcome::Released => {}
        }
    }
}

/// The host name instances are registered under.
pub fn this_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into())
}

/// Whether a process of this host still runs (Linux: it has a /proc entry).
pub fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}
