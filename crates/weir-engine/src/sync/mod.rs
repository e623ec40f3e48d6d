//! The sync engine: a bounded pool of runners for queued sync runs, and the
//! scheduler that queues due scheduled configurations.
//!
//! Limits: at most `concurrency` runs at once in this instance (default 16)
//! and `per_connector` runs per connector (default 2); one run per
//! configuration at a time is the database's rule (a partial unique index).
//! A runner claims only runs whose connector has a free slot, so a busy
//! connector cannot take every slot. [`SyncEngine::run_pending_once`] drains
//! the queue for tests.

pub mod dry_run;
mod execute;
pub mod pages;
mod pull;
mod push;
pub mod runner;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weir_core::MasterKey;
use weir_store::{Store, StoreError};

use crate::{Outbound, RetryPolicy};

/// Sync engine settings.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Runs at once in this instance.
    pub concurrency: usize,
    /// Runs at once per connector.
    pub per_connector: usize,
    /// A running run's lease (renewed after every page).
    pub lease: Duration,
    /// How often an idle pool looks for queued runs.
    pub poll_interval: Duration,
    /// How often the scheduler looks for due configurations; zero disables it.
    pub schedule_interval: Duration,
    /// Page (and push) retries on 5xx, timeouts and connection failures.
    pub page_retry: RetryPolicy,
    /// Most 429 answers waited out per page.
    pub max_rate_limit_waits: u32,
    /// Longest `Retry-After` honoured (longer ones are cut to this).
    pub max_retry_after: Duration,
    /// Records per outbound push.
    pub push_batch: u64,
    /// Where runs are announced (SSE).
    pub live: crate::LiveBus,
}

impl SyncOptions {
    /// Runs at once unless configured (`WEIR_SYNC_CONCURRENCY`).
    pub const DEFAULT_CONCURRENCY: usize = 16;
    /// Runs per connector unless configured (`WEIR_SYNC_PER_CONNECTOR`).
    pub const DEFAULT_PER_CONNECTOR: usize = 2;
    /// Scheduler interval unless configured (`WEIR_SCHEDULER_INTERVAL_MS`).
    pub const DEFAULT_SCHEDULE_INTERVAL: Duration = Duration::from_secs(5);
    /// Page retry delays unless configured (`WEIR_SYNC_RETRY_BACKOFF`); one
    /// attempt more than there are delays.
    pub const DEFAULT_PAGE_BACKOFF: [Duration; 3] =
        [Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(15)];
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            concurrency: Self::DEFAULT_CONCURRENCY,
            per_connector: Self::DEFAULT_PER_CONNECTOR,
            lease: Duration::from_secs(120),
            poll_interval: Duration::from_secs(1),
            schedule_interval: Self::DEFAULT_SCHEDULE_INTERVAL,
            page_retry: RetryPolicy {
                backoff: Self::DEFAULT_PAGE_BACKOFF.to_vec(),
                max_attempts: 3,
                jitter: RetryPolicy::JITTER,
            },
            max_rate_limit_waits: 10,
            max_retry_after: Duration::from_secs(60),
            push_batch: 100,
            live: crate::LiveBus::new(),
        }
    }
}

/// The sync engine. Cheap to clone.
#[derive(Clone)]
pub struct SyncEngine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    master_key: MasterKey,
    outbound: Outbound,
    options: SyncOptions,
    instance: String,
    wake: Notify,
    slots: Arc<Semaphore>,
    per_connector: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine").field("instance", &self.inner.instance).finish_non_exhaustive()
    }
}

impl SyncEngine {
    /// An engine over `store`.
    pub fn new(store: Store, master_key: MasterKey, outbound: Outbound, options: SyncOptions) -> Self {
        let slots = Arc::new(Semaphore::new(options.concurrency.max(1)));
        Self {
            inner: Arc::new(Inner {
                store,
                master_key,
                outbound,
                instance: weir_core::ids::random_key(8),
                wake: Notify::new(),
                slots,
                per_connector: Mutex::new(HashMap::new()),
                options,
            }),
        }
    }

    /// Tells an idle pool that a run was queued.
    pub fn wake(&self) {
        self.inner.wake.notify_waiters();
    }

    /// Queues due scheduled runs once (the scheduler's step); answers how many.
    pub async fn schedule_once(&self) -> Result<u64, StoreError> {
        let n = self.inner.store.queue_due_schedules(500).await?;
        if n > 0 {
            self.wake();
        }
        Ok(n)
    }

    /// Runs queued runs within the limits until none is left; answers how
    /// many ran. For tests and one-shot use.
    pub async fn run_pending_once(&self) -> Result<usize, StoreError> {
        let stop = CancellationToken::new();
        self.drive(format!("{}-once", self.inner.instance), stop, true).await
    }

    /// Starts the pool and the scheduler on `tracker` (each only when its
    /// options ask for it); they stop when `stop` is cancelled (running
    /// runs go back to the queue at their next page).
    pub fn spawn(&self, stop: &CancellationToken, tracker: &TaskTracker) {
        if self.inner.options.concurrency > 0 {
            let (this, stop) = (self.clone(), stop.clone());
            let owner = format!("{}-sync", this.inner.instance);
            tracker.spawn(async move {
                if let Err(e) = this.drive(owner, stop, false).await {
                    tracing::error!(error = %e, "sync pool stopped");
                }
            });
        }
        let every = self.inner.options.schedule_interval;
        if !every.is_zero() {
            let (this, stop) = (self.clone(), stop.clone());
            tracker.spawn(async move {
                while !stop.is_cancelled() {
                    if let Err(e) = this.schedule_once().await {
                        tracing::warn!(error = %e, "scheduler step failed");
                    }
                    match this.inner.store.analyze_if_stale().await {
                        Ok(tables) if !tables.is_empty() => tracing::debug!(?tables, "refreshed planner statistics"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "refreshing planner statistics failed"),
                    }
                    tokio::select! {
                        () = tokio::time::sleep(every) => {}
                        () = stop.cancelled() => {}
                    }
                }
            });
        }
    }

    fn connector_slots(&self, connector_id: &str) -> Arc<Semaphore> {
        let mut map = self.inner.per_connector.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(connector_id.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.inner.options.per_connector.max(1))))
            .clone()
    }

    fn busy_connectors(&self) -> Vec<String> {
        let map = self.inner.per_connector.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.iter().filter(|(_, s)| s.available_permits() == 0).map(|(k, _)| k.clone()).collect()
    }

    /// Claims runs while slots are free and runs them; returns when idle
    /// (`until_idle`) or stopped.
    async fn drive(&self, owner: String, stop: CancellationToken, until_idle: bool) -> Result<usize, StoreError> {
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut started = 0;
        let mut backoff = Duration::from_millis(100);
        loop {
            if stop.is_cancelled() {
                break;
            }
            // Fill free slots.
            let mut claim_failed = false;
            while let Ok(slot) = self.inner.slots.clone().try_acquire_owned() {
                let busy = self.busy_connectors();
                let claimed = match self.inner.store.claim_sync_runs(&owner, 1, self.inner.options.lease, &busy).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming sync runs failed; backing off");
                        claim_failed = true;
                        break;
                    }
                };
                let Some(run) = claimed.into_iter().next() else { break };
                let Ok(conn_slot) = self.connector_slots(&run.history.connector_id).try_acquire_owned() else {
                    // Another claimer filled the connector meanwhile: back to the queue.
                    if let Err(e) = self.inner.store.requeue_sync_run(&run, &owner).await {
                        tracing::warn!(error = %e, run = %run.history.id, "could not requeue; its lease will expire");
                    }
                    break;
                };
                started += 1;
                let this = self.clone();
                let (owner, stop) = (owner.clone(), stop.clone());
                tasks.spawn(async move { this.execute(run, owner, stop, slot, conn_slot).await });
            }
            if claim_failed {
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stop.cancelled() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
            backoff = Duration::from_millis(100);
            if tasks.is_empty() && until_idle {
                break;
            }
            let woken = self.inner.wake.notified();
            tokio::select! {
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                () = woken, if !until_idle => {}
                () = tokio::time::sleep(self.inner.options.poll_interval), if !until_idle => {}
                () = stop.cancelled() => {}
            }
        }
        // Stopping: running runs notice at their next page and requeue.
        while tasks.join_next().await.is_some() {}
        Ok(started)
    }
}
