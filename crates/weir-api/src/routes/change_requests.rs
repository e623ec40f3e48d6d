//! `/api/v1/integration/change-requests`: production connector changes
//! awaiting a second admin. Approval re-validates the change against the
//! connector as it is now and applies it in the same transaction as the
//! decision; the requester cannot approve their own change.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use weir_core::tenant::parse_display_name;
use weir_core::{AuthType, ChangeStatus, ConnectorConfig, Environment, FieldErrors, MasterKey, ids};
use weir_store::{ChangeRequest, ChangeRequestFilter, Connector, ConnectorChanges, PendingChange};

use super::connectors::{ConnectorOut, open, stored_config};
use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiQuery, Id, OptionalJson, PageParams};
use crate::policy::{ConnectorAction, connector as policy};
use crate::problem::{ApiError, Problem};

/// A change request (never the credentials it carries).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeRequestOut {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// The connector to change.
    pub connector_id: String,
    /// `pending`, `approved` or `rejected`.
    pub status: ChangeStatus,
    /// Token id of the requester.
    pub requested_by: String,
    /// The requesting person, `Name <email>`, when a user requested it.
    pub requested_by_name: Option<String>,
    /// The change; credentials appear only as `"replaced"` or `"cleared"`.
    #[schema(value_type = Object)]
    pub changes: Value,
    /// Token id of the decider.
    pub decided_by: Option<String>,
    /// The deciding person, `Name <email>`, when a user decided it.
    pub decided_by_name: Option<String>,
    /// Decision time.
    pub decided_at: Option<DateTime<Utc>>,
    /// The decider's note.
    pub decision_note: Option<String>,
    /// Request time.
    pub created_at: DateTime<Utc>,
}

impl From<ChangeRequest> for ChangeRequestOut {
    fn from(r: ChangeRequest) -> Self {
        Self {
            id: r.id,
            connector_id: r.connector_id,
            status: r.status,
            requested_by: r.requested_by,
            requested_by_name: None,
            changes: r.changes,
            decided_by: r.decided_by,
            decided_by_name: None,
            decided_at: r.decided_at,
            decision_note: r.decision_note,
            created_at: r.created_at,
        }
    }
}

/// Fills in the names of the people behind each request's tokens.
async fn named(
    state: &AppState,
    scope: &weir_store::TenantScope,
    mut out: Vec<ChangeRequestOut>,
) -> Result<Vec<ChangeRequestOut>, ApiError> {
    let actors: Vec<&str> =
        out.iter().flat_map(|r| std::iter::once(r.requested_by.as_str()).chain(r.decided_by.as_deref())).collect();
    let names = state.store.person_labels(scope, &actors).await?;
    for r in &mut out {
        r.requested_by_name = names.get(&r.requested_by).cloned();
        r.decided_by_name = r.decided_by.as_ref().and_then(|d| names.get(d).cloned());
    }
    Ok(out)
}

pub(crate) async fn named_one(
    state: &AppState,
    scope: &weir_store::TenantScope,
    r: ChangeRequest,
) -> Result<ChangeRequestOut, ApiError> {
    let mut named = named(state, scope, vec![r.into()]).await?;
    named.pop().ok_or(ApiError::NotFound)
}

/// Body of an approval or rejection.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionIn {
    /// Optional note, up to 1000 characters.
    pub note: Option<String>,
}

/// The answer to a decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionOut {
    /// The decided request.
    pub change_request: ChangeRequestOut,
    /// The connector after an approval.
    pub connector: Option<ConnectorOut>,
}

/// List filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangeRequestQuery {
    /// `pending`, `approved` or `rejected`.
    #[param(pattern = "^(pending|approved|rejected)$")]
    pub status: Option<String>,
    /// Only for this connector.
    pub connector_id: Option<String>,
    /// 1-based page.
    pub page: Option<u64>,
    /// 1 to 100.
    pub per_page: Option<u64>,
}

/// Rebuilds and re-validates a stored change against the connector now.
fn changes_from_request(
    pending: &PendingChange,
    connector: &Connector,
    key: &MasterKey,
    stored_creds: Option<&weir_store::SealedCredentials>,
) -> Result<ConnectorChanges, ApiError> {
    let stale = || {
        ApiError::Conflict {
        detail: "the connector changed since this request was made and the change no longer fits; reject it and request again"
            .to_owned(),
        errors: None,
    }
    };
    let c = pending.request.changes.as_object().ok_or_else(stale)?;
    let mut changes = ConnectorChanges::default();
    if let Some(n) = c.get("name") {
        changes.name = Some(parse_display_name(n.as_str().unwrap_or(""), 200).map_err(|_| stale())?);
    }
    if let Some(e) = c.get("environment") {
        changes.environment = Some(e.as_str().unwrap_or("").parse::<Environment>().map_err(|_| stale())?);
    }
    if let Some(a) = c.get("is_active") {
        changes.is_active = Some(a.as_bool().ok_or_else(stale)?);
    }
    if let Some(r) = c.get("rate_limit_per_minute") {
        changes.rate_limit_per_minute = Some(r.as_u64().map(|v| u32::try_from(v).map_err(|_| stale())).transpose()?);
    }
    if let Some(raw) = c.get("config") {
        changes.config = Some(ConnectorConfig::parse(connector.connector_type, Some(raw)).map_err(|_| stale())?);
    }
    let credentials = match c.get("credentials").and_then(Value::as_str) {
        Some("replaced") => {
            let sealed = pending.credentials.clone().ok_or_else(stale)?;
            let creds = open(key, Some(&sealed))?;
            changes.credentials = Some(Some(sealed));
            creds
        }
        Some("cleared") => {
            changes.credentials = Some(None);
            weir_core::Credentials::None
        }
        Some(_) => return Err(stale()),
        None => open(key, stored_creds)?,
    };
    let auth = match &changes.config {
        Some(c) => c.auth_type(),
        None => stored_config(connector)?.auth_type(),
    };
    if credentials.auth_type() != auth && !(auth == AuthType::None && credentials.is_none()) {
        return Err(stale());
    }
    Ok(changes)
}

fn note_of(body: Option<DecisionIn>) -> Result<Option<String>, ApiError> {
    let note = body.and_then(|b| b.note).map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
        return Err(ApiError::field("note", "must be at most 1000 characters"));
    }
    Ok(note)
}

/// List change requests (viewer).
#[utoipa::path(get, path = "/api/v1/integration/change-requests", tag = "connectors", security(("bearer" = [])),
    params(ChangeRequestQuery),
    responses(
        (status = 200, body = List<ChangeRequestOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_change_requests(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(q): ApiQuery<ChangeRequestQuery>,
) -> Result<Json<List<ChangeRequestOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Read))?;
    let mut errors = FieldErrors::new();
    let status = match q.status.as_deref().map(str::parse::<ChangeStatus>).transpose() {
        Ok(s) => s,
        Err(_) => {
            errors.add("status", "must be pending, approved or rejected");
            None
        }
    };
    if q.connector_id.as_deref().is_some_and(|c| !ids::is_valid_id(c)) {
        errors.add("connector_id", "is not an id");
    }
    errors.into_result().map_err(ApiError::Validation)?;
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let filter = ChangeRequestFilter { status, connector_id: q.connector_id };
    let paged = state.store.list_change_requests(caller.scope(), &filter, page).await?;
    let items = named(&state, caller.scope(), paged.items.into_iter().map(ChangeRequestOut::from).collect()).await?;
    Ok(Json(List::new(items, page, paged.total)))
}

/// Show a change request (viewer).
#[utoipa::path(get, path = "/api/v1/integration/change-requests/{id}", tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "Change request id")),
    responses(
        (status = 200, body = Data<ChangeRequestOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_change_request(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<Json<Data<ChangeRequestOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Read))?;
    let pending = state.store.get_change_request(caller.scope(), &id).await?;
    Ok(Json(Data::new(named_one(&state, caller.scope(), pending.request).await?)))
}

/// Approve and apply a change request (admin other than the requester).
#[utoipa::path(post, path = "/api/v1/integration/change-requests/{id}/approve", tag = "connectors",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Change request id")),
    request_body(content = Option<DecisionIn>, description = "Optional note"),
    responses(
        (status = 200, body = Data<DecisionOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn approve_change_request(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
    OptionalJson(body): OptionalJson<DecisionIn>,
) -> Result<Json<Data<DecisionOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Decide))?;
    let note = note_of(body)?;
    let pending = state.store.get_change_request(caller.scope(), &id).await?;
    // Any token of the requester's issuing chain is the requester too.
    let requester = state.store.token_principal(caller.scope(), &pending.request.requested_by).await?;
    if requester == caller.0.principal_id {
        return Err(ApiError::Forbidden("the requester cannot approve their own change; another admin must"));
    }
    // Another person: not a service account, nor an account the requester invited.
    if caller.0.principal_id.starts_with("service_account:") {
        return Err(ApiError::Forbidden("a service account is not a person; another admin must approve"));
    }
    if let Some(user) = &caller.0.user
        && state.store.inviter_principal(caller.scope(), &user.id).await?.as_deref() == Some(requester.as_str())
    {
        return Err(ApiError::Forbidden(
            "an account the requester invited cannot approve their change; another admin must",
        ));
    }
    if pending.request.status != ChangeStatus::Pending {
        return Err(ApiError::Conflict { detail: "this change request was already decided".to_owned(), errors: None });
    }
    let connector =
        state.store.get_connector(caller.scope(), &pending.request.connector_id).await.map_err(|e| match e {
            weir_store::StoreError::NotFound => {
                ApiError::Conflict { detail: "the connector no longer exists".to_owned(), errors: None }
            }
            other => other.into(),
        })?;
    let stored = state.store.connector_credentials(caller.scope(), &connector.id).await?;
    let changes = changes_from_request(&pending, &connector, &state.master_key, stored.as_ref())?;
    let (request, connector) =
        state.store.decide_change_request(caller.scope(), &id, Some(changes), note, caller.token_id()).await?;
    state.intake.invalidate_all();
    tracing::info!(change_request_id = %id, "change request approved and applied");
    let change_request = named_one(&state, caller.scope(), request).await?;
    Ok(Json(Data::new(DecisionOut { change_request, connector: connector.map(ConnectorOut::from) })))
}

/// Reject a change request (admin; the requester may withdraw their own).
#[utoipa::path(post, path = "/api/v1/integration/change-requests/{id}/reject", tag = "connectors",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Change request id")),
    request_body(content = Option<DecisionIn>, description = "Optional note"),
    responses(
        (status = 200, body = Data<DecisionOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reject_change_request(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
    OptionalJson(body): OptionalJson<DecisionIn>,
) -> Result<Json<Data<DecisionOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Decide))?;
    let note = note_of(body)?;
    let (request, _) = state.store.decide_change_request(caller.scope(), &id, None, note, caller.token_id()).await?;
    let change_request = named_one(&state, caller.scope(), request).await?;
    Ok(Json(Data::new(DecisionOut { change_request, connector: None })))
}
