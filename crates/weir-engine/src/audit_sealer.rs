//! The audit sealer (PostgreSQL): chains committed audit entries shortly
//! after their commit, so no writer holds the tenant's chain lock (see
//! `weir_store::Store::seal_audit`). Runs on every instance; instances
//! that seal at once take turns on the lock and never chain an entry
//! twice. Entries left pending by a crash are sealed by the next sweep of
//! any instance, and every audit read seals its tenant first, so what the
//! audit API answers is never behind what was committed.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weir_store::Store;

/// How long the sealer lets appends gather after being woken: one sealing
/// transaction then chains a whole burst.
const GATHER: Duration = Duration::from_millis(10);

/// Between two sweeps of every tenant's pending entries (other instances'
/// appends, a crash's leftovers, entries whose transaction had not yet
/// committed when the sealer was woken).
const SWEEP: Duration = Duration::from_millis(500);

/// Sealed entries between two `VACUUM`s of the pending table: it is a
/// queue, every row is deleted soon after it is written, and dead rows
/// would otherwise slow each sweep until autovacuum came by (with 30,000
/// dead rows a sweep took 3.9 ms; a `VACUUM` of 10,000 takes a few).
const VACUUM_EVERY: u64 = 10_000;

/// Starts the sealer if the store defers sealing (PostgreSQL).
pub fn spawn(store: Store, stop: CancellationToken, tracker: &TaskTracker) {
    let Some(signal) = store.seal_signal() else { return };
    tracker.spawn(async move {
        let mut sweep = tokio::time::interval(SWEEP);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut since_vacuum = 0u64;
        loop {
            let all = tokio::select! {
                () = signal.appended() => {
                    tokio::time::sleep(GATHER).await;
                    false
                }
                _ = sweep.tick() => true,
                () = stop.cancelled() => break,
            };
            let mut sealed = 0;
            let result = if all {
                signal.take();
                store.seal_audit(None).await.map(|n| sealed += n)
            } else {
                let mut r = Ok(());
                for tenant in signal.take() {
                    r = r.and(store.seal_audit(Some(&tenant)).await.map(|n| sealed += n));
                }
                r
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not seal audit entries; the next sweep tries again");
            }
            metrics::counter!("weir_audit_sealed_total").increment(sealed);
            since_vacuum += sealed;
            if since_vacuum >= VACUUM_EVERY {
                since_vacuum = 0;
                if let Err(e) = store.vacuum_audit_pending().await {
                    tracing::warn!(error = %e, "could not vacuum audit_pending");
                }
            }
        }
    });
}
