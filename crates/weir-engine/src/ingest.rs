//! Group-committed ingest. Receive handlers hand their verified delivery to
//! one writer task and wait; the writer takes everything that is waiting (up
//! to a batch limit), commits it in one transaction (events, audit entries,
//! rollups) and only then answers each handler. Under load many deliveries
//! share one commit, which is how ingest approaches the database's commit
//! rate instead of one commit per request.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use weir_core::LiveEvent;
use weir_core::live::EventReceived;
use weir_store::{Delivery, DeliveryOutcome, Store, StoreError};

use crate::LiveBus;

/// Why a delivery was not committed. The API answers 503 for both: the
/// client must retry, and nothing was acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The commit failed.
    #[error("ingest commit failed: {0}")]
    Commit(#[source] StoreError),
    /// The writer is gone (shutting down).
    #[error("ingest writer stopped")]
    Stopped,
}

struct Job {
    delivery: Delivery,
    reply: oneshot::Sender<Result<DeliveryOutcome, IngestError>>,
}

/// The handle receive handlers submit to. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Ingest {
    writers: Arc<[mpsc::Sender<Job>]>,
    next: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

/// Writer settings.
#[derive(Debug, Clone, Copy)]
pub struct IngestOptions {
    /// Most deliveries committed together.
    pub max_batch: usize,
    /// Deliveries waiting for each writer before submitters wait for room.
    pub queue: usize,
    /// Writer tasks. One suits SQLite (a single writer at a time anyway);
    /// on PostgreSQL two let one batch's inserts overlap another's commit.
    pub writers: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self { max_batch: 256, queue: 8192, writers: 1 }
    }
}

impl Ingest {
    /// Starts the writers. They run until every [`Ingest`] handle is
    /// dropped, then commit what is left and end (the handle resolves then).
    /// `wake` is notified after every commit that stored events, so idle
    /// workers start at once instead of at their next poll.
    pub fn spawn(store: Store, opts: IngestOptions, wake: Arc<Notify>, live: LiveBus) -> (Ingest, JoinHandle<()>) {
        let mut senders = Vec::new();
        let mut tasks = Vec::new();
        for _ in 0..opts.writers.max(1) {
            let (tx, rx) = mpsc::channel(opts.queue.max(1));
            senders.push(tx);
            tasks.push(tokio::spawn(writer(store.clone(), rx, opts.max_batch.max(1), wake.clone(), live.clone())));
        }
        let handle = tokio::spawn(async move {
            for t in tasks {
                let _ = t.await;
            }
        });
        (Ingest { writers: senders.into(), next: Default::default() }, handle)
    }

    /// Commits `delivery` (with whatever else is waiting) and returns what
    /// became of it.
    pub async fn submit(&self, delivery: Delivery) -> Result<DeliveryOutcome, IngestError> {
        let (reply, rx) = oneshot::channel();
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.writers.len();
        self.writers[i].send(Job { delivery, reply }).await.map_err(|_| IngestError::Stopped)?;
        rx.await.map_err(|_| IngestError::Stopped)?
    }
}

async fn writer(store: Store, mut rx: mpsc::Receiver<Job>, max_batch: usize, wake: Arc<Notify>, live: LiveBus) {
    let mut jobs: Vec<Job> = Vec::with_capacity(max_batch);
    // Held while deliveries keep queueing, so that on SQLite the workers'
    // transactions wait for a lull (bounded) instead of slipping in between
    // every two batches.
    let mut intent = None;
    while rx.recv_many(&mut jobs, max_batch).await > 0 {
        if intent.is_none() {
            intent = store.prompt_intent();
        }
        let (batch, replies): (Vec<Delivery>, Vec<_>) = jobs.drain(..).map(|j| (j.delivery, j.reply)).unzip();
        metrics::histogram!("weir_ingest_batch_size").record(batch.len() as f64);
        let started = std::time::Instant::now();
        let committed = store.ingest_batch(&batch).await;
        metrics::histogram!("weir_ingest_commit_seconds").record(started.elapsed().as_secs_f64());
        match committed {
            Ok(outcomes) => {
                for o in &outcomes {
                    let outcome = match o {
                        DeliveryOutcome::Stored { .. } => "stored",
                        DeliveryOutcome::Duplicate { .. } => "duplicate",
                        DeliveryOutcome::Audited => continue,
                    };
                    metrics::counter!("weir_webhooks_ingested_total", "outcome" => outcome).increment(1);
                }
                if outcomes.iter().any(|o| matches!(o, DeliveryOutcome::Stored { .. })) {
                    wake.notify_waiters();
                }
                for (d, o) in batch.iter().zip(&outcomes) {
                    if let (Delivery::Accepted(a), DeliveryOutcome::Stored { event_id }) = (d, o) {
                        let received = EventReceived {
                            connector_id: a.connector_id.clone(),
                            event_id: event_id.clone(),
                            event_type: a.event_type.clone(),
                            receiver_id: a.receiver_id.clone(),
                        };
                        live.publish(a.scope.tenant_id(), LiveEvent::EventReceived(received));
                    }
                }
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) if batch.len() > 1 => {
                // One bad delivery must not sink the others: commit each alone.
                tracing::warn!(error = %e, batch = batch.len(), "batch commit failed; committing one by one");
                for (delivery, reply) in batch.iter().zip(replies) {
                    let result = store
                        .ingest_batch(std::slice::from_ref(delivery))
                        .await
                        .map_err(IngestError::Commit)
                        .and_then(|mut o| o.pop().ok_or(IngestError::Stopped));
                    let _ = reply.send(result);
                }
                wake.notify_waiters();
            }
            Err(e) => {
                tracing::warn!(error = %e, "ingest commit failed");
                for reply in replies {
                    let _ = reply.send(Err(IngestError::Commit(StoreError::StateConflict("commit failed"))));
                }
                // Give a struggling database a moment before the next batch.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if rx.is_empty() {
            intent = None;
        }
    }
}
