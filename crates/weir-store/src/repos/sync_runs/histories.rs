//! Run histories as the API reads them: one run, filtered pages of runs;
//! and a run's per-record errors, stored in bounded sizes and read by page
//! or by id cursor (for exports).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use tracing::instrument;
use weir_core::{PageRequest, RunStatus, SyncErrorType, Trigger, ids};

use super::{ClaimedRun, of};
use crate::entities::{sync_errors as se, sync_histories as sh};
use crate::repos::{Paged, now, paged};
use crate::{Store, StoreError, TenantScope};

/// A run as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncHistory {
    /// Time-ordered id (`ids::new_id`).
    pub id: String,
    /// The configuration the run executes.
    pub sync_configuration_id: String,
    /// The configuration's connector (copied, so filters need no join).
    pub connector_id: String,
    /// What queued it (`schedule` or `manual`).
    pub trigger: Trigger,
    /// Where it is.
    pub status: RunStatus,
    /// When it was queued; lists order by it.
    pub queued_at: DateTime<Utc>,
    /// When a runner claimed it; `None` while queued (and after a requeue).
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a finished state.
    pub finished_at: Option<DateTime<Utc>>,
    /// Milliseconds from claim to finish; `None` until finished.
    pub duration_ms: Option<i64>,
    /// Counts so far (live while running).
    pub counts: RunCounts,
    /// For a failed run, the stable [`SyncErrorType`] text.
    pub error_type: Option<String>,
    /// For a failed run, the readable cause.
    pub error_message: Option<String>,
    /// Cancellation was asked for; a running run stops at its next page.
    pub cancel_requested: bool,
}

/// A run's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// Records read from the source (inbound) or selected (outbound).
    pub read: i64,
    /// Records that did not exist before (inbound).
    pub created: i64,
    /// Records updated (or pushed, outbound).
    pub updated: i64,
    /// Records that failed, each with a [`SyncError`] row.
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
    /// Time-ordered id: the cursor of [`Store::sync_errors_after`].
    pub id: String,
    /// The record (its key, or its position when it has none).
    pub record_ref: Option<String>,
    /// Stable type (`mapping_error`, `record_error`, `push_error`).
    pub error_type: String,
    /// Readable cause, at most 2000 characters.
    pub message: String,
    /// The start of the record, at most [`MAX_EXCERPT_CHARS`] characters.
    pub excerpt: Option<String>,
    /// When it was stored (one time for a batch of errors).
    pub created_at: DateTime<Utc>,
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

/// An error to record; over-long texts are cut when stored.
#[derive(Debug, Clone)]
pub struct NewSyncError {
    /// The record's key or position; cut to 255 characters.
    pub record_ref: Option<String>,
    /// Why it failed.
    pub error_type: SyncErrorType,
    /// Readable cause; cut to 2000 characters.
    pub message: String,
    /// The start of the record; cut to [`MAX_EXCERPT_CHARS`].
    pub excerpt: Option<String>,
}

/// Run list filters; each set one narrows the list, `Default` lists all.
#[derive(Debug, Clone, Default)]
pub struct SyncHistoryFilter {
    /// Only this connector's runs.
    pub connector_id: Option<String>,
    /// Only this configuration's runs.
    pub sync_configuration_id: Option<String>,
    /// Only runs in this state.
    pub status: Option<RunStatus>,
    /// Queued at or after.
    pub from: Option<DateTime<Utc>>,
    /// Queued before.
    pub to: Option<DateTime<Utc>>,
}

/// Excerpts are bounded so a huge record cannot bloat the errors table.
pub const MAX_EXCERPT_CHARS: usize = 500;

impl Store {
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
        let txn = self.background_write_txn().await?;
        let mut models = models.into_iter().peekable();
        while models.peek().is_some() {
            let chunk: Vec<_> = models.by_ref().take(64).collect();
            se::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
        }
        txn.commit().await?;
        Ok(())
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
}
