//! Retention: every `interval`, deletes webhook events (with their
//! payloads) and sync errors older than their windows, so ingest and
//! workers are never held up by a long delete. Runs on instances with the
//! scheduler role. Audit entries (with each payload's SHA-256 and size),
//! rollups, records and run histories are kept, except that the bodies of
//! refusal entries (`webhook.rejected`) follow the event window: their
//! header and hash stay, so the chain still verifies.
//!
//! Events are kept by whole UTC days, on both engines: with a window of N
//! days, the events received on day D go once day D+N has ended (so each
//! event is kept between N and N+1 days). On PostgreSQL each day is a
//! partition: a pass first creates the partitions of the next
//! [`DAYS_AHEAD`] days, then drops every expired day whose events have all
//! finished; what is left (rows in the default partition, finished rows of
//! a day that still holds unfinished ones, and every row on SQLite) is
//! deleted in batches of `batch` rows with a short pause between batches.

use std::time::Duration;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weir_store::Store;
use weir_store::repos::partitions::PartitionDrop;

/// Pause between two delete batches.
const PAUSE: Duration = Duration::from_millis(50);

/// Pause between two batches of an expired day's key deletes (PostgreSQL).
/// Longer than [`PAUSE`]: a day is dropped at once, so its keys are the
/// one per-row cost left, and spreading them keeps that cost out of
/// ingest's way (measured in BENCHMARKS.md; a day of 10 million events
/// takes about 40 minutes, well within a daily schedule).
const KEY_PAUSE: Duration = Duration::from_millis(200);

/// Days of partitions kept ready ahead of today (PostgreSQL).
pub const DAYS_AHEAD: u64 = 7;

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

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Webhook events deleted (row by row or with their partitions).
    pub events: u64,
    /// Sync errors deleted.
    pub sync_errors: u64,
    /// Refusal audit entries whose body was pruned (they follow the
    /// event window; entries that record accepted data stay whole).
    pub refusals_pruned: u64,
    /// Day partitions created ahead (PostgreSQL).
    pub partitions_created: u64,
    /// Expired day partitions dropped (PostgreSQL).
    pub partitions_dropped: u64,
}

/// Runs retention on `tracker` now and then every `interval` until `stop`
/// is cancelled (a pass in progress stops between batches).
pub fn spawn(store: Store, options: RetentionOptions, stop: CancellationToken, tracker: &TaskTracker) {
    tracker.spawn(async move {
        loop {
            let started = std::time::Instant::now();
            match run_once(&store, &options, &stop).await {
                Ok(p) if p != Purged::default() => {
                    tracing::info!(
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        events = p.events,
                        sync_errors = p.sync_errors,
                        refusals_pruned = p.refusals_pruned,
                        partitions_created = p.partitions_created,
                        partitions_dropped = p.partitions_dropped,
                        "retention pass done"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention failed; trying again at the next interval"),
            }
            tokio::select! {
                () = tokio::time::sleep(options.interval) => {}
                () = stop.cancelled() => {}
            }
            if stop.is_cancelled() {
                return;
            }
        }
    });
}

/// The first moment that is kept with a window of `keep`: midnight (UTC)
/// of the day `keep` before `now`. Events received earlier are expired.
pub fn event_cutoff(now: DateTime<Utc>, keep: Duration) -> Option<DateTime<Utc>> {
    let day = (now - chrono::Duration::from_std(keep).ok()?).date_naive();
    Some(Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN)))
}

/// One pass: creates partitions ahead, then deletes everything past its
/// window.
pub async fn run_once(
    store: &Store,
    options: &RetentionOptions,
    stop: &CancellationToken,
) -> Result<Purged, weir_store::StoreError> {
    let now = Utc::now();
    let mut purged = Purged::default();
    let today = now.date_naive();
    purged.partitions_created = store.ensure_event_partitions(today.iter_days().take(DAYS_AHEAD as usize + 1)).await?;
    metrics::counter!("weir_event_partitions_created_total").increment(purged.partitions_created);
    if let Some(cutoff) = options.events.and_then(|keep| event_cutoff(now, keep)) {
        for partition in store.event_partitions().await? {
            if stop.is_cancelled() || partition.day >= cutoff.date_naive() {
                break;
            }
            match store.drop_event_partition(&partition, options.batch, KEY_PAUSE).await? {
                PartitionDrop::Dropped(n) => {
                    purged.events += n;
                    purged.partitions_dropped += 1;
                    metrics::counter!("weir_retention_deleted_total", "kind" => "webhook_events").increment(n);
                    metrics::counter!("weir_event_partitions_dropped_total").increment(1);
                    tracing::info!(partition = %partition.name, events = n, "expired day partition dropped");
                }
                PartitionDrop::Unfinished => {
                    tracing::info!(partition = %partition.name, "expired day partition kept: some of its events are unfinished");
                }
                PartitionDrop::Gone => {}
                PartitionDrop::Busy => {
                    tracing::info!(partition = %partition.name, "expired day partition kept until the next pass: webhook_events is busy");
                }
            }
        }
        while !stop.is_cancelled() {
            let n = store.purge_events_before(cutoff, options.batch).await?;
            purged.events += n;
            metrics::counter!("weir_retention_deleted_total", "kind" => "webhook_events").increment(n);
            if n < options.batch {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
        purged.refusals_pruned = prune_refusals(store, cutoff, options.batch, stop).await?;
    }
    let cutoff = |keep: Duration| chrono::Duration::from_std(keep).ok().map(|k| now - k);
    if let Some(cutoff) = options.sync_errors.and_then(cutoff) {
        while !stop.is_cancelled() {
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

/// Prunes the bodies of refusal audit entries older than `cutoff`, a batch
/// at a time; answers how many.
async fn prune_refusals(
    store: &Store,
    cutoff: DateTime<Utc>,
    batch: u64,
    stop: &CancellationToken,
) -> Result<u64, weir_store::StoreError> {
    let (mut after, mut pruned) = (None, 0);
    while !stop.is_cancelled() {
        let done = store.prune_refusals_before(cutoff, after.as_deref(), batch).await?;
        pruned += done.pruned;
        metrics::counter!("weir_retention_deleted_total", "kind" => "refusal_audit_bodies").increment(done.pruned);
        if done.examined < batch {
            break;
        }
        after = done.last_id;
        tokio::time::sleep(PAUSE).await;
    }
    Ok(pruned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_kept_by_whole_days() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let day = Duration::from_secs(86_400);
        assert_eq!(event_cutoff(at("2026-11-29T05:00:00Z"), day), Some(at("2026-11-28T00:00:00Z")));
        assert_eq!(event_cutoff(at("2026-11-29T00:00:00Z"), 30 * day), Some(at("2026-10-30T00:00:00Z")));
        assert_eq!(event_cutoff(at("2026-11-29T23:59:59Z"), 30 * day), Some(at("2026-10-30T00:00:00Z")));
    }
}
