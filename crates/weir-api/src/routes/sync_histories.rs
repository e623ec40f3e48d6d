//! `/api/v1/integration/sync-histories` and `/sync-status`: sync runs with
//! their counts, per-record errors, a streamed export (constant memory at
//! any number of errors), cancellation, and the status view (TASK-014).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use weir_core::{FieldErrors, RunStatus, Trigger, ids};
use weir_store::{Store, SyncError, SyncHistory, SyncHistoryFilter, TenantScope};

use super::events::time_range;
use crate::auth::TenantCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiQuery, Id, PageParams};
use crate::policy::{SyncAction, sync as policy};
use crate::problem::{ApiError, Problem};
use crate::{AppState, download};

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
    /// When.
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
    fn parse(&self) -> Result<SyncHistoryFilter, ApiError> {
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

/// List sync runs (viewer), newest first.
#[utoipa::path(get, path = "/api/v1/integration/sync-histories", tag = "sync-histories", security(("bearer" = [])),
    params(SyncHistoryQuery),
    responses(
        (status = 200, body = List<SyncHistoryOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_sync_histories(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(q): ApiQuery<SyncHistoryQuery>,
) -> Result<Json<List<SyncHistoryOut>>, ApiError> {
    caller.require(policy(SyncAction::Read))?;
    let filter = q.parse()?;
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let paged = state.store.list_sync_histories(caller.scope(), &filter, page).await?;
    Ok(Json(List::new(paged.items.into_iter().map(SyncHistoryOut::from).collect(), page, paged.total)))
}

/// Show a sync run with its counts (viewer).
#[utoipa::path(get, path = "/api/v1/integration/sync-histories/{id}", tag = "sync-histories", security(("bearer" = [])),
    params(("id" = String, Path, description = "Sync history id")),
    responses(
        (status = 200, body = Data<SyncHistoryOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_sync_history(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<Json<Data<SyncHistoryOut>>, ApiError> {
    caller.require(policy(SyncAction::Read))?;
    Ok(Json(Data::new(state.store.get_sync_history(caller.scope(), &id).await?.into())))
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

/// A run's per-record errors, oldest first (viewer).
#[utoipa::path(get, path = "/api/v1/integration/sync-histories/{id}/errors", tag = "sync-histories",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Sync history id"), PageQuery),
    responses(
        (status = 200, body = List<SyncErrorOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_sync_errors(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<List<SyncErrorOut>>, ApiError> {
    caller.require(policy(SyncAction::Read))?;
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let paged = state.store.list_sync_errors(caller.scope(), &id, page).await?;
    Ok(Json(List::new(paged.items.into_iter().map(SyncErrorOut::from).collect(), page, paged.total)))
}

/// Export format.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (default) or `json`.
    #[param(pattern = "^(csv|json)$")]
    pub format: Option<String>,
}

/// Errors read per database round trip while exporting.
const EXPORT_CHUNK: u64 = 500;

/// CSV columns: one `summary` row with the run's counts, then one `error`
/// row per record error.
const CSV_HEADER: [&str; 13] = [
    "kind",
    "sync_history_id",
    "status",
    "records_read",
    "records_created",
    "records_updated",
    "records_failed",
    "error_id",
    "record_ref",
    "error_type",
    "message",
    "excerpt",
    "created_at",
];

fn error_row(run_id: &str, e: &SyncError) -> Vec<String> {
    let mut row = vec!["error".to_owned(), run_id.to_owned()];
    row.extend(std::iter::repeat_n(String::new(), 5));
    row.extend([
        e.id.clone(),
        e.record_ref.clone().unwrap_or_default(),
        e.error_type.clone(),
        e.message.clone(),
        e.excerpt.clone().unwrap_or_default(),
        e.created_at.to_rfc3339(),
    ]);
    row
}

/// A run's errors in id order, `EXPORT_CHUNK` per query, rendered to bytes
/// by `render(errors, is_first_chunk)`.
fn error_stream(
    store: Store,
    scope: TenantScope,
    run_id: String,
    render: impl Fn(&Vec<SyncError>, bool) -> Bytes + Send + Sync + 'static,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    download::chunks(
        None::<String>,
        move |after: Option<String>| {
            let (store, scope, run_id) = (store.clone(), scope.clone(), run_id.clone());
            async move {
                let errors = store
                    .sync_errors_after(&scope, &run_id, after.as_deref(), EXPORT_CHUNK)
                    .await
                    .map_err(|e| e.to_string())?;
                let next = errors.last().map(|e| e.id.clone());
                Ok((!errors.is_empty()).then_some((errors, next)))
            }
        },
        render,
    )
}

/// Export a run: its summary and every error, as a file download (viewer).
/// Streamed: a run with 100,000 errors is exported in constant memory.
#[utoipa::path(get, path = "/api/v1/integration/sync-histories/{id}/export", tag = "sync-histories",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Sync history id"), ExportQuery),
    responses(
        (status = 200, description = "CSV (header row, a summary row, one row per error) or JSON with the run and its errors",
            content((String = "text/csv"), (SyncHistoryExportOut = "application/json"))),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn export_sync_history(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    caller.require(policy(SyncAction::Read))?;
    let format = q.format.as_deref().unwrap_or("csv");
    if !matches!(format, "csv" | "json") {
        return Err(ApiError::Validation(FieldErrors::single("format", "must be csv or json")));
    }
    let h = state.store.get_sync_history(caller.scope(), &id).await?;
    let summary = SyncHistoryOut::from(h.clone());
    let run_id = h.id.clone();
    let (store, scope) = (state.store.clone(), caller.scope().clone());
    let (content_type, head, tail, body): (&str, Bytes, Bytes, _) = if format == "csv" {
        let mut summary_row = vec![
            "summary".to_owned(),
            h.id.clone(),
            h.status.to_string(),
            h.counts.read.to_string(),
            h.counts.created.to_string(),
            h.counts.updated.to_string(),
            h.counts.failed.to_string(),
        ];
        summary_row.extend(std::iter::repeat_n(String::new(), 6));
        let head = download::csv_rows(&[CSV_HEADER.iter().map(|s| (*s).to_owned()).collect(), summary_row]);
        let rid = run_id.clone();
        let stream = error_stream(store, scope, run_id.clone(), move |errors, _| {
            download::csv_rows(&errors.iter().map(|e| error_row(&rid, e)).collect::<Vec<_>>())
        });
        ("text/csv; charset=utf-8", head, Bytes::new(), futures::StreamExt::boxed(stream))
    } else {
        let head = Bytes::from(format!(r#"{{"sync_history":{},"errors":["#, json!(summary)));
        let stream = error_stream(store, scope, run_id.clone(), |errors, first| {
            let mut out = String::new();
            for (i, e) in errors.iter().enumerate() {
                if !(first && i == 0) {
                    out.push(',');
                }
                out.push_str(&json!(SyncErrorOut::from(e.clone())).to_string());
            }
            Bytes::from(out)
        });
        ("application/json", head, Bytes::from_static(b"]}"), futures::StreamExt::boxed(stream))
    };
    Ok(download::attachment(content_type, &format!("sync-history-{run_id}.{format}"), head, body, tail))
}

/// The JSON export of a run (streamed by [`export_sync_history`]; this
/// type only describes it).
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncHistoryExportOut {
    /// The run.
    pub sync_history: SyncHistoryOut,
    /// Its per-record errors, oldest first.
    pub errors: Vec<SyncErrorOut>,
}

/// Cancel a queued or running run (operator): a queued run ends at once, a
/// running one at its next page. 409 once it has finished.
#[utoipa::path(post, path = "/api/v1/integration/sync-histories/{id}/cancel", tag = "sync-histories",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Sync history id")),
    responses(
        (status = 202, body = Data<SyncHistoryOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn cancel_sync_history(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<(StatusCode, Json<Data<SyncHistoryOut>>), ApiError> {
    caller.require(policy(SyncAction::Execute))?;
    let h = state.store.cancel_sync_run(caller.scope(), &id, &caller.actor()).await?;
    Ok((StatusCode::ACCEPTED, Json(Data::new(h.into()))))
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

/// Sync status of a connector or configuration (viewer, TASK-014).
#[utoipa::path(get, path = "/api/v1/integration/sync-status", tag = "sync-histories", security(("bearer" = [])),
    params(StatusQuery),
    responses(
        (status = 200, body = Data<SyncStatusOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sync_status(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(q): ApiQuery<StatusQuery>,
) -> Result<Json<Data<SyncStatusOut>>, ApiError> {
    caller.require(policy(SyncAction::Read))?;
    match (&q.connector_id, &q.sync_configuration_id) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(ApiError::Validation(FieldErrors::single(
                "connector_id",
                "give exactly one of connector_id and sync_configuration_id",
            )));
        }
        _ => {}
    }
    // Another tenant's (or no) object: 404, like every id here.
    if let Some(c) = &q.connector_id {
        if !ids::is_valid_id(c) {
            return Err(ApiError::NotFound);
        }
        state.store.get_connector(caller.scope(), c).await?;
    }
    if let Some(c) = &q.sync_configuration_id {
        if !ids::is_valid_id(c) {
            return Err(ApiError::NotFound);
        }
        state.store.get_sync_configuration(caller.scope(), c).await?;
    }
    let s =
        state.store.sync_status(caller.scope(), q.connector_id.as_deref(), q.sync_configuration_id.as_deref()).await?;
    Ok(Json(Data::new(SyncStatusOut {
        active_syncs: s.active.into_iter().map(Into::into).collect(),
        pending_jobs: s.pending_jobs,
        last_sync: s.last.map(Into::into),
        next_scheduled_at: s.next_scheduled_at,
    })))
}
