//! `/api/v1/integration/sync-histories` and `/sync-status`: sync runs with
//! their counts, per-record errors, a streamed export (constant memory at
//! any number of errors), cancellation, and the status view (TASK-014).
//! The handlers are here except the export's (`export.rs`); the bodies and
//! query parameters are in `types.rs`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use weir_core::{FieldErrors, ids};

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiQuery, Id, PageParams};
use crate::policy::{SyncAction, sync as policy};
use crate::problem::{ApiError, Problem};

pub mod export;
mod types;

pub use export::{ExportQuery, SyncHistoryExportOut};
pub use types::{PageQuery, StatusQuery, SyncErrorOut, SyncHistoryOut, SyncHistoryQuery, SyncStatusOut};

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
