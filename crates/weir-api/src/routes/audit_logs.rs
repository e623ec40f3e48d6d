//! `/api/v1/integration/audit-logs` (admin): the tenant's hash-chained
//! audit trail — list with filters and a streamed CSV/JSON export. The
//! chain's verification and signed head are in `audit_chain`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use weir_core::FieldErrors;
use weir_store::{AuditFilter, AuditRecord};

use super::events::time_range;
use crate::auth::TenantCaller;
use crate::envelope::List;
use crate::extract::{ApiQuery, PageParams};
use crate::problem::{ApiError, Problem};
use crate::{AppState, download, policy};

/// An audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// Position in the tenant's chain, from 1.
    pub seq: i64,
    /// Action, e.g. `connector.created` (docs/audit.md lists them all).
    pub action: String,
    /// Who: `user:<id>`, `token:<id>`, `receiver:<id>`, `sync_configuration:<id>`, `worker`, `scheduler`.
    pub actor: String,
    /// The person behind the actor, `Name <email>`, when it is a user or a
    /// user's token (listings only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
    /// Kind of object.
    pub resource_type: Option<String>,
    /// Its id.
    pub resource_id: Option<String>,
    /// Connector concerned.
    pub connector_id: Option<String>,
    /// What happened (never secret values).
    #[schema(value_type = Object)]
    pub details: Value,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash: HMAC-SHA256, under a key derived from the master
    /// key, of the previous hash and every column of this entry.
    pub entry_hash: String,
    /// When it was recorded (UTC).
    pub created_at: DateTime<Utc>,
    /// When retention dropped this refusal entry's body (actor and details
    /// are empty since; its hash still verifies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pruned_at: Option<DateTime<Utc>>,
}

impl From<AuditRecord> for AuditOut {
    fn from(r: AuditRecord) -> Self {
        Self {
            id: r.id,
            seq: r.seq,
            action: r.action,
            actor: r.actor,
            actor_name: None,
            resource_type: r.resource_type,
            resource_id: r.resource_id,
            connector_id: r.connector_id,
            details: r.details,
            prev_hash: r.prev_hash,
            entry_hash: r.entry_hash,
            created_at: r.created_at,
            pruned_at: r.pruned_at,
        }
    }
}

/// Audit filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Exact action.
    pub action: Option<String>,
    /// From (date or RFC 3339), inclusive.
    pub from: Option<String>,
    /// To (date = through its end, or RFC 3339), exclusive.
    pub to: Option<String>,
    /// Entries about one record, `entity_type/external_id`: its own
    /// (`record.created`, …) and the sync run page entries
    /// (`sync.records_written`) that list it.
    pub record: Option<String>,
    /// Export only: `csv` (default) or `json`.
    #[param(pattern = "^(csv|json)$")]
    pub format: Option<String>,
    /// 1-based page (list).
    pub page: Option<u64>,
    /// 1 to 100 (list).
    pub per_page: Option<u64>,
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter, ApiError> {
        let mut e = FieldErrors::new();
        if self.action.as_deref().is_some_and(|a| a.is_empty() || a.len() > 100) {
            e.add("action", "must be 1 to 100 characters");
        }
        if self.record.as_deref().is_some_and(|r| r.is_empty() || r.len() > 400 || !r.contains('/')) {
            e.add("record", "must be entity_type/external_id, at most 400 characters");
        }
        let (from, to) = time_range(self.from.as_deref(), self.to.as_deref(), &mut e);
        e.into_result().map_err(ApiError::Validation)?;
        Ok(AuditFilter { action: self.action.clone(), from, to, record: self.record.clone() })
    }
}

/// List the tenant's audit entries, newest first (admin).
#[utoipa::path(get, path = "/api/v1/integration/audit-logs", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, body = List<AuditOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_audit_logs(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<List<AuditOut>>, ApiError> {
    caller.require(policy::audit())?;
    let filter = q.filter()?;
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let paged = state.store.list_audit_filtered(caller.scope(), &filter, page).await?;
    let mut items: Vec<AuditOut> = paged.items.into_iter().map(AuditOut::from).collect();
    let actors: Vec<&str> = items.iter().map(|a| a.actor.as_str()).collect();
    let names = state.store.person_labels(caller.scope(), &actors).await?;
    for item in &mut items {
        item.actor_name = names.get(&item.actor).cloned();
    }
    Ok(Json(List::new(items, page, paged.total)))
}

/// Entries read per query while exporting.
const EXPORT_CHUNK: u64 = 500;

const CSV_HEADER: [&str; 12] = [
    "seq",
    "id",
    "created_at",
    "action",
    "actor",
    "resource_type",
    "resource_id",
    "connector_id",
    "details",
    "prev_hash",
    "entry_hash",
    "pruned_at",
];

fn csv_row(r: &AuditRecord) -> Vec<String> {
    vec![
        r.seq.to_string(),
        r.id.clone(),
        r.created_at.to_rfc3339(),
        r.action.clone(),
        r.actor.clone(),
        r.resource_type.clone().unwrap_or_default(),
        r.resource_id.clone().unwrap_or_default(),
        r.connector_id.clone().unwrap_or_default(),
        r.details.to_string(),
        r.prev_hash.clone(),
        r.entry_hash.clone(),
        r.pruned_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
    ]
}

/// Export the matching entries, oldest first, as a CSV (header row) or JSON
/// array download (admin). Streamed: memory does not grow with the trail.
#[utoipa::path(get, path = "/api/v1/integration/audit-logs/export", tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "CSV with a header row, or a JSON array of entries",
            content((String = "text/csv"), (Vec<AuditOut> = "application/json"))),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn export_audit_logs(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    caller.require(policy::audit())?;
    let filter = q.filter()?;
    let format = q.format.as_deref().unwrap_or("csv");
    if !matches!(format, "csv" | "json") {
        return Err(ApiError::Validation(FieldErrors::single("format", "must be csv or json")));
    }
    let (store, scope) = (state.store.clone(), caller.scope().clone());
    let next = move |after: i64| {
        let (store, scope, filter) = (store.clone(), scope.clone(), filter.clone());
        async move {
            let rows = store.audit_after(&scope, &filter, after, EXPORT_CHUNK).await.map_err(|e| e.to_string())?;
            let last = rows.last().map(|r| r.seq).unwrap_or(after);
            Ok((!rows.is_empty()).then_some((rows, last)))
        }
    };
    let filename = format!("audit-log.{format}");
    Ok(if format == "csv" {
        let head = download::csv_rows(&[CSV_HEADER.iter().map(|s| (*s).to_owned()).collect()]);
        let body = download::chunks(0i64, next, |rows: &Vec<AuditRecord>, _| {
            download::csv_rows(&rows.iter().map(csv_row).collect::<Vec<_>>())
        });
        download::attachment("text/csv; charset=utf-8", &filename, head, body, Bytes::new())
    } else {
        let body = download::chunks(0i64, next, |rows: &Vec<AuditRecord>, first| {
            let mut out = String::new();
            for (i, r) in rows.iter().enumerate() {
                if !(first && i == 0) {
                    out.push(',');
                }
                out.push_str(&json!(AuditOut::from(r.clone())).to_string());
            }
            Bytes::from(out)
        });
        download::attachment("application/json", &filename, Bytes::from_static(b"["), body, Bytes::from_static(b"]"))
    })
}
