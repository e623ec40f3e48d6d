//! One claimed run from start to end: announced, worked in its direction
//! while a heartbeat renews the lease, then ended (finished, requeued on
//! shutdown, or dropped when another runner took it over).

use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;
use weir_core::live::{SyncFinished, SyncStarted};
use weir_core::{Direction, LiveEvent, RunStatus};
use weir_store::{ClaimedRun, RunEnd, Store, StoreError};

use super::SyncEngine;
use super::runner::{self, RunContext, Stop};

impl SyncEngine {
    /// Runs `run` to its end; the slots are held (and so counted busy)
    /// until it returns.
    pub(super) async fn execute(
        &self,
        run: ClaimedRun,
        owner: String,
        stop: CancellationToken,
        _slot: OwnedSemaphorePermit,
        _connector_slot: OwnedSemaphorePermit,
    ) {
        let store = &self.inner.store;
        if let Err(e) = store.audit_sync_started(&run).await {
            tracing::warn!(error = %e, run = %run.history.id, "could not audit the run's start");
        }
        let started = SyncStarted {
            connector_id: run.history.connector_id.clone(),
            status: RunStatus::Running,
            sync_configuration_id: run.history.sync_configuration_id.clone(),
            sync_history_id: run.history.id.clone(),
        };
        self.inner.options.live.publish(run.scope.tenant_id(), LiveEvent::SyncStarted(started));
        let mut ctx = RunContext {
            store,
            options: &self.inner.options,
            run: &run,
            owner: &owner,
            stopping: &stop,
            counts: Default::default(),
            last_checkpoint: std::time::Instant::now(),
        };
        // The lease is renewed on its own clock, so long waits (Retry-After,
        // slow pages) cannot let it lapse while the run works.
        let result = tokio::select! {
            r = self.work(&mut ctx) => r,
            () = heartbeat(store, &run, &owner, self.inner.options.lease) => Err(Stop::Lost),
        };
        let end = match result {
            Ok(()) => runner::completed(ctx.counts),
            Err(Stop::Failed(kind, message)) => {
                RunEnd { status: RunStatus::Failed, counts: ctx.counts, error: Some((kind, message)) }
            }
            Err(Stop::Cancelled) => RunEnd { status: RunStatus::Cancelled, counts: ctx.counts, error: None },
            Err(Stop::Lost) => {
                tracing::warn!(run = %run.history.id, "the run is no longer held by this runner; stopped");
                return;
            }
            Err(Stop::ShuttingDown) => {
                if let Err(e) = store.requeue_sync_run(&run, &owner).await {
                    tracing::warn!(error = %e, run = %run.history.id, "could not requeue the run; its lease will expire");
                }
                return;
            }
        };
        self.announce_end(&run, &end);
        finish(store, &run, &owner, end).await;
    }

    /// Loads what the run needs and runs it in its direction.
    async fn work(&self, ctx: &mut RunContext<'_>) -> Result<(), Stop> {
        let loaded = runner::load(ctx.store, &self.inner.master_key, &self.inner.outbound, ctx.run).await?;
        match loaded.config.direction {
            Direction::Outbound => ctx.outbound(&loaded).await,
            Direction::Inbound => ctx.inbound(&loaded).await,
        }
    }

    /// The `weir_sync_*` metrics and the `sync.finished` live event.
    fn announce_end(&self, run: &ClaimedRun, end: &RunEnd) {
        metrics::counter!("weir_sync_runs_total", "status" => end.status.as_str()).increment(1);
        let finished = SyncFinished {
            connector_id: run.history.connector_id.clone(),
            records_created: end.counts.created,
            records_failed: end.counts.failed,
            records_read: end.counts.read,
            records_updated: end.counts.updated,
            status: end.status,
            sync_configuration_id: run.history.sync_configuration_id.clone(),
            sync_history_id: run.history.id.clone(),
        };
        self.inner.options.live.publish(run.scope.tenant_id(), LiveEvent::SyncFinished(finished));
        if let Some(started) = run.history.started_at {
            let took = (chrono::Utc::now() - started).to_std().unwrap_or_default();
            metrics::histogram!("weir_sync_run_seconds", "status" => end.status.as_str()).record(took.as_secs_f64());
        }
    }
}

/// Renews the run's lease every third of it; returns once the run is no
/// longer this runner's.
async fn heartbeat(store: &Store, run: &ClaimedRun, owner: &str, lease: Duration) {
    let mut beat = tokio::time::interval((lease / 3).max(Duration::from_millis(10)));
    beat.tick().await;
    loop {
        beat.tick().await;
        match store.extend_sync_lease(run, owner, lease).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!(error = %e, run = %run.history.id, "could not renew the run's lease"),
        }
    }
}

/// Stores the run's end, trying three times: a brief database failure must
/// not turn a finished run into a lost one.
async fn finish(store: &Store, run: &ClaimedRun, owner: &str, end: RunEnd) {
    for attempt in 1..=3 {
        match store.finish_sync_run(run, owner, end.clone()).await {
            Ok(_) => return,
            Err(StoreError::StateConflict(_)) => return,
            Err(e) if attempt < 3 => {
                tracing::warn!(error = %e, run = %run.history.id, attempt, "could not finish the run; retrying");
                tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, run = %run.history.id, "could not finish the run; its lease will expire")
            }
        }
    }
}
