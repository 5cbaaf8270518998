//! One-click unsubscribes arrive in bursts (a mail provider replays a whole list's worth after an
//! issue goes out). Each request waits for its own answer, but requests that arrive together
//! are written together, in one transaction: SQLite commits one at a time, and a commit per
//! request would cap the rate at the commit rate.

use tokio::sync::{mpsc, oneshot};

use crate::store::{Actor, Store};

/// The most requests written in one transaction.
const BATCH: usize = 256;

struct Job {
    subscriber_id: i64,
    list_id: i64,
    done: oneshot::Sender<Result<bool, String>>,
}

#[derive(Clone)]
pub struct Unsubscriber {
    jobs: mpsc::Sender<Job>,
}

impl Unsubscriber {
    /// Starts the writer task; it ends when every `Unsubscriber` handle is dropped.
    pub fn start(store: Store) -> Self {
        let (jobs, rx) = mpsc::channel(BATCH * 4);
        tokio::spawn(write_batches(store, rx));
        Self { jobs }
    }

    /// Whether the person was on the list until now.
    pub async fn unsubscribe(&self, subscriber_id: i64, list_id: i64) -> Result<bool, String> {
        let (done, answer) = oneshot::channel();
        self.jobs.send(Job { subscriber_id, list_id, done }).await.map_err(|_| "the unsubscribe writer has stopped".to_string())?;
        answer.await.map_err(|_| "the unsubscribe writer has stopped".to_string())?
    }
}

async fn write_batches(store: Store, mut rx: mpsc::Receiver<Job>) {
    let actor = Actor("web".into());
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let pairs: Vec<(i64, i64)> = batch.iter().map(|j| (j.subscriber_id, j.list_id)).collect();
        match store.unsubscribe_many(&pairs, "one_click", &actor).await {
            Ok(changed) => {
                for (job, did) in batch.into_iter().zip(changed) {
                    let _ = job.done.send(Ok(did));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for job in batch {
                    let _ = job.done.send(Err(message.clone()));
                }
            }
        }
    }
}
