//! Queueing runs — by hand, or by the scheduler's compare-and-set claim of
//! due configurations — and the status view of what is queued, running,
//! last finished and next due.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::json;
use tracing::instrument;
use weir_core::ids;
use weir_core::sync::Schedule;
use weir_core::{RunStatus, Trigger};

use super::{SyncHistory, of};
use crate::entities::{sync_configurations as sc, sync_histories as sh};
use crate::repos::audit::AuditEntry;
use crate::repos::now;
use crate::{Store, StoreError, TenantScope};

/// The status view of a connector or configuration.
#[derive(Debug, Clone)]
pub struct SyncStatus {
    /// Running runs, oldest queued first (queued ones are only counted, in
    /// `pending_jobs`).
    pub active: Vec<SyncHistory>,
    /// Queued runs waiting for a runner.
    pub pending_jobs: u64,
    /// The run that finished last, in any finished state.
    pub last: Option<SyncHistory>,
    /// The earliest `next_run_at` of the active configurations in view.
    pub next_scheduled_at: Option<DateTime<Utc>>,
}

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
            return Err(StoreError::Unprocessable(
                "a webhook-triggered configuration runs on the events it receives; it cannot be run by hand",
            ));
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
