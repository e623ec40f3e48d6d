//! What a finished run adds to its day's rollups, to the day's error counts
//! and to its connector's health activity. Its per-record errors count
//! under the types its `sync_errors` rows have — the types the run's page
//! lists (`mapping_error`, `record_error`, `push_error`) — so the dashboard
//! and the run speak one vocabulary, and a rebuild counts the same rows.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use weir_core::RollupCounter;

use super::RunEnd;
use crate::StoreError;
use crate::entities::sync_errors as se;
use crate::repos::connector_health::{Activity, HealthChange};
use crate::repos::rollups::{DayCounters, ErrorCounters};

/// A run's additions, decided from the [`RunEnd`] and its per-record error
/// counts alone, then written by [`RunTally::write_activity`] and
/// [`Counters::write`].
#[derive(Debug, PartialEq, Eq)]
pub(super) struct RunTally {
    /// `daily_rollups` counters to add.
    pub counters: Vec<(RollupCounter, i64)>,
    /// `daily_error_rollups` counts to add, by error type.
    pub errors: Vec<(String, i64)>,
    /// The health signal (`Some(true)` failing), `None` for a cancelled run.
    pub failing: Option<bool>,
}

/// The run's per-record errors by type, as its `sync_errors` rows (read in
/// the finishing transaction: every page's errors are stored by then).
pub(super) async fn record_errors<C: sea_orm::ConnectionTrait>(
    conn: &C,
    run_id: &str,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut counts: Vec<(String, i64)> = se::Entity::find()
        .select_only()
        .column(se::Column::ErrorType)
        .column_as(se::Column::Id.count(), "n")
        .filter(se::Column::SyncHistoryId.eq(run_id))
        .group_by(se::Column::ErrorType)
        .into_tuple()
        .all(conn)
        .await?;
    counts.sort();
    Ok(counts)
}

/// A run counts once in `syncs_total` and once under its outcome; its
/// created and updated records are processed ones; its failure (if any)
/// and each of its `record_errors` (by type) are errors.
pub(super) fn tally(end: &RunEnd, record_errors: Vec<(String, i64)>) -> RunTally {
    let mut counters = vec![(RollupCounter::SyncsTotal, 1)];
    counters.extend(end.status.rollup().map(|c| (c, 1)));
    counters.push((RollupCounter::RecordsProcessed, end.counts.created + end.counts.updated));
    let mut errors: Vec<_> = end.error.iter().map(|(t, _)| (t.as_str().to_owned(), 1)).collect();
    errors.extend(record_errors.into_iter().filter(|(_, n)| *n > 0));
    RunTally { counters, errors, failing: end.status.health_signal() }
}

impl RunTally {
    /// Records the health activity on `connector`; answers the connectors
    /// whose health changed. Then the caller audits, and last writes the
    /// counters ([`Counters::write`]): the lock order every writer keeps
    /// (connector, tenant, the day's rollup row).
    pub(super) async fn write_activity<C: sea_orm::ConnectionTrait>(
        self,
        conn: &C,
        connector: &str,
        at: DateTime<Utc>,
    ) -> Result<(Vec<HealthChange>, Counters), StoreError> {
        let mut activity = Activity::default();
        if let Some(failing) = self.failing {
            activity.add(connector, failing);
        }
        let changes = activity.write(conn, at).await?;
        Ok((changes, Counters { counters: self.counters, errors: self.errors }))
    }
}

/// A run's rollup counters, written last before the commit.
pub(super) struct Counters {
    counters: Vec<(RollupCounter, i64)>,
    errors: Vec<(String, i64)>,
}

impl Counters {
    /// Adds the counters to `connector`'s row of `at`'s day.
    pub(super) async fn write<C: sea_orm::ConnectionTrait>(
        self,
        conn: &C,
        tenant: &str,
        connector: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let day = at.date_naive();
        let mut days = DayCounters::default();
        for (counter, n) in self.counters {
            days.add(tenant, connector, day, counter, n);
        }
        days.write(conn).await?;
        let mut errors = ErrorCounters::default();
        for (t, n) in self.errors {
            errors.add(tenant, connector, day, &t, n);
        }
        errors.write(conn).await
    }
}

#[cfg(test)]
mod tests {
    use weir_core::{RunStatus, SyncErrorType};

    use super::*;
    use crate::RunCounts;

    fn end(status: RunStatus, failed: i64, error: Option<SyncErrorType>) -> RunEnd {
        let counts = RunCounts { read: 10, created: 3, updated: 4, failed, ..RunCounts::default() };
        RunEnd { status, counts, error: error.map(|t| (t, "boom".to_owned())) }
    }

    fn by_type(t: SyncErrorType, n: i64) -> (String, i64) {
        (t.as_str().to_owned(), n)
    }

    #[test]
    fn a_partial_run_counts_its_outcome_records_and_failed_records_by_type() {
        let errors = vec![by_type(SyncErrorType::Mapping, 1), by_type(SyncErrorType::Record, 1)];
        let t = tally(&end(RunStatus::Partial, 2, None), errors.clone());
        assert_eq!(
            t.counters,
            [(RollupCounter::SyncsTotal, 1), (RollupCounter::SyncsPartial, 1), (RollupCounter::RecordsProcessed, 7)]
        );
        assert_eq!(t.errors, errors, "each under the type the run's page shows");
        assert_eq!(t.failing, Some(false));
    }

    #[test]
    fn a_failed_run_counts_its_error_and_signals_failing() {
        let t = tally(&end(RunStatus::Failed, 0, Some(SyncErrorType::WorkerLost)), Vec::new());
        assert!(t.counters.contains(&(RollupCounter::SyncsFailed, 1)));
        assert_eq!(t.errors, [by_type(SyncErrorType::WorkerLost, 1)]);
        assert_eq!(t.failing, Some(true));
    }

    #[test]
    fn a_cancelled_run_counts_in_the_total_only_and_says_nothing_of_health() {
        let t = tally(&end(RunStatus::Cancelled, 0, None), Vec::new());
        assert_eq!(t.counters, [(RollupCounter::SyncsTotal, 1), (RollupCounter::RecordsProcessed, 7)]);
        assert!(t.errors.is_empty());
        assert_eq!(t.failing, None);
    }
}
