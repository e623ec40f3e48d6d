//! The composition root of the background work: [`Engine::start`] wires
//! the live-event bus (relayed between instances when the store has a
//! relay), the ingest writer, the event workers, the sync pool and
//! scheduler, retention and the queue gauges; [`Engine::shutdown`] stops
//! them in order.
//!
//! Every task but the ingest writer runs on one [`TaskTracker`] under one
//! [`CancellationToken`]. The writer is not cancelled: it ends once the
//! last [`Ingest`] handle is gone, after committing what it was given.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weir_core::live::HealthChanged;
use weir_core::{LiveEvent, MasterKey};
use weir_store::Store;

use crate::outbound::OutboundError;
use crate::retention::{self, RetentionOptions};
use crate::{
    Ingest, IngestOptions, LiveBus, Outbound, OutboundPolicy, Processor, ProcessorOptions, SyncEngine, SyncOptions,
};

/// How often the queue gauges are sampled.
const GAUGE_INTERVAL: Duration = Duration::from_secs(10);

/// What to start. An instance's role is expressed here: zero workers, zero
/// sync concurrency, a zero schedule interval or no retention each leave
/// that task out.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Seals and opens connector credentials.
    pub master_key: MasterKey,
    /// Which outbound targets are refused.
    pub outbound: OutboundPolicy,
    /// The group-commit writer.
    pub ingest: IngestOptions,
    /// Event workers; none start with `workers == 0`.
    pub processing: ProcessorOptions,
    /// The sync pool (none with `concurrency == 0`) and scheduler (none
    /// with a zero `schedule_interval`).
    pub sync: SyncOptions,
    /// `Some` on the instances that run retention (one suffices; several
    /// only split the same deletes).
    pub retention: Option<RetentionOptions>,
    /// `Some` where signed audit heads are written out now and then.
    pub audit_heads: Option<crate::audit_heads::AuditHeadOptions>,
    /// How long [`Engine::shutdown`] waits for each stage (at least 1 s).
    pub grace: Duration,
}

/// The running engine: owns its tasks and hands out the shared services
/// the HTTP layer uses.
#[derive(Debug)]
pub struct Engine {
    store: Store,
    master_key: MasterKey,
    outbound: Outbound,
    live: LiveBus,
    wake: Arc<Notify>,
    ingest: Ingest,
    writer: JoinHandle<()>,
    sync: SyncEngine,
    stop: CancellationToken,
    tracker: TaskTracker,
    grace: Duration,
}

impl Engine {
    /// Starts the tasks `options` ask for on the current runtime. Fails
    /// only when the outbound HTTP client cannot be built.
    pub fn start(store: Store, options: EngineOptions) -> Result<Self, OutboundError> {
        let outbound = Outbound::new(options.outbound)?;
        let (stop, tracker) = (CancellationToken::new(), TaskTracker::new());
        let relay = store.live_relay();
        let relayed = relay.is_some();
        let live = match relay {
            Some(relay) => LiveBus::new().relayed(relay, stop.clone(), &tracker),
            None => LiveBus::new(),
        };
        let store = publish_health_changes(store, &live);
        // Ingest commits wake idle workers; so do replays.
        let wake = Arc::new(Notify::new());
        let (ingest, writer) = Ingest::spawn(store.clone(), options.ingest, wake.clone(), live.clone());
        let processing = ProcessorOptions { live: live.clone(), ..options.processing };
        if processing.workers > 0 {
            if relayed {
                wake_on_remote_deliveries(&live, &wake, &stop, &tracker);
            }
            let master_key = options.master_key.clone();
            Processor::new(store.clone(), master_key, outbound.clone(), processing, wake.clone())
                .spawn(&stop, &tracker);
        }
        let sync_options = SyncOptions { live: live.clone(), ..options.sync };
        let sync = SyncEngine::new(store.clone(), options.master_key.clone(), outbound.clone(), sync_options);
        sync.spawn(&stop, &tracker);
        if let Some(retention) = options.retention {
            retention::spawn(store.clone(), retention, stop.clone(), &tracker);
        }
        crate::audit_sealer::spawn(store.clone(), stop.clone(), &tracker);
        if let Some(heads) = options.audit_heads {
            crate::audit_heads::spawn(store.clone(), heads, stop.clone(), &tracker);
        }
        sample_queue_gauges(store.clone(), stop.clone(), &tracker);
        let master_key = options.master_key;
        Ok(Self { store, master_key, outbound, live, wake, ingest, writer, sync, stop, tracker, grace: options.grace })
    }

    /// The store, with connector health changes published as live events.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The master key the engine was started with.
    pub fn master_key(&self) -> &MasterKey {
        &self.master_key
    }

    /// The shared outbound HTTP client (with its SSRF guard).
    pub fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    /// The live-event bus (relayed to other instances when the store has a
    /// relay).
    pub fn live(&self) -> &LiveBus {
        &self.live
    }

    /// Wakes idle workers (a replay put events back in the queue).
    pub fn wake(&self) -> &Arc<Notify> {
        &self.wake
    }

    /// A handle to the ingest writer. The writer ends only once every
    /// handle is dropped, so drop yours before [`Engine::shutdown`].
    pub fn ingest(&self) -> Ingest {
        self.ingest.clone()
    }

    /// The sync engine (wake it when a run is queued).
    pub fn sync(&self) -> &SyncEngine {
        &self.sync
    }

    /// A token for what serves requests: cancel it to begin shutting down
    /// (stop accepting, end live streams) while the engine's tasks keep
    /// running; [`Engine::shutdown`] cancels it too.
    pub fn serving_token(&self) -> CancellationToken {
        self.stop.child_token()
    }

    /// Stops everything, in order, waiting at most the grace period for
    /// each stage: the ingest writer commits what it holds and ends (once
    /// every other [`Ingest`] handle is dropped); then the token is
    /// cancelled and the tracked tasks finish — workers their batch, after
    /// which they release what they still hold; sync runs requeue at their
    /// next page; then the pool closes.
    pub async fn shutdown(self) {
        let Self { store, ingest, writer, stop, tracker, grace, .. } = self;
        let grace = grace.max(Duration::from_secs(1));
        drop(ingest);
        if tokio::time::timeout(grace, writer).await.is_err() {
            tracing::warn!("ingest writer did not finish within the grace period");
        }
        stop.cancel();
        tracker.close();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!("workers or sync runs did not stop within the grace period; their leases will expire");
        }
        // What the last batches audited, chained before the pool closes
        // (else the next instance's sealer would).
        if let Err(e) = store.seal_audit(None).await {
            tracing::warn!(error = %e, "could not seal the last audit entries; the next start seals them");
        }
        store.close().await;
    }
}

/// Connector health changes go to the live stream once committed.
fn publish_health_changes(store: Store, live: &LiveBus) -> Store {
    let live = live.clone();
    store.with_health_listener(move |c| {
        let changed = HealthChanged {
            connector_id: c.connector_id.clone(),
            consecutive_failures: c.consecutive_failures,
            from: c.from,
            to: c.to,
        };
        live.publish(&c.tenant_id, LiveEvent::ConnectorHealthChanged(changed))
    })
}

/// Deliveries stored by other instances (an `api` role beside this
/// `worker`) wake this one's workers too: their `event.received` arrives
/// over the relay. Without it they would find the event at their next poll.
fn wake_on_remote_deliveries(live: &LiveBus, wake: &Arc<Notify>, stop: &CancellationToken, tracker: &TaskTracker) {
    let (mut events, wake) = (live.subscribe(), wake.clone());
    tracker.spawn(stop.clone().run_until_cancelled_owned(async move {
        loop {
            match events.recv().await {
                Ok(e) if matches!(e.event, LiveEvent::EventReceived(_)) => wake.notify_one(),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    }));
}

/// Queue depth and age for /metrics, sampled every [`GAUGE_INTERVAL`].
fn sample_queue_gauges(store: Store, stop: CancellationToken, tracker: &TaskTracker) {
    tracker.spawn(async move {
        while !stop.is_cancelled() {
            if let Ok((depth, oldest)) = store.queue_depth().await {
                metrics::gauge!("weir_queue_depth").set(depth as f64);
                let age = oldest.map(|o| (chrono::Utc::now() - o).num_milliseconds() as f64 / 1e3).unwrap_or(0.0);
                metrics::gauge!("weir_queue_oldest_age_seconds").set(age);
            }
            tokio::select! {
                () = tokio::time::sleep(GAUGE_INTERVAL) => {}
                () = stop.cancelled() => {}
            }
        }
    });
}
