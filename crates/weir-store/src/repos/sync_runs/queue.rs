//! Runs held by runners: the claim (`FOR UPDATE SKIP LOCKED`, runs whose
//! runner vanished marked failed first), lease renewal and progress,
//! requeue, the finish with its rollups and health
//! activity, and cancellation.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, Query};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, Set};
use serde_json::json;
use tracing::instrument;
use weir_core::{RunStatus, SyncErrorType};

use super::of;
use super::tally::{record_errors, tally};
use super::{RunCounts, SyncHistory};
use crate::entities::{sync_configurations as sc, sync_errors as se, sync_histories as sh};
use crate::repos::audit::AuditEntry;
use crate::repos::{lease_end, now};
use crate::{Store, StoreError, TenantScope};

/// A run a runner holds, with the tenant scope the claim grants.
#[derive(Debug, Clone)]
pub struct ClaimedRun {
    /// The run's tenant: the runner's only scope for reading its
    /// configuration and writing its records.
    pub scope: TenantScope,
    /// The run as claimed (status `running`, counts zero).
    pub history: SyncHistory,
}

/// How a run ends.
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// One of the finished states.
    pub status: RunStatus,
    /// Final counts; they replace the progress counts.
    pub counts: RunCounts,
    /// For `failed`: why, and the message.
    pub error: Option<(SyncErrorType, String)>,
}

impl Store {
    /// Claims up to `limit` queued runs, oldest first, for `owner`,
    /// skipping runs of `busy_connectors` (at their concurrency limit); runs
    /// whose runner vanished (lease expired) are marked failed first.
    #[instrument(skip_all, fields(limit))]
    pub async fn claim_sync_runs(
        &self,
        owner: &str,
        limit: u64,
        lease: Duration,
        busy_connectors: &[String],
    ) -> Result<Vec<ClaimedRun>, StoreError> {
        let at = now();
        let txn = self.background_write_txn().await?;
        sh::Entity::update_many()
            .col_expr(sh::Column::Status, Expr::value(RunStatus::Failed))
            .col_expr(sh::Column::ErrorType, Expr::value(SyncErrorType::WorkerLost.as_str()))
            .col_expr(sh::Column::ErrorMessage, Expr::value("the runner stopped responding"))
            .col_expr(sh::Column::FinishedAt, Expr::value(at))
            .col_expr(sh::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .filter(sh::Column::Status.eq(RunStatus::Running))
            .filter(sh::Column::LeaseExpiresAt.lt(at))
            .exec(&txn)
            .await?;
        if limit == 0 {
            txn.commit().await?;
            return Ok(Vec::new());
        }
        let mut candidates = Query::select()
            .column(sh::Column::Id)
            .from(sh::Entity)
            .and_where(sh::Column::Status.eq(RunStatus::Queued))
            .to_owned();
        if !busy_connectors.is_empty() {
            candidates.and_where(sh::Column::ConnectorId.is_not_in(busy_connectors.iter().cloned()));
        }
        let candidates = candidates
            .order_by(sh::Column::QueuedAt, sea_orm::Order::Asc)
            .limit(limit)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let mut claimed = sh::Entity::update_many()
            .col_expr(sh::Column::Status, Expr::value(RunStatus::Running))
            .col_expr(sh::Column::StartedAt, Expr::value(at))
            .col_expr(sh::Column::LeaseOwner, Expr::value(owner))
            .col_expr(sh::Column::LeaseExpiresAt, Expr::value(lease_end(at, lease)))
            .filter(sh::Column::Id.in_subquery(candidates))
            .exec_with_returning(&txn)
            .await?;
        txn.commit().await?;
        claimed.sort_by(|a, b| a.queued_at.cmp(&b.queued_at).then_with(|| a.id.cmp(&b.id)));
        Ok(claimed
            .into_iter()
            .map(|m| ClaimedRun { scope: TenantScope::new(m.tenant_id.clone()), history: m.into() })
            .collect())
    }

    /// Puts a claimed run back in the queue (its runner is stopping), with
    /// its counters reset: the next runner starts it over (record writes
    /// are idempotent).
    pub async fn requeue_sync_run(&self, run: &ClaimedRun, owner: &str) -> Result<(), StoreError> {
        let txn = self.background_write_txn().await?;
        sh::Entity::update_many()
            .col_expr(sh::Column::Status, Expr::value(RunStatus::Queued))
            .col_expr(sh::Column::StartedAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(sh::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(sh::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(sh::Column::RecordsRead, Expr::value(0))
            .col_expr(sh::Column::RecordsCreated, Expr::value(0))
            .col_expr(sh::Column::RecordsUpdated, Expr::value(0))
            .col_expr(sh::Column::RecordsFailed, Expr::value(0))
            .col_expr(sh::Column::BytesTransferred, Expr::value(0))
            .col_expr(sh::Column::Pages, Expr::value(0))
            .filter(sh::Column::Id.eq(run.history.id.as_str()))
            .filter(sh::Column::LeaseOwner.eq(owner))
            .filter(sh::Column::Status.eq(RunStatus::Running))
            .exec(&txn)
            .await?;
        // The next runner starts over: its errors are the ones that count.
        se::Entity::delete_many().filter(se::Column::SyncHistoryId.eq(run.history.id.as_str())).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Whether cancellation of `run` was asked for (a read: runners check
    /// it while they wait between retries of a page).
    pub async fn sync_run_cancel_requested(&self, run: &ClaimedRun) -> Result<bool, StoreError> {
        Ok(sh::Entity::find_by_id(run.history.id.clone())
            .filter(sh::Column::TenantId.eq(run.scope.tenant_id()))
            .select_only()
            .column(sh::Column::CancelRequested)
            .into_tuple::<bool>()
            .one(&self.db)
            .await?
            .unwrap_or(false))
    }

    /// Records a running run's counts and renews its lease; answers whether
    /// cancellation was asked for.
    pub async fn sync_run_progress(
        &self,
        run: &ClaimedRun,
        owner: &str,
        counts: RunCounts,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let at = now();
        let held = sh::Entity::update_many()
            .col_expr(sh::Column::RecordsRead, Expr::value(counts.read))
            .col_expr(sh::Column::RecordsCreated, Expr::value(counts.created))
            .col_expr(sh::Column::RecordsUpdated, Expr::value(counts.updated))
            .col_expr(sh::Column::RecordsFailed, Expr::value(counts.failed))
            .col_expr(sh::Column::BytesTransferred, Expr::value(counts.bytes))
            .col_expr(sh::Column::Pages, Expr::value(counts.pages))
            .col_expr(sh::Column::LeaseExpiresAt, Expr::value(lease_end(at, lease)))
            .filter(sh::Column::Id.eq(run.history.id.as_str()))
            .filter(sh::Column::LeaseOwner.eq(owner))
            .filter(sh::Column::Status.eq(RunStatus::Running))
            .exec(&self.db)
            .await?;
        if held.rows_affected == 0 {
            return Err(StoreError::StateConflict("the run is no longer held by this runner"));
        }
        let cancel = sh::Entity::find_by_id(run.history.id.clone())
            .select_only()
            .column(sh::Column::CancelRequested)
            .into_tuple::<bool>()
            .one(&self.db)
            .await?
            .unwrap_or(false);
        Ok(cancel)
    }

    /// Renews a running run's lease (the runner's heartbeat, also during
    /// long waits); `false` once the run is no longer held.
    pub async fn extend_sync_lease(&self, run: &ClaimedRun, owner: &str, lease: Duration) -> Result<bool, StoreError> {
        let r = sh::Entity::update_many()
            .col_expr(sh::Column::LeaseExpiresAt, Expr::value(lease_end(now(), lease)))
            .filter(sh::Column::Id.eq(run.history.id.as_str()))
            .filter(sh::Column::LeaseOwner.eq(owner))
            .filter(sh::Column::Status.eq(RunStatus::Running))
            .exec(&self.db)
            .await?;
        Ok(r.rows_affected == 1)
    }

    /// Ends a run: final counts and status, the configuration's last run
    /// times, the day's rollups, and an audit entry with the counts.
    #[instrument(skip_all)]
    pub async fn finish_sync_run(&self, run: &ClaimedRun, owner: &str, end: RunEnd) -> Result<SyncHistory, StoreError> {
        let at = now();
        let txn = self.background_write_txn().await?;
        let m = sh::Entity::find_by_id(run.history.id.clone()).one(&txn).await?.ok_or(StoreError::NotFound)?;
        if m.lease_owner.as_deref() != Some(owner) || m.status != RunStatus::Running {
            return Err(StoreError::StateConflict("the run is no longer held by this runner"));
        }
        let started = m.started_at.unwrap_or(at);
        let mut am = m.into_active_model();
        am.status = Set(end.status);
        am.finished_at = Set(Some(at));
        am.duration_ms = Set(Some((at - started).num_milliseconds()));
        am.records_read = Set(end.counts.read);
        am.records_created = Set(end.counts.created);
        am.records_updated = Set(end.counts.updated);
        am.records_failed = Set(end.counts.failed);
        am.bytes_transferred = Set(end.counts.bytes);
        am.pages = Set(end.counts.pages);
        am.error_type = Set(end.error.as_ref().map(|e| e.0.as_str().to_owned()));
        am.error_message = Set(end.error.as_ref().map(|e| e.1.clone()));
        am.lease_owner = Set(None);
        am.lease_expires_at = Set(None);
        let m = am.update(&txn).await?;
        let mut config = sc::Entity::update_many()
            .col_expr(sc::Column::LastRunAt, Expr::value(started))
            .filter(sc::Column::Id.eq(m.sync_configuration_id.as_str()));
        // Only a clean run moves the outbound watermark: records that failed
        // in a partial run go out again next time.
        if end.status == RunStatus::Succeeded {
            config = config.col_expr(sc::Column::LastSuccessAt, Expr::value(started));
        }
        config.exec(&txn).await?;
        let tenant = run.scope.tenant_id();
        let record_errors = record_errors(&txn, &m.id).await?;
        let (health_changes, counters) = tally(&end, record_errors).write_activity(&txn, &m.connector_id, at).await?;
        let entry = AuditEntry {
            action: "sync.finished",
            actor: format!("sync_configuration:{}", m.sync_configuration_id),
            resource_type: "sync_history",
            resource_id: m.id.clone(),
            connector_id: Some(m.connector_id.clone()),
            details: json!({
                "status": m.status, "trigger": m.trigger_type, "duration_ms": m.duration_ms,
                "records_read": m.records_read, "records_created": m.records_created,
                "records_updated": m.records_updated, "records_failed": m.records_failed,
                "error_type": m.error_type,
            }),
        };
        self.append_audits(&txn, tenant, vec![entry]).await?;
        counters.write(&txn, tenant, &m.connector_id, at).await?;
        txn.commit().await?;
        self.announce_health(&health_changes);
        Ok(m.into())
    }

    /// Audits a run's start (called by the runner once it holds the run).
    pub async fn audit_sync_started(&self, run: &ClaimedRun) -> Result<(), StoreError> {
        let txn = self.background_write_txn().await?;
        let entry = AuditEntry {
            action: "sync.started",
            actor: format!("sync_configuration:{}", run.history.sync_configuration_id),
            resource_type: "sync_history",
            resource_id: run.history.id.clone(),
            connector_id: Some(run.history.connector_id.clone()),
            details: json!({"trigger": run.history.trigger}),
        };
        self.append_audit(&txn, &run.scope, entry).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Cancels a run: a queued one at once, a running one at its runner's
    /// next page (`cancel_requested`). `StateConflict` once it has finished.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn cancel_sync_run(&self, scope: &TenantScope, id: &str, actor: &str) -> Result<SyncHistory, StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        let m = of(scope).filter(sh::Column::Id.eq(id)).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let previous = m.status;
        let mut am = m.into_active_model();
        match previous {
            RunStatus::Queued => {
                am.status = Set(RunStatus::Cancelled);
                am.finished_at = Set(Some(at));
                am.cancel_requested = Set(true);
            }
            RunStatus::Running => am.cancel_requested = Set(true),
            RunStatus::Succeeded | RunStatus::Partial | RunStatus::Failed | RunStatus::Cancelled => {
                return Err(StoreError::StateConflict("the run has already finished"));
            }
        }
        // Guarded by the status read: a claim that landed meanwhile wins.
        let changed = sh::Entity::update_many()
            .set(am)
            .filter(sh::Column::Id.eq(id))
            .filter(sh::Column::Status.eq(previous))
            .exec(&txn)
            .await?;
        if changed.rows_affected == 0 {
            return Err(StoreError::StateConflict("the run changed state meanwhile; look again and retry"));
        }
        let m = of(scope).filter(sh::Column::Id.eq(id)).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let entry = AuditEntry {
            action: "sync.cancel_requested",
            actor: actor.to_owned(),
            resource_type: "sync_history",
            resource_id: m.id.clone(),
            connector_id: Some(m.connector_id.clone()),
            details: json!({"previous_status": previous}),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(m.into())
    }
}
