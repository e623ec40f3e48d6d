//! `weir rollups rebuild`: recomputes every tenant's day rollups from the
//! raw tables — events, runs and their per-record errors, and the audit
//! trail (refused deliveries and duplicates are only there) — in one
//! transaction, replacing what is stored. Counted exactly as the
//! incremental writers count: each event once, by its current outcome — a
//! replayed event still waiting by the previous outcome its attempt log
//! holds, as the writers count it until its replay finishes.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tracing::instrument;

use super::rollups::{DayCounters, ErrorCounters};
use weir_core::rollup::{Tally, tally};
use weir_core::{AttemptOutcome, EventStatus, RollupCounter, RunStatus};

use crate::{Store, StoreError, SystemScope};

/// The UTC day of a timestamp column, per engine.
fn day(backend: DbBackend, col: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("CAST(({col} AT TIME ZONE 'UTC') AS DATE)"),
        _ => format!("date({col})"),
    }
}

/// The day a refusal entry counts on: its last refusal's (`last_at`, for a
/// grouped entry written after its minute, maybe after midnight), as the
/// writer counted it; else the entry's own time.
fn refusal_day(backend: DbBackend) -> String {
    match backend {
        DbBackend::Postgres => {
            "CAST((COALESCE(CAST(details->>'last_at' AS timestamptz), created_at) AT TIME ZONE 'UTC') AS DATE)"
                .to_owned()
        }
        _ => "date(COALESCE(json_extract(details, '$.last_at'), created_at))".to_owned(),
    }
}

/// Every audit entry, chained or still waiting for the sealer (PostgreSQL:
/// `audit_pending`), so a recount misses none that was committed.
const AUDIT_ROWS: &str = "(SELECT tenant_id, connector_id, action, details, created_at, pruned_at FROM audit_logs \
     UNION ALL SELECT tenant_id, connector_id, action, details, created_at, NULL FROM audit_pending) AS audit";

/// A text field of the JSON `details` column, per engine.
fn detail(backend: DbBackend, field: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("(details->>'{field}')"),
        _ => format!("json_extract(details, '$.{field}')"),
    }
}

/// Events waiting again after a replay (pending or claimed), grouped by the
/// previous final outcome in their attempt log — its last `completed` or
/// `failed` entry — when that is `outcome`: by the day it finished and its
/// error type. The writers take that count back when the replay finishes
/// (`queue::decide::previous_outcome` reads the log the same way).
fn replayed(b: DbBackend, outcome: AttemptOutcome) -> String {
    let (completed, failed) = (AttemptOutcome::Completed, AttemptOutcome::Failed);
    let waiting = format!("e.processing_status IN ('{}', '{}')", EventStatus::Pending, EventStatus::Processing);
    match b {
        DbBackend::Postgres => format!(
            "SELECT e.tenant_id, e.connector_id, {day} AS day, p.entry->>'error_type' AS kind, COUNT(*) AS n \
             FROM webhook_events e CROSS JOIN LATERAL (SELECT x.entry FROM jsonb_array_elements(CASE WHEN \
             jsonb_typeof(e.attempt_log) = 'array' THEN e.attempt_log ELSE '[]'::jsonb END) WITH ORDINALITY AS x(entry, i) \
             WHERE x.entry->>'outcome' IN ('{completed}', '{failed}') ORDER BY x.i DESC LIMIT 1) p \
             WHERE {waiting} AND p.entry->>'outcome' = '{outcome}' AND p.entry->>'finished_at' IS NOT NULL GROUP BY 1, 2, 3, 4",
            day = day(b, "CAST(p.entry->>'finished_at' AS timestamptz)"),
        ),
        _ => format!(
            "SELECT e.tenant_id, e.connector_id, date(json_extract(p.value, '$.finished_at')) AS day, \
             json_extract(p.value, '$.error_type') AS kind, COUNT(*) AS n FROM webhook_events e, json_each(e.attempt_log) p \
             WHERE {waiting} AND p.key = (SELECT MAX(q.key) FROM json_each(e.attempt_log) q \
             WHERE json_extract(q.value, '$.outcome') IN ('{completed}', '{failed}')) \
             AND json_extract(p.value, '$.outcome') = '{outcome}' AND json_extract(p.value, '$.finished_at') IS NOT NULL \
             GROUP BY 1, 2, 3, 4"
        ),
    }
}

/// What to count, and the SQL that counts it from the raw tables: each
/// query gives `tenant_id, connector_id, day, kind, n`. A long table of
/// one-line queries, kept together so they read as the counting rules.
fn recount_queries(b: DbBackend) -> Vec<(Tally, String)> {
    let finished =
        RunStatus::VARIANTS.iter().filter(|s| s.is_finished()).map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
    vec![
        (
            Tally::Counter(RollupCounter::WebhooksReceived),
            format!(
                "SELECT tenant_id, connector_id, {} AS day, '' AS kind, COUNT(*) AS n FROM webhook_events GROUP BY 1, 2, 3, 4",
                day(b, "received_at")
            ),
        ),
        (
            Tally::Counter(RollupCounter::WebhooksCompleted),
            format!(
                "SELECT tenant_id, connector_id, {} AS day, '' AS kind, COUNT(*) AS n FROM webhook_events WHERE processing_status = '{completed}' GROUP BY 1, 2, 3, 4",
                day(b, "processed_at"),
                completed = EventStatus::Completed,
            ),
        ),
        (
            Tally::CounterAndError(RollupCounter::WebhooksFailed),
            format!(
                "SELECT tenant_id, connector_id, {} AS day, COALESCE(error_type, 'unknown') AS kind, COUNT(*) AS n FROM webhook_events WHERE processing_status = '{failed}' GROUP BY 1, 2, 3, 4",
                day(b, "processed_at"),
                failed = EventStatus::Failed,
            ),
        ),
        (Tally::Counter(RollupCounter::WebhooksCompleted), replayed(b, AttemptOutcome::Completed)),
        (Tally::CounterAndError(RollupCounter::WebhooksFailed), replayed(b, AttemptOutcome::Failed)),
        (
            Tally::Counter(RollupCounter::WebhooksDuplicate),
            format!(
                "SELECT tenant_id, connector_id, {} AS day, '' AS kind, COUNT(*) AS n FROM {AUDIT_ROWS} WHERE action = 'webhook.received' AND {} = 'duplicate' GROUP BY 1, 2, 3, 4",
                day(b, "created_at"),
                detail(b, "outcome")
            ),
        ),
        (
            Tally::CounterAndError(RollupCounter::WebhooksRejected),
            format!(
                "SELECT tenant_id, connector_id, {} AS day, {} AS kind, CAST(SUM(COALESCE(CAST({} AS BIGINT), 1)) AS BIGINT) AS n FROM {AUDIT_ROWS} WHERE action = 'webhook.rejected' AND pruned_at IS NULL GROUP BY 1, 2, 3, 4",
                refusal_day(b),
                detail(b, "error_type"),
                detail(b, "count")
            ),
        ),
        (
            Tally::Counter(RollupCounter::RecordsProcessed),
            format!(
                "SELECT tenant_id, connector_id, {} AS day, '' AS kind, COUNT(*) AS n FROM {AUDIT_ROWS} WHERE action IN ('record.created', 'record.updated') GROUP BY 1, 2, 3, 4",
                day(b, "created_at")
            ),
        ),
        (
            Tally::Runs,
            format!(
                "SELECT tenant_id, connector_id, {} AS day, status AS kind, COUNT(*) AS n FROM sync_histories WHERE finished_at IS NOT NULL AND status IN ({finished}) AND started_at IS NOT NULL GROUP BY 1, 2, 3, 4",
                day(b, "finished_at"),
                finished = finished,
            ),
        ),
        (
            Tally::Counter(RollupCounter::RecordsProcessed),
            format!(
                "SELECT tenant_id, connector_id, {} AS day, '' AS kind, CAST(SUM(records_created + records_updated) AS BIGINT) AS n FROM sync_histories WHERE finished_at IS NOT NULL AND started_at IS NOT NULL GROUP BY 1, 2, 3, 4",
                day(b, "finished_at")
            ),
        ),
        (
            Tally::Error,
            format!(
                "SELECT tenant_id, connector_id, {} AS day, error_type AS kind, COUNT(*) AS n FROM sync_histories WHERE status = '{run_failed}' AND error_type IS NOT NULL AND started_at IS NOT NULL GROUP BY 1, 2, 3, 4",
                day(b, "finished_at"),
                run_failed = RunStatus::Failed,
            ),
        ),
        (
            Tally::Error,
            format!(
                "SELECT h.tenant_id, h.connector_id, {} AS day, e.error_type AS kind, COUNT(*) AS n FROM sync_histories h JOIN sync_errors e ON e.sync_history_id = h.id WHERE h.finished_at IS NOT NULL AND h.started_at IS NOT NULL GROUP BY 1, 2, 3, 4",
                day(b, "h.finished_at")
            ),
        ),
    ]
}

/// One counted row: tenant, connector (`None` for rows without one), day,
/// kind and count.
type CountedRow = (String, Option<String>, chrono::NaiveDate, Option<String>, i64);

fn read_row(b: DbBackend, row: &sea_orm::QueryResult) -> Result<CountedRow, StoreError> {
    let day = match b {
        DbBackend::Postgres => row.try_get::<chrono::NaiveDate>("", "day")?,
        _ => {
            let text: String = row.try_get("", "day")?;
            chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map_err(|e| StoreError::Database(sea_orm::DbErr::Custom(e.to_string())))?
        }
    };
    Ok((
        row.try_get("", "tenant_id")?,
        row.try_get("", "connector_id")?,
        day,
        row.try_get("", "kind")?,
        row.try_get::<Option<i64>>("", "n")?.unwrap_or(0),
    ))
}

impl Store {
    /// Recomputes `daily_rollups` and `daily_error_rollups` of every tenant
    /// from the raw tables. Answers the number of rollup rows written.
    #[instrument(skip_all)]
    pub async fn rebuild_rollups(&self, _: &SystemScope) -> Result<u64, StoreError> {
        let b = self.db.get_database_backend();
        let txn = self.write_txn().await?;
        let mut days = DayCounters::default();
        let mut errors = ErrorCounters::default();
        for (what, sql) in recount_queries(b) {
            for row in txn.query_all_raw(Statement::from_string(b, sql)).await? {
                let (tenant, connector, day, kind, n) = read_row(b, &row)?;
                let Some(connector) = connector else { continue };
                if n == 0 {
                    continue;
                }
                let counted = tally(what, kind.as_deref());
                for counter in counted.counters {
                    days.add(&tenant, &connector, day, counter, n);
                }
                if let Some(error) = counted.error {
                    errors.add(&tenant, &connector, day, error, n);
                }
            }
        }
        txn.execute_unprepared("DELETE FROM daily_error_rollups").await?;
        txn.execute_unprepared("DELETE FROM daily_rollups").await?;
        let rows = days.len() + errors.len();
        days.write(&txn).await?;
        errors.write(&txn).await?;
        txn.commit().await?;
        Ok(rows as u64)
    }
}
