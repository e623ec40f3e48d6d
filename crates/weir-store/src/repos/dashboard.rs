//! The dashboard's reads (PAT-001 DashboardRepository): day rollups summed
//! over a range, per connector and per day; error counts by type; the
//! connectors with their health counters; the newest runs. Every figure
//! comes from rollups or small indexed reads, so the cost does not grow
//! with the number of events.

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tracing::instrument;

use crate::entities::{connectors as cn, sync_histories as sh};
use crate::{Store, StoreError, SyncHistory, TenantScope};
use weir_core::{RollupCounter, RunStatus};

/// Rollup counters summed over a range (for a connector, a day, or all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Events stored.
    pub webhooks_received: i64,
    /// Repeats of stored events (nothing new stored).
    pub webhooks_duplicate: i64,
    /// Refused deliveries.
    pub webhooks_rejected: i64,
    /// Events that failed for good.
    pub webhooks_failed: i64,
    /// Events completed (incl. ignored).
    pub webhooks_completed: i64,
    /// Finished runs (incl. cancelled).
    pub syncs_total: i64,
    /// Succeeded runs.
    pub syncs_succeeded: i64,
    /// Partial runs.
    pub syncs_partial: i64,
    /// Failed runs.
    pub syncs_failed: i64,
    /// Records created or updated.
    pub records_processed: i64,
}

impl Counts {
    /// The counter's field.
    fn field(&mut self, c: RollupCounter) -> &mut i64 {
        match c {
            RollupCounter::WebhooksReceived => &mut self.webhooks_received,
            RollupCounter::WebhooksDuplicate => &mut self.webhooks_duplicate,
            RollupCounter::WebhooksRejected => &mut self.webhooks_rejected,
            RollupCounter::WebhooksFailed => &mut self.webhooks_failed,
            RollupCounter::WebhooksCompleted => &mut self.webhooks_completed,
            RollupCounter::SyncsTotal => &mut self.syncs_total,
            RollupCounter::SyncsSucceeded => &mut self.syncs_succeeded,
            RollupCounter::SyncsPartial => &mut self.syncs_partial,
            RollupCounter::SyncsFailed => &mut self.syncs_failed,
            RollupCounter::RecordsProcessed => &mut self.records_processed,
        }
    }

    /// Adds every counter of `other`.
    pub fn add(&mut self, other: &Counts) {
        let mut other = *other;
        for &c in RollupCounter::VARIANTS {
            *self.field(c) += *other.field(c);
        }
    }

    /// Finished activities that went through: completed events, succeeded
    /// and partial runs.
    pub fn successes(&self) -> u64 {
        u64::try_from(self.webhooks_completed + self.syncs_succeeded + self.syncs_partial).unwrap_or(0)
    }

    /// Finished activities that failed: failed events and runs.
    pub fn failures(&self) -> u64 {
        u64::try_from(self.webhooks_failed + self.syncs_failed).unwrap_or(0)
    }
}

/// A connector with its health counters.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorActivity {
    /// The connector's id.
    pub connector_id: String,
    /// The connector's code, as the dashboard names it.
    pub code: String,
    /// Display name, as given.
    pub name: String,
    /// In service.
    pub is_active: bool,
    /// Failures since the last success.
    pub consecutive_failures: i32,
    /// Last activity.
    pub last_activity_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether it failed.
    pub last_activity_failed: bool,
    /// Its counts in the range.
    pub counts: Counts,
}

/// Everything the dashboard shows for a range of days.
#[derive(Debug, Clone)]
pub struct DashboardData {
    /// Counts over the range, all connectors.
    pub totals: Counts,
    /// Counts per day with activity (the caller zero-fills).
    pub days: Vec<(NaiveDate, Counts)>,
    /// Errors by type over the range, most frequent first.
    pub errors: Vec<(String, i64)>,
    /// Every live connector with its counts.
    pub connectors: Vec<ConnectorActivity>,
    /// Runs queued or running now.
    pub active_runs: u64,
    /// The 20 newest runs.
    pub recent_runs: Vec<SyncHistory>,
}

fn counts_of(row: &sea_orm::QueryResult) -> Result<Counts, StoreError> {
    let mut counts = Counts::default();
    for &c in RollupCounter::VARIANTS {
        *counts.field(c) = row.try_get::<Option<i64>>("", c.as_str())?.unwrap_or_default();
    }
    Ok(counts)
}

/// Errors by type, most frequent first (then by name, so ties are stable).
fn rank_errors(mut errors: Vec<(String, i64)>) -> Vec<(String, i64)> {
    errors.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    errors
}

/// Rollups of `tenant` over `from..=to`, every counter summed per `group`.
fn summed(tenant: &str, from: NaiveDate, to: NaiveDate, group: &str) -> sea_orm::sea_query::SelectStatement {
    let mut q = Query::select();
    q.expr_as(Expr::col(Alias::new(group)), Alias::new(group));
    for c in RollupCounter::VARIANTS {
        let c = c.as_str();
        // SUM of a bigint is numeric on PostgreSQL: cast back.
        q.expr_as(Expr::cust(format!("CAST(SUM({c}) AS BIGINT)")), Alias::new(c));
    }
    q.from(Alias::new("daily_rollups"))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .and_where(Expr::col(Alias::new("day")).gte(from))
        .and_where(Expr::col(Alias::new("day")).lte(to))
        .group_by_col(Alias::new(group))
        .to_owned()
}

impl Store {
    /// Reads the dashboard of `from..=to` (UTC days).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn dashboard(
        &self,
        scope: &TenantScope,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<DashboardData, StoreError> {
        let tenant = scope.tenant_id();
        let backend = self.db.get_database_backend();
        let mut per_connector: HashMap<String, Counts> = HashMap::new();
        let mut totals = Counts::default();
        for row in self.db.query_all_raw(backend.build(&summed(tenant, from, to, "connector_id"))).await? {
            let id: String = row.try_get("", "connector_id")?;
            let c = counts_of(&row)?;
            totals.add(&c);
            per_connector.insert(id, c);
        }
        let mut days = Vec::new();
        for row in self.db.query_all_raw(backend.build(&summed(tenant, from, to, "day"))).await? {
            let day: NaiveDate = row.try_get("", "day")?;
            days.push((day, counts_of(&row)?));
        }
        days.sort_by_key(|(d, _)| *d);
        let errors = self.error_breakdown(tenant, from, to).await?;
        let connectors = self.connector_activity(tenant, &per_connector).await?;
        let (active_runs, recent_runs) = self.runs_now(tenant).await?;
        Ok(DashboardData { totals, days, errors, connectors, active_runs, recent_runs })
    }

    async fn error_breakdown(
        &self,
        tenant: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let q = Query::select()
            .expr_as(Expr::col(Alias::new("error_type")), Alias::new("error_type"))
            .expr_as(Expr::cust("CAST(SUM(error_count) AS BIGINT)"), Alias::new("n"))
            .from(Alias::new("daily_error_rollups"))
            .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
            .and_where(Expr::col(Alias::new("day")).gte(from))
            .and_where(Expr::col(Alias::new("day")).lte(to))
            .group_by_col(Alias::new("error_type"))
            .to_owned();
        let mut errors = Vec::new();
        for row in self.db.query_all_raw(self.db.get_database_backend().build(&q)).await? {
            let n = row.try_get::<Option<i64>>("", "n")?.unwrap_or(0);
            // A type whose every count was taken back (replays) is no error.
            if n != 0 {
                errors.push((row.try_get::<String>("", "error_type")?, n));
            }
        }
        Ok(rank_errors(errors))
    }

    /// Every live connector of `tenant` with its health counters and its
    /// counts in the range.
    async fn connector_activity(
        &self,
        tenant: &str,
        per_connector: &HashMap<String, Counts>,
    ) -> Result<Vec<ConnectorActivity>, StoreError> {
        // Only the columns shown (not configurations or sealed credentials).
        type Row = (String, String, String, bool, i32, Option<chrono::DateTime<chrono::Utc>>, bool);
        let rows = cn::Entity::find()
            .select_only()
            .columns([cn::Column::Id, cn::Column::Code, cn::Column::Name, cn::Column::IsActive])
            .columns([cn::Column::ConsecutiveFailures, cn::Column::LastActivityAt, cn::Column::LastActivityFailed])
            .filter(cn::Column::TenantId.eq(tenant))
            .filter(cn::Column::DeletedAt.is_null())
            .order_by_asc(cn::Column::Code)
            .into_tuple::<Row>()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, code, name, is_active, consecutive_failures, last_activity_at, last_activity_failed)| {
                ConnectorActivity {
                    counts: per_connector.get(&id).copied().unwrap_or_default(),
                    connector_id: id,
                    code,
                    name,
                    is_active,
                    consecutive_failures,
                    last_activity_at,
                    last_activity_failed,
                }
            })
            .collect())
    }

    /// Runs queued or running now, and the 20 newest.
    async fn runs_now(&self, tenant: &str) -> Result<(u64, Vec<SyncHistory>), StoreError> {
        let active_runs = sh::Entity::find()
            .filter(sh::Column::TenantId.eq(tenant))
            .filter(sh::Column::Status.is_in([RunStatus::Queued, RunStatus::Running]))
            .count(&self.db)
            .await?;
        // The newest 20 without counting them all (a tenant may have millions).
        let recent_runs = sh::Entity::find()
            .filter(sh::Column::TenantId.eq(tenant))
            .order_by_desc(sh::Column::QueuedAt)
            .order_by_desc(sh::Column::Id)
            .limit(20)
            .all(&self.db)
            .await?
            .into_iter()
            .map(SyncHistory::from)
            .collect();
        Ok((active_runs, recent_runs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_every_counter() {
        let mut a = Counts { webhooks_received: 2, syncs_failed: 1, ..Default::default() };
        let mut b = Counts::default();
        for (i, &c) in RollupCounter::VARIANTS.iter().enumerate() {
            *b.field(c) = i as i64 + 1;
        }
        a.add(&b);
        assert_eq!(a.webhooks_received, 3);
        assert_eq!(a.syncs_failed, 1 + 9);
        assert_eq!(a.records_processed, 10);
        assert_eq!(a.successes(), (5 + 7 + 8) as u64);
    }

    #[test]
    fn errors_rank_by_count_then_name() {
        let ranked = rank_errors(vec![("b".into(), 2), ("a".into(), 2), ("c".into(), 5)]);
        assert_eq!(ranked, [("c".to_owned(), 5), ("a".to_owned(), 2), ("b".to_owned(), 2)]);
    }
}
