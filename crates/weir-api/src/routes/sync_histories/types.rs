//! Bodies and query parameters of the sync history routes; the run list
//! filters are checked here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_core::{FieldErrors, RunStatus, Trigger, ids};
use weir_store::{SyncError, SyncHistory, SyncHistoryFilter};

use crate::problem::ApiError;
use crate::routes::events::time_range;

/// A sync run.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncHistoryOut {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// The sync configuration it belongs to.
    pub sync_configuration_id: String,
    /// The connector it belongs to.
    pub connector_id: String,
    /// `schedule` or `manual`.
    pub trigger: Trigger,
    /// `queued`, `running`, `succeeded`, `partial`, `failed` or `cancelled`.
    pub status: RunStatus,
    /// Queued at.
    pub queued_at: DateTime<Utc>,
    /// Started at.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished at.
    pub finished_at: Option<DateTime<Utc>>,
    /// Run time.
    pub duration_ms: Option<i64>,
    /// Records read (live while running).
    pub records_read: i64,
    /// Records created.
    pub records_created: i64,
    /// Records updated (outbound: pushed).
    pub records_updated: i64,
    /// Records that failed (see `GET /{id}/errors`).
    pub records_failed: i64,
    /// Bytes received (inbound) or sent (outbound).
    pub bytes: i64,
    /// Pages fetched or batches pushed.
    pub pages: i64,
    /// Why it failed.
    pub error_type: Option<String>,
    /// Readable cause.
    pub error_message: Option<String>,
    /// Cancellation was asked for.
    pub cancel_requested: bool,
}

impl From<SyncHistory> for SyncHistoryOut {
    fn from(h: SyncHistory) -> Self {
        Self {
            id: h.id,
            sync_configuration_id: h.sync_configuration_id,
            connector_id: h.connector_id,
            trigger: h.trigger,
            status: h.status,
            queued_at: h.queued_at,
            started_at: h.started_at,
            finished_at: h.finished_at,
            duration_ms: h.duration_ms,
            records_read: h.counts.read,
            records_created: h.counts.created,
            records_updated: h.counts.updated,
            records_failed: h.counts.failed,
            bytes: h.counts.bytes,
            pages: h.counts.pages,
            error_type: h.error_type,
            error_message: h.error_message,
            cancel_requested: h.cancel_requested,
        }
    }
}

/// A per-record error.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncErrorOut {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// The record's key (or its page and position).
    pub record_ref: Option<String>,
    /// `mapping_error`, `record_error` or `push_error`.
    pub error_type: String,
    /// Readable cause.
    pub message: String,
    /// The record's first 500 characters.
    pub excerpt: Option<String>,
    /// When it was recorded (UTC).
    pub created_at: DateTime<Utc>,
}

impl From<SyncError> for SyncErrorOut {
    fn from(e: SyncError) -> Self {
        Self {
            id: e.id,
            record_ref: e.record_ref,
            error_type: e.error_type,
            message: e.message,
            excerpt: e.excerpt,
            created_at: e.created_at,
        }
    }
}

/// Run list filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SyncHistoryQuery {
    /// Connector id.
    pub connector_id: Option<String>,
    /// Configuration id.
    pub sync_configuration_id: Option<String>,
    /// `queued`, `running`, `succeeded`, `partial`, `failed` or `cancelled`.
    #[param(pattern = "^(queued|running|succeeded|partial|failed|cancelled)$")]
    pub status: Option<String>,
    /// Queued from (date or RFC 3339), inclusive.
    pub from: Option<String>,
    /// Queued to (date = through its end, or RFC 3339), exclusive.
    pub to: Option<String>,
    /// 1-based page.
    pub page: Option<u64>,
    /// 1 to 100.
    pub per_page: Option<u64>,
}

impl SyncHistoryQuery {
    pub(super) fn parse(&self) -> Result<SyncHistoryFilter, ApiError> {
        let mut e = FieldErrors::new();
        for (field, v) in [("connector_id", &self.connector_id), ("sync_configuration_id", &self.sync_configuration_id)]
        {
            if v.as_deref().is_some_and(|v| !ids::is_valid_id(v)) {
                e.add(field, "is not an id");
            }
        }
        let status = match self.status.as_deref().map(str::parse::<RunStatus>).transpose() {
            Ok(s) => s,
            Err(_) => {
                let all: Vec<&str> = RunStatus::VARIANTS.iter().map(|s| s.as_str()).collect();
                e.add("status", format!("must be one of {}", all.join(", ")));
                None
            }
        };
        let (from, to) = time_range(self.from.as_deref(), self.to.as_deref(), &mut e);
        e.into_result().map_err(ApiError::Validation)?;
        Ok(SyncHistoryFilter {
            connector_id: self.connector_id.clone(),
            sync_configuration_id: self.sync_configuration_id.clone(),
            status,
            from,
            to,
        })
    }
}

/// Paging of a run's errors.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page.
    pub page: Option<u64>,
    /// 1 to 100.
    pub per_page: Option<u64>,
}

/// What the status view is about (one of the two).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// A connector.
    pub connector_id: Option<String>,
    /// A sync configuration.
    pub sync_configuration_id: Option<String>,
}

/// The status of a connector's or configuration's syncs.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncStatusOut {
    /// Running runs with their live counts.
    pub active_syncs: Vec<SyncHistoryOut>,
    /// Runs waiting in the queue.
    pub pending_jobs: u64,
    /// The newest finished run.
    pub last_sync: Option<SyncHistoryOut>,
    /// The next scheduled run time (UTC).
    pub next_scheduled_at: Option<DateTime<Utc>>,
}
