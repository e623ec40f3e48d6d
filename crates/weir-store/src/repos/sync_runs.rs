//! Sync runs: their histories (queued → running → succeeded | partial |
//! failed | cancelled), claimed by runners like events are; per-record
//! errors; the scheduler's compare-and-set claim of due configurations; and
//! the status view.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;
use tracing::instrument;
use weir_core::sync::Schedule;
use weir_core::{PageRequest, ids};

use super::audit::AuditEntry;
use super::connector_health::Activity;
use super::rollups::{DayCounters, ErrorCounters};
use super::{Paged, now, paged};
use crate::entities::{records as rec, sync_configurations as sc, sync_errors as se, sync_histories as sh};
use weir_core::{RollupCounter, RunStatus, SyncErrorType, Trigger};

use crate::{Record, Store, StoreError, TenantScope};

/// A run as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncHistory {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// The sync configuration it belongs to.
    pub sync_configuration_id: String,
    /// The connector it belongs to.
    pub connector_id: String,
    /// What queued it (`schedule` or `manual`).
    pub trigger: Trigger,
    /// Where it is.
    pub status: RunStatus,
    /// Queued at.
    pub queued_at: DateTime<Utc>,
    /// Started at.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished at.
    pub finished_at: Option<DateTime<Utc>>,
    /// Run time.
    pub duration_ms: Option<i64>,
    /// Counts so far (live while running).
    pub counts: RunCounts,
    /// Why it failed.
    pub error_type: Option<String>,
    /// Readable cause.
    pub error_message: Option<String>,
    /// Cancellation asked for.
    pub cancel_requested: bool,
}

/// A run's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// Records read from the source (inbound) or selected (outbound).
    pub read: i64,
    /// Records created.
    pub created: i64,
    /// Records updated (or pushed, outbound).
    pub updated: i64,
    /// Records that failed.
    pub failed: i64,
    /// Bytes received (inbound) or sent (outbound).
    pub bytes: i64,
    /// Pages fetched or batches pushed.
    pub pages: i64,
}

impl From<sh::Model> for SyncHistory {
    fn from(m: sh::Model) -> Self {
        Self {
            counts: RunCounts {
                read: m.records_read,
                created: m.records_created,
                updated: m.records_updated,
                failed: m.records_failed,
                bytes: m.bytes_transferred,
                pages: m.pages,
            },
            id: m.id,
            sync_configuration_id: m.sync_configuration_id,
            connector_id: m.connector_id,
            trigger: m.trigger_type,
            status: m.status,
            queued_at: m.queued_at,
            started_at: m.started_at,
            finished_at: m.finished_at,
            duration_ms: m.duration_ms,
            error_type: m.error_type,
            error_message: m.error_message,
            cancel_requested: m.cancel_requested,
        }
    }
}

/// A per-record error of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncError {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// The record (its key, or its position when it has none).
    pub record_ref: Option<String>,
    /// Stable type (`mapping_error`, `record_error`, `push_error`).
    pub error_type: String,
    /// Readable cause.
    pub message: String,
    /// The start of the record, at most 500 characters.
    pub excerpt: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// An error to record.
#[derive(Debug, Clone)]
pub struct NewSyncError {
    /// The record.
    pub record_ref: Option<String>,
    /// Why it failed.
    pub error_type: SyncErrorType,
    /// Readable cause.
    pub message: String,
    /// The start of the record.
    pub excerpt: Option<String>,
}

impl From<se::Model> for SyncError {
    fn from(m: se::Model) -> Self {
        Self {
            id: m.id,
            record_ref: m.record_ref,
            error_type: m.error_type,
            message: m.message,
            excerpt: m.excerpt,
            created_at: m.created_at,
        }
    }
}

/// Run list filters.
#[derive(Debug, Clone, Default)]
pub struct SyncHistoryFilter {
    /// Only those of this connector.
    pub connector_id: Option<String>,
    /// Only those of this sync configuration.
    pub sync_configuration_id: Option<String>,
    /// Only runs in this state.
    pub status: Option<RunStatus>,
    /// Queued at or after.
    pub from: Option<DateTime<Utc>>,
    /// Queued before.
    pub to: Option<DateTime<Utc>>,
}

/// A run a runner holds, with the tenant scope the claim grants.
#[derive(Debug, Clone)]
pub struct ClaimedRun {
    /// The run's tenant.
    pub scope: TenantScope,
    /// The run.
    pub history: SyncHistory,
}

/// How a run ends.
#[derive(Debug, Clone)]
pub struct RunEnd {
    /// One of the finished states.
    pub status: RunStatus,
    /// Final counts.
    pub counts: RunCounts,
    /// For `failed`: why, and the message.
    pub error: Option<(SyncErrorType, String)>,
}

/// The status view of a connector or configuration.
#[derive(Debug, Clone)]
pub struct SyncStatus {
    /// Queued and running runs, oldest first.
    pub active: Vec<SyncHistory>,
    /// Runs waiting for a runner.
    pub pending_jobs: u64,
    /// The newest finished run.
    pub last: Option<SyncHistory>,
    /// The earliest next scheduled time.
    pub next_scheduled_at: Option<DateTime<Utc>>,
}

fn of(scope: &TenantScope) -> sea_orm::Select<sh::Entity> {
    sh::Entity::find().filter(sh::Column::TenantId.eq(scope.tenant_id()))
}

fn lease_end(at: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60))
}

/// Excerpts are bounded so a huge record cannot bloat the errors table.
pub const MAX_EXCERPT_CHARS: usize = 500;

impl Store {
    /// Queues a run of a live, active configuration (`Conflict(SyncAlreadyActive)`
    /// while one is queued or running), audited.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn queue_sync_run(
        &self,
        scope: &TenantScope,
        sync_configuration_id: &str,
        trigger: Trigger,
        actor: &str,
    ) -> Result<SyncHistory, StoreError> {
        let txn = self.write_txn().await?;
        let c = sc::Entity::find()
            .filter(sc::Column::TenantId.eq(scope.tenant_id()))
            .filter(sc::Column::Id.eq(sync_configuration_id))
            .filter(sc::Column::DeletedAt.is_null())
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        if !c.is_active {
            return Err(StoreError::StateConflict("the sync configuration is not active"));
        }
        if c.trigger_type == Trigger::Webhook {
            return Err(StoreError::StateConflict("a webhook configuration runs on the events it receives"));
        }
        let h = insert_run(&txn, scope.tenant_id(), &c, trigger).await?;
        let entry = AuditEntry {
            action: "sync.queued",
            actor: actor.to_owned(),
            resource_type: "sync_history",
            resource_id: h.id.clone(),
            connector_id: Some(c.connector_id.clone()),
            details: json!({"sync_configuration_id": c.id, "trigger": trigger}),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(h.into())
    }

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
        let txn = self.write_txn().await?;
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
        let txn = self.write_txn().await?;
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

    /// Stores a run's per-record errors.
    pub async fn add_sync_errors(&self, run: &ClaimedRun, errors: Vec<NewSyncError>) -> Result<(), StoreError> {
        if errors.is_empty() {
            return Ok(());
        }
        let at = now();
        let models: Vec<se::ActiveModel> = errors
            .into_iter()
            .map(|e| se::ActiveModel {
                id: Set(ids::new_id()),
                tenant_id: Set(run.scope.tenant_id().to_owned()),
                sync_history_id: Set(run.history.id.clone()),
                record_ref: Set(e.record_ref.map(|r| r.chars().take(255).collect())),
                error_type: Set(e.error_type.as_str().to_owned()),
                message: Set(e.message.chars().take(2000).collect()),
                excerpt: Set(e.excerpt.map(|x| x.chars().take(MAX_EXCERPT_CHARS).collect())),
                created_at: Set(at),
            })
            .collect();
        let txn = self.write_txn().await?;
        let mut models = models.into_iter().peekable();
        while models.peek().is_some() {
            let chunk: Vec<_> = models.by_ref().take(64).collect();
            se::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Ends a run: final counts and status, the configuration's last run
    /// times, the day's rollups, and an audit entry with the counts.
    #[instrument(skip_all)]
    pub async fn finish_sync_run(&self, run: &ClaimedRun, owner: &str, end: RunEnd) -> Result<SyncHistory, StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
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
        let (tenant, connector, day) = (run.scope.tenant_id(), m.connector_id.as_str(), at.date_naive());
        let mut days = DayCounters::default();
        days.add(tenant, connector, day, RollupCounter::SyncsTotal, 1);
        if let Some(counter) = end.status.rollup() {
            days.add(tenant, connector, day, counter, 1);
        }
        days.add(tenant, connector, day, RollupCounter::RecordsProcessed, end.counts.created + end.counts.updated);
        days.write(&txn).await?;
        let mut errors = ErrorCounters::default();
        if let Some((t, _)) = &end.error {
            errors.add(tenant, connector, day, t.as_str(), 1);
        }
        if end.counts.failed > 0 {
            errors.add(tenant, connector, day, SyncErrorType::Record.as_str(), end.counts.failed);
        }
        errors.write(&txn).await?;
        let mut activity = Activity::default();
        if let Some(failing) = end.status.health_signal() {
            activity.add(connector, failing);
        }
        let health_changes = activity.write(&txn, at).await?;
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
        txn.commit().await?;
        self.announce_health(&health_changes);
        Ok(m.into())
    }

    /// Audits a run's start (called by the runner once it holds the run).
    pub async fn audit_sync_started(&self, run: &ClaimedRun) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
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

    /// The tenant's runs, newest first.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn list_sync_histories(
        &self,
        scope: &TenantScope,
        filter: &SyncHistoryFilter,
        page: PageRequest,
    ) -> Result<Paged<SyncHistory>, StoreError> {
        let mut q = of(scope);
        if let Some(c) = &filter.connector_id {
            q = q.filter(sh::Column::ConnectorId.eq(c.as_str()));
        }
        if let Some(c) = &filter.sync_configuration_id {
            q = q.filter(sh::Column::SyncConfigurationId.eq(c.as_str()));
        }
        if let Some(s) = &filter.status {
            q = q.filter(sh::Column::Status.eq(*s));
        }
        if let Some(f) = filter.from {
            q = q.filter(sh::Column::QueuedAt.gte(f));
        }
        if let Some(t) = filter.to {
            q = q.filter(sh::Column::QueuedAt.lt(t));
        }
        paged(&self.db, q.order_by_desc(sh::Column::QueuedAt).order_by_desc(sh::Column::Id), page).await
    }

    /// One run of the tenant.
    pub async fn get_sync_history(&self, scope: &TenantScope, id: &str) -> Result<SyncHistory, StoreError> {
        of(scope).filter(sh::Column::Id.eq(id)).one(&self.db).await?.map(Into::into).ok_or(StoreError::NotFound)
    }

    /// A run's errors, oldest first, by page.
    pub async fn list_sync_errors(
        &self,
        scope: &TenantScope,
        run_id: &str,
        page: PageRequest,
    ) -> Result<Paged<SyncError>, StoreError> {
        self.get_sync_history(scope, run_id).await?;
        let q = se::Entity::find()
            .filter(se::Column::TenantId.eq(scope.tenant_id()))
            .filter(se::Column::SyncHistoryId.eq(run_id));
        paged(&self.db, q.order_by_asc(se::Column::CreatedAt).order_by_asc(se::Column::Id), page).await
    }

    /// Up to `limit` of a run's errors after `after` (an error id; ids are
    /// time-ordered), for streaming exports in constant memory.
    pub async fn sync_errors_after(
        &self,
        scope: &TenantScope,
        run_id: &str,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<SyncError>, StoreError> {
        let mut q = se::Entity::find()
            .filter(se::Column::TenantId.eq(scope.tenant_id()))
            .filter(se::Column::SyncHistoryId.eq(run_id));
        if let Some(a) = after {
            q = q.filter(se::Column::Id.gt(a));
        }
        Ok(q.order_by_asc(se::Column::Id).limit(limit).all(&self.db).await?.into_iter().map(Into::into).collect())
    }

    /// The scheduler's step: every active scheduled configuration whose
    /// `next_run_at` has come gets its next time (from now: missed slots
    /// collapse into this one run) by compare-and-set — so of several
    /// schedulers exactly one wins each due time — and a queued run unless
    /// one is already active. Answers how many runs were queued.
    #[instrument(skip_all)]
    pub async fn queue_due_schedules(&self, limit: u64) -> Result<u64, StoreError> {
        let at = now();
        let due = sc::Entity::find()
            .filter(sc::Column::IsActive.eq(true))
            .filter(sc::Column::DeletedAt.is_null())
            .filter(sc::Column::TriggerType.eq(Trigger::Schedule))
            .filter(sc::Column::NextRunAt.lte(at))
            .order_by_asc(sc::Column::NextRunAt)
            .limit(limit)
            .all(&self.db)
            .await?;
        let mut queued = 0;
        for c in due {
            let Some(was) = c.next_run_at else { continue };
            let next = c.schedule.as_deref().and_then(|s| Schedule::parse(s).ok()).and_then(|s| s.next_after(at));
            let txn = self.write_txn().await?;
            let won = sc::Entity::update_many()
                .col_expr(sc::Column::NextRunAt, Expr::value(next))
                .filter(sc::Column::Id.eq(c.id.as_str()))
                .filter(sc::Column::IsActive.eq(true))
                .filter(sc::Column::DeletedAt.is_null())
                .filter(sc::Column::NextRunAt.eq(was))
                .exec(&txn)
                .await?
                .rows_affected
                == 1;
            if !won {
                continue;
            }
            let active = sh::Entity::find()
                .filter(sh::Column::SyncConfigurationId.eq(c.id.as_str()))
                .filter(sh::Column::Status.is_in([RunStatus::Queued, RunStatus::Running]))
                .count(&txn)
                .await?;
            if active == 0 {
                // A manual run queued since the count (the transaction is
                // void now): the next tick finds it active and moves on.
                let h = match insert_run(&txn, &c.tenant_id, &c, Trigger::Schedule).await {
                    Ok(h) => h,
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                };
                let entry = AuditEntry {
                    action: "sync.queued",
                    actor: "scheduler".to_owned(),
                    resource_type: "sync_history",
                    resource_id: h.id,
                    connector_id: Some(c.connector_id.clone()),
                    details: json!({"sync_configuration_id": c.id, "trigger": Trigger::Schedule, "due_at": was}),
                };
                self.append_audits(&txn, &c.tenant_id, vec![entry]).await?;
                queued += 1;
            }
            txn.commit().await?;
        }
        Ok(queued)
    }

    /// Status of a connector's or a configuration's runs.
    pub async fn sync_status(
        &self,
        scope: &TenantScope,
        connector_id: Option<&str>,
        sync_configuration_id: Option<&str>,
    ) -> Result<SyncStatus, StoreError> {
        let mut q = of(scope);
        let mut configs = sc::Entity::find()
            .filter(sc::Column::TenantId.eq(scope.tenant_id()))
            .filter(sc::Column::DeletedAt.is_null())
            .filter(sc::Column::IsActive.eq(true));
        if let Some(c) = connector_id {
            q = q.filter(sh::Column::ConnectorId.eq(c));
            configs = configs.filter(sc::Column::ConnectorId.eq(c));
        }
        if let Some(c) = sync_configuration_id {
            q = q.filter(sh::Column::SyncConfigurationId.eq(c));
            configs = configs.filter(sc::Column::Id.eq(c));
        }
        let active: Vec<SyncHistory> = q
            .clone()
            .filter(sh::Column::Status.is_in([RunStatus::Queued, RunStatus::Running]))
            .order_by_asc(sh::Column::QueuedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        let pending_jobs = active.iter().filter(|h| h.status == RunStatus::Queued).count() as u64;
        let last = q
            .filter(sh::Column::Status.is_in([
                RunStatus::Succeeded,
                RunStatus::Partial,
                RunStatus::Failed,
                RunStatus::Cancelled,
            ]))
            .order_by_desc(sh::Column::FinishedAt)
            .one(&self.db)
            .await?
            .map(Into::into);
        let next_scheduled_at = configs
            .filter(sc::Column::NextRunAt.is_not_null())
            .order_by_asc(sc::Column::NextRunAt)
            .one(&self.db)
            .await?
            .and_then(|c| c.next_run_at);
        Ok(SyncStatus {
            active: active.into_iter().filter(|h| h.status == RunStatus::Running).collect(),
            pending_jobs,
            last,
            next_scheduled_at,
        })
    }

    /// Records of `entity_type` changed after `since`, in `(updated_at, id)`
    /// order after `after` — an outbound run's source, read by pages.
    pub async fn records_changed_since(
        &self,
        scope: &TenantScope,
        entity_type: &str,
        since: Option<DateTime<Utc>>,
        after: Option<(DateTime<Utc>, String)>,
        limit: u64,
    ) -> Result<Vec<Record>, StoreError> {
        let mut q = rec::Entity::find()
            .filter(rec::Column::TenantId.eq(scope.tenant_id()))
            .filter(rec::Column::EntityType.eq(entity_type));
        if let Some(s) = since {
            q = q.filter(rec::Column::UpdatedAt.gt(s));
        }
        if let Some((t, id)) = after {
            q = q.filter(
                Condition::any()
                    .add(rec::Column::UpdatedAt.gt(t))
                    .add(Condition::all().add(rec::Column::UpdatedAt.eq(t)).add(rec::Column::Id.gt(id))),
            );
        }
        Ok(q.order_by_asc(rec::Column::UpdatedAt)
            .order_by_asc(rec::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Record::from)
            .collect())
    }
}

async fn insert_run<C: sea_orm::ConnectionTrait>(
    conn: &C,
    tenant_id: &str,
    c: &sc::Model,
    trigger: Trigger,
) -> Result<sh::Model, StoreError> {
    let m = sh::ActiveModel {
        id: Set(ids::new_id()),
        tenant_id: Set(tenant_id.to_owned()),
        sync_configuration_id: Set(c.id.clone()),
        connector_id: Set(c.connector_id.clone()),
        trigger_type: Set(trigger),
        status: Set(RunStatus::Queued),
        queued_at: Set(now()),
        started_at: Set(None),
        finished_at: Set(None),
        duration_ms: Set(None),
        records_read: Set(0),
        records_created: Set(0),
        records_updated: Set(0),
        records_failed: Set(0),
        error_type: Set(None),
        error_message: Set(None),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        cancel_requested: Set(false),
        progress: Set(None),
        bytes_transferred: Set(0),
        pages: Set(0),
    };
    // The partial unique index turns a second active run into
    // `Conflict(SyncAlreadyActive)`.
    Ok(m.insert(conn).await?)
}
