//! Retention: every `interval`, deletes webhook events (with their
//! payloads) and sync errors older than their windows, in batches of
//! `batch` rows with a short pause between batches, so ingest and workers
//! are never held up by a long delete. Runs on instances with the
//! scheduler role. Audit entries (with each payload's SHA-256 and size),
//! rollups, records and run histories are kept.

use std::time::Duration;

use tokio::sync::watch;
use weir_store::Store;

/// Pause between two delete batches.
const PAUSE: Duration = Duration::from_millis(20);

/// What to keep and how often to look.
#[derive(Debug, Clone)]
pub struct RetentionOptions {
    /// How long finished webhook events are kept; `None` keeps them forever.
    pub events: Option<Duration>,
    /// How long the per-record errors of finished runs are kept; `None`: forever.
    pub sync_errors: Option<Duration>,
    /// How often retention runs.
    pub interval: Duration,
    /// Rows per delete.
    pub batch: u64,
}

/// Rows one pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Webhook events.
    pub events: u64,
    /// Sync errors.
    pub sync_errors: u64,
}

/// Runs retention now and then every `interval` until `stop` turns true.
pub fn spawn(store: Store, options: RetentionOptions, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match run_once(&store, &options, &stop).await {
                Ok(p) if p != Purged::default() => {
                    tracing::info!(events = p.events, sync_errors = p.sync_errors, "retention deleted expired rows");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention failed; trying again at the next interval"),
            }
            tokio::select! {
                () = tokio::time::sleep(options.interval) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    })
}

/// One pass: deletes everything past its window, batch by batch.
pub async fn run_once(
    store: &Store,
    options: &RetentionOptions,
    stop: &watch::Receiver<bool>,
) -> Result<Purged, weir_store::StoreError> {
    let now = chrono::Utc::now();
    let cutoff = |keep: Duration| chrono::Duration::from_std(keep).ok().map(|k| now - k);
    let mut purged = Purged::default();
    if let Some(cutoff) = options.events.and_then(cutoff) {
        while !*stop.borrow() {
            let n = store.purge_events_before(cutoff, options.batch).await?;
            purged.events += n;
            metrics::counter!("weir_retention_deleted_total", "kind" => "webhook_events").increment(n);
            if n < options.batch {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
    if let Some(cutoff) = options.sync_errors.and_then(cutoff) {
        while !*stop.borrow() {
            let n = store.purge_sync_errors_before(cutoff, options.batch).await?;
            purged.sync_errors += n;
            metrics::counter!("weir_retention_deleted_total", "kind" => "sync_errors").increment(n);
            if n < options.batch {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
    }
    Ok(purged)
}
