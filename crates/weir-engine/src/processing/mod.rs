//! The worker pool: turns stored webhook events into records.
//!
//! A worker claims a batch of due events under a lease, routes each to the
//! webhook sync configurations of its connector ([`plan`]), writes the
//! records and finishes the events in one transaction, then delivers to
//! HTTP destinations and finishes those events in a second one. Transient
//! failures retry with backoff ([`RetryPolicy`]); permanent ones fail at
//! once. [`Processor::run_pending_once`] drains the queue deterministically
//! for tests.

mod batch;
mod destination;
mod held;
mod plan;
mod retry;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weir_core::{EventErrorType, MasterKey};
use weir_store::{ClaimedEvent, Finish, Store, StoreError};

pub use retry::RetryPolicy;

use crate::Outbound;

/// Worker pool settings.
#[derive(Debug, Clone)]
pub struct ProcessorOptions {
    /// Concurrent workers (each claims its own batches).
    pub workers: usize,
    /// Most events one worker claims at a time.
    pub batch_size: u64,
    /// How long a claim holds before another worker may take the event.
    pub lease: Duration,
    /// How often an idle worker looks for due events (it is also woken by
    /// every ingest commit).
    pub poll_interval: Duration,
    /// After a claim smaller than `batch_size`, how long a worker lets
    /// events accumulate before it claims again. Without it, every ingest
    /// commit woke every worker for a handful of events: at 2,000/s the
    /// workers ran 7 transactions for each of ingest's, each taking the
    /// tenant's audit lock and the day's rollup row, and ingest waited
    /// behind them (issue 18). Adds at most this much processing lag.
    pub coalesce: Duration,
    /// Concurrent destination deliveries per worker.
    pub delivery_concurrency: usize,
    /// Backoff between attempts and how many an event gets.
    pub retry: RetryPolicy,
    /// Where outcomes are announced (SSE).
    pub live: crate::LiveBus,
}

impl ProcessorOptions {
    /// Workers unless configured (`WEIR_WORKERS`).
    pub const DEFAULT_WORKERS: usize = 2;
    /// Claim size unless configured (`WEIR_WORKER_BATCH`).
    pub const DEFAULT_BATCH_SIZE: u64 = 64;
    /// Lease unless configured (`WEIR_LEASE_SECS`).
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
    /// Idle poll unless configured (`WEIR_WORKER_POLL_MS`).
    pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);
    /// Coalescing window unless configured (`WEIR_WORKER_COALESCE_MS`).
    pub const DEFAULT_COALESCE: Duration = Duration::from_millis(50);
}

impl Default for ProcessorOptions {
    fn default() -> Self {
        Self {
            workers: Self::DEFAULT_WORKERS,
            batch_size: Self::DEFAULT_BATCH_SIZE,
            lease: Self::DEFAULT_LEASE,
            poll_interval: Self::DEFAULT_POLL_INTERVAL,
            coalesce: Self::DEFAULT_COALESCE,
            delivery_concurrency: 16,
            retry: RetryPolicy::default(),
            live: crate::LiveBus::new(),
        }
    }
}

/// The processing engine. Cheap to clone.
#[derive(Clone)]
pub struct Processor {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    master_key: MasterKey,
    outbound: Outbound,
    options: ProcessorOptions,
    instance: String,
    wake: Arc<Notify>,
    /// When this instance last looked for expired leases (see `process_batch`).
    expired_scan: std::sync::Mutex<Option<std::time::Instant>>,
}

impl std::fmt::Debug for Processor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processor").field("instance", &self.inner.instance).finish_non_exhaustive()
    }
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Events claimed.
    pub claimed: usize,
    /// Completed (including ignored).
    pub completed: usize,
    /// Scheduled for another attempt.
    pub retried: usize,
    /// Failed for good.
    pub failed: usize,
}

impl BatchReport {
    fn add(&mut self, f: &Finish) {
        match f {
            Finish::Completed { .. } => self.completed += 1,
            Finish::Retry { .. } => self.retried += 1,
            Finish::Failed { .. } => self.failed += 1,
        }
    }
}

impl Processor {
    /// A processor over `store`. `wake` is what ingest notifies on commit.
    pub fn new(
        store: Store,
        master_key: MasterKey,
        outbound: Outbound,
        options: ProcessorOptions,
        wake: Arc<Notify>,
    ) -> Self {
        let instance = weir_core::ids::random_key(8);
        Self {
            inner: Arc::new(Inner {
                store,
                master_key,
                outbound,
                options,
                instance,
                wake,
                expired_scan: std::sync::Mutex::new(None),
            }),
        }
    }

    /// Claims and processes batches until nothing is due; answers the totals.
    /// Events scheduled for a later retry are not waited for.
    pub async fn run_pending_once(&self) -> Result<BatchReport, StoreError> {
        let owner = format!("{}-once", self.inner.instance);
        let mut total = BatchReport::default();
        loop {
            let r = self.claim_and_process(&owner, true).await?;
            if r.claimed == 0 {
                return Ok(total);
            }
            total.claimed += r.claimed;
            total.completed += r.completed;
            total.retried += r.retried;
            total.failed += r.failed;
        }
    }

    /// Starts the workers on `tracker`. They stop when `stop` is
    /// cancelled: each finishes its batch, then releases anything it still
    /// holds.
    pub fn spawn(&self, stop: &CancellationToken, tracker: &TaskTracker) {
        for n in 0..self.inner.options.workers.max(1) {
            let this = self.clone();
            let stop = stop.clone();
            tracker.spawn(async move { this.work(n, stop).await });
        }
    }

    async fn work(&self, n: usize, stop: CancellationToken) {
        let owner = format!("{}-w{n}", self.inner.instance);
        let mut backoff = Duration::from_millis(100);
        while !stop.is_cancelled() {
            // Register for a wake-up before looking, so a commit that lands
            // while this batch runs is not missed.
            let woken = self.inner.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.claim_and_process(&owner, self.expired_scan_due()).await {
                Ok(r) if r.claimed > 0 => {
                    backoff = Duration::from_millis(100);
                    if (r.claimed as u64) < self.inner.options.batch_size && !self.inner.options.coalesce.is_zero() {
                        tokio::select! {
                            () = tokio::time::sleep(self.inner.options.coalesce) => {}
                            () = stop.cancelled() => {}
                        }
                    }
                    continue;
                }
                Ok(_) => {
                    tokio::select! {
                        () = &mut woken => {}
                        () = tokio::time::sleep(self.inner.options.poll_interval) => {}
                        () = stop.cancelled() => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, worker = %owner, retry_in_ms = backoff.as_millis() as u64, "processing failed; backing off");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = stop.cancelled() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        match self.inner.store.release_claims(&owner).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(worker = %owner, released = n, "released claimed events"),
            Err(e) => tracing::warn!(error = %e, worker = %owner, "could not release claims; their leases will expire"),
        }
    }

    /// Whether this claim also looks for expired leases: at most every
    /// tenth of a lease (50 ms to 2 s) per instance. A vanished worker's
    /// events are rare, and each look is a query over every day partition
    /// on PostgreSQL; this delays their takeover by that much at most.
    fn expired_scan_due(&self) -> bool {
        let every = (self.inner.options.lease / 10).clamp(Duration::from_millis(50), Duration::from_secs(2));
        let Ok(mut last) = self.inner.expired_scan.lock() else { return true };
        let now = std::time::Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < every) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// Claims one batch as `owner` (due events and expired claims) and
    /// processes it.
    pub async fn process_batch(&self, owner: &str) -> Result<BatchReport, StoreError> {
        self.claim_and_process(owner, true).await
    }

    /// A transient failure: retry after the backoff, or fail on the last attempt.
    fn transient(
        &self,
        ev: &ClaimedEvent,
        error_type: EventErrorType,
        message: String,
        result: Option<Value>,
    ) -> Finish {
        let retry = &self.inner.options.retry;
        if retry.may_retry(ev.attempts) {
            let delay = chrono::Duration::from_std(retry.delay(ev.attempts)).unwrap_or(chrono::Duration::seconds(10));
            Finish::Retry { at: Utc::now() + delay, error_type, error_message: message }
        } else {
            Finish::Failed { error_type, error_message: message, result }
        }
    }
}
