//! A run's export as a file download: a CSV with a summary row and one
//! row per error, or JSON with the run and its errors, streamed from the
//! store in chunks (constant memory at any number of errors).

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use weir_core::FieldErrors;
use weir_store::{Store, SyncError, TenantScope};

use super::types::{SyncErrorOut, SyncHistoryOut};
use crate::auth::TenantCaller;
use crate::extract::{ApiQuery, Id};
use crate::policy::{SyncAction, sync as policy};
use crate::problem::{ApiError, Problem};
use crate::{AppState, download};

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
