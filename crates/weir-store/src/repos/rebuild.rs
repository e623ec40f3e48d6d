//! `weir rollups rebuild`: recomputes every tenant's day rollups from the
//! raw tables — events, runs and the audit trail (refused deliveries and
//! duplicates are only there) — in one transaction, replacing what is
//! stored. Counted exactly as the incremental writers count, except that an
//! event replayed after it finished counts once, by its final outcome.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tracing::instrument;

use super::rollups::{DayCounters, ErrorCounters};
use crate::{Store, StoreError, SystemScope};

/// The UTC day of a timestamp column, per engine.
fn day(backend: DbBackend, col: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("CAST(({col} AT TIME ZONE 'UTC') AS DATE)"),
        _ => format!("date({col})"),
    }
}

/// A text field of the JSON `details` column, per engine.
fn detail(backend: DbBackend, field: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("(details->>'{field}')"),
        _ => format!("json_extract(details, '$.{field}')"),
    }
}

impl Store {
    /// Recomputes `daily_rollups` and `daily_error_rollups` of every tenant
    /// from the raw tables. Answers the number of rollup rows written.
    #[instrument(skip_all)]
    pub async fn rebuild_rollups(&self, _: &SystemScope) -> Result<u64, StoreError> {
        let b = self.db.get_database_backend();
        let txn = self.write_txn().await?;
        // (counter or error, SQL giving tenant_id, connector_id, day, kind, n)
        let counters: Vec<(&str, String)> = vec![
            (
                "webhooks_received",
                format!(
                    "SELECT tenant_id, connector_id, {} AS day, '' AS kind, COUNT(*) AS n FROM webhook_events GROUP BY 1, 2, 3, 4",
                    day(b, "received_at")
                ),
            ),
            (
                "webhooks_completed",
                format!(
                    "SELECT tenant_id, connector_id, {} AS day, '' AS kind, COUNT(*) AS n FROM webhook_events WHERE processing_status = 'completed' GROUP BY 1, 2, 3, 4",
                    day(b, "processed_at")
                ),
            ),
            (
                "webhooks_failed",
                format!(
                    "SELECT tenant_id, connector_id, {} AS day, COALESCE(error_type, 'unknown') AS kind, COUNT(*) AS n FROM webhook_events WHERE processing_status = 'failed' GROUP BY 1, 2, 3, 4",
                    day(b, "processed_at")
                ),
            ),
            (
                "webhooks_duplicate",
                format!(
                    "SELECT tenant_id, connector_id, {} AS day, '' AS kind, COUNT(*) AS n FROM audit_logs WHERE action = 'webhook.received' AND {} = 'duplicate' GROUP BY 1, 2, 3, 4",
                    day(b, "created_at"),
                    detail(b, "outcome")
                ),
            ),
            (
                "webhooks_rejected",
                format!(
                    "SELECT tenant_id, connector_id, {} AS day, {} AS kind, COUNT(*) AS n FROM audit_logs WHERE action = 'webhook.rejected' GROUP BY 1, 2, 3, 4",
                    day(b, "created_at"),
                    detail(b, "error_type")
                ),
            ),
            (
                "records_processed",
                format!(
                    "SELECT tenant_id, connector_id, {} AS day, '' AS kind, COUNT(*) AS n FROM audit_logs WHERE action IN ('record.created', 'record.updated') GROUP BY 1, 2, 3, 4",
                    day(b, "created_at")
                ),
            ),
            (
                "runs",
                format!(
                    "SELECT tenant_id, connector_id, {} AS day, status AS kind, COUNT(*) AS n FROM sync_histories WHERE finished_at IS NOT NULL AND status IN ('succeeded', 'partial', 'failed', 'cancelled') AND started_at IS NOT NULL GROUP BY 1, 2, 3, 4",
                    day(b, "finished_at")
                ),
            ),
            (
                "run_records",
                format!(
                    "SELECT tenant_id, connector_id, {} AS day, '' AS kind, CAST(SUM(records_created + records_updated) AS BIGINT) AS n FROM sync_histories WHERE finished_at IS NOT NULL AND started_at IS NOT NULL GROUP BY 1, 2, 3, 4",
                    day(b, "finished_at")
                ),
            ),
            (
                "run_errors",
                format!(
                    "SELECT tenant_id, connector_id, {} AS day, error_type AS kind, COUNT(*) AS n FROM sync_histories WHERE status = 'failed' AND error_type IS NOT NULL AND started_at IS NOT NULL GROUP BY 1, 2, 3, 4",
                    day(b, "finished_at")
                ),
            ),
            (
                "run_record_errors",
                format!(
                    "SELECT tenant_id, connector_id, {} AS day, 'record_error' AS kind, CAST(SUM(records_failed) AS BIGINT) AS n FROM sync_histories WHERE finished_at IS NOT NULL AND started_at IS NOT NULL GROUP BY 1, 2, 3, 4",
                    day(b, "finished_at")
                ),
            ),
        ];
        let mut days = DayCounters::default();
        let mut errors = ErrorCounters::default();
        for (what, sql) in counters {
            for row in txn.query_all_raw(Statement::from_string(b, sql)).await? {
                let tenant: String = row.try_get("", "tenant_id")?;
                let Some(connector) = row.try_get::<Option<String>>("", "connector_id")? else { continue };
                let day = match b {
                    DbBackend::Postgres => row.try_get::<chrono::NaiveDate>("", "day")?,
                    _ => {
                        let text: String = row.try_get("", "day")?;
                        chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                            .map_err(|e| StoreError::Database(sea_orm::DbErr::Custom(e.to_string())))?
                    }
                };
                let kind: Option<String> = row.try_get("", "kind")?;
                let n: i64 = row.try_get::<Option<i64>>("", "n")?.unwrap_or(0);
                if n == 0 {
                    continue;
                }
                match what {
                    "webhooks_failed" => {
                        days.add(&tenant, &connector, day, "webhooks_failed", n);
                        errors.add(&tenant, &connector, day, kind.as_deref().unwrap_or("unknown"), n);
                    }
                    "webhooks_rejected" => {
                        days.add(&tenant, &connector, day, "webhooks_rejected", n);
                        errors.add(&tenant, &connector, day, kind.as_deref().unwrap_or("unknown"), n);
                    }
                    "runs" => {
                        days.add(&tenant, &connector, day, "syncs_total", n);
                        match kind.as_deref() {
                            Some("succeeded") => days.add(&tenant, &connector, day, "syncs_succeeded", n),
                            Some("partial") => days.add(&tenant, &connector, day, "syncs_partial", n),
                            Some("failed") => days.add(&tenant, &connector, day, "syncs_failed", n),
                            _ => {}
                        }
                    }
                    "run_records" => days.add(&tenant, &connector, day, "records_processed", n),
                    "run_errors" | "run_record_errors" => {
                        errors.add(&tenant, &connector, day, kind.as_deref().unwrap_or("unknown"), n);
                    }
                    counter => days.add(&tenant, &connector, day, counter_name(counter), n),
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

fn counter_name(what: &str) -> &'static str {
    match what {
        "webhooks_received" => "webhooks_received",
        "webhooks_completed" => "webhooks_completed",
        "webhooks_duplicate" => "webhooks_duplicate",
        _ => "records_processed",
    }
}
