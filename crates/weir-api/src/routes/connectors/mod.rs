//! `/api/v1/integration/connectors`: CRUD, connection tests, and the
//! production approval gate (TASK-015…019, TASK-023…025). The handlers are
//! here; the bodies are in `types.rs`, their checks and the credential
//! sealing in `input.rs`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use weir_core::Environment;
use weir_engine::build_connector;

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiJson, ApiQuery, Id};
use crate::policy::{ConnectorAction, connector as policy};
use crate::problem::{ApiError, Problem};

mod input;
pub mod probe;
mod types;

pub(crate) use input::{open, stored_config};
pub use probe::ConnectionProbeIn;
pub use types::{ConnectionTestOut, ConnectorIn, ConnectorOut, ConnectorPatch, ConnectorQuery, PendingChangeOut};

/// List connectors (viewer).
#[utoipa::path(get, path = "/api/v1/integration/connectors", tag = "connectors", security(("bearer" = [])),
    params(ConnectorQuery),
    responses(
        (status = 200, body = List<ConnectorOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_connectors(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(query): ApiQuery<ConnectorQuery>,
) -> Result<Json<List<ConnectorOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Read))?;
    let (filter, page) = query.parse()?;
    let paged = state.store.list_connectors(caller.scope(), &filter, page).await?;
    Ok(Json(List::new(paged.items.into_iter().map(ConnectorOut::from).collect(), page, paged.total)))
}

/// Create a connector (admin).
#[utoipa::path(post, path = "/api/v1/integration/connectors", tag = "connectors", security(("bearer" = [])),
    request_body = ConnectorIn,
    responses(
        (status = 201, body = Data<ConnectorOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_connector(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<ConnectorIn>,
) -> Result<(StatusCode, Json<Data<ConnectorOut>>), ApiError> {
    caller.require(policy(ConnectorAction::Create))?;
    let new = body.parse(&state.master_key)?;
    let created = state.store.create_connector(caller.scope(), new, &caller.actor()).await?;
    tracing::info!(connector_id = %created.id, code = %created.code, "connector created");
    Ok((StatusCode::CREATED, Json(Data::new(created.into()))))
}

/// Show a connector (viewer).
#[utoipa::path(get, path = "/api/v1/integration/connectors/{id}", tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id")),
    responses(
        (status = 200, body = Data<ConnectorOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_connector(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<Json<Data<ConnectorOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Read))?;
    Ok(Json(Data::new(state.store.get_connector(caller.scope(), &id).await?.into())))
}

/// Change a connector (admin). On a `production` connector a change of
/// `config`, `credentials` or `environment` is not applied: it becomes a
/// change request (202) for another admin to approve.
#[utoipa::path(patch, path = "/api/v1/integration/connectors/{id}", tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id")),
    request_body = ConnectorPatch,
    responses(
        (status = 200, description = "Applied", body = Data<ConnectorOut>),
        (status = 202, description = "Held for approval", body = Data<PendingChangeOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_connector(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
    ApiJson(body): ApiJson<ConnectorPatch>,
) -> Result<Response, ApiError> {
    caller.require(policy(ConnectorAction::Update))?;
    let current = state.store.get_connector(caller.scope(), &id).await?;
    let stored = state.store.connector_credentials(caller.scope(), &id).await?;
    let changes = body.parse(&current, stored.as_ref(), &state.master_key)?;
    let gated = current.environment == Environment::Production
        && (changes.config.is_some() || changes.credentials.is_some() || changes.environment.is_some());
    if gated {
        let sealed = changes.credentials.clone().flatten();
        let request = state
            .store
            .create_change_request(caller.scope(), &id, changes.to_request_json(), sealed, caller.token_id())
            .await?;
        tracing::info!(connector_id = %id, change_request_id = %request.id, "production change held for approval");
        let change_request = crate::routes::change_requests::named_one(&state, caller.scope(), request).await?;
        let out = PendingChangeOut { change_request };
        return Ok((StatusCode::ACCEPTED, Json(Data::new(out))).into_response());
    }
    if changes.is_empty() {
        return Ok(Json(Data::new(ConnectorOut::from(current))).into_response());
    }
    let updated = state.store.update_connector(caller.scope(), &id, changes, &caller.actor()).await?;
    state.intake.invalidate_all();
    Ok(Json(Data::new(ConnectorOut::from(updated))).into_response())
}

/// Soft-delete a connector (admin); 409 while an active scheduled sync
/// configuration uses it (BR-IC-003).
#[utoipa::path(delete, path = "/api/v1/integration/connectors/{id}", tag = "connectors", security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id")),
    responses(
        (status = 204, description = "Deleted; its receivers and sync configurations are out of service"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_connector(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    caller.require(policy(ConnectorAction::Delete))?;
    state.store.delete_connector(caller.scope(), &id, &caller.actor()).await?;
    state.intake.invalidate_all();
    tracing::info!(connector_id = %id, "connector deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Probe the remote with the connector's auth (operator). 422 for a
/// `webhook` connector, which has no remote.
#[utoipa::path(post, path = "/api/v1/integration/connectors/{id}/test-connection", tag = "connectors",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id")),
    responses(
        (status = 200, body = Data<ConnectionTestOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn test_connection(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<Json<Data<ConnectionTestOut>>, ApiError> {
    caller.require(policy(ConnectorAction::TestConnection))?;
    let connector = state.store.get_connector(caller.scope(), &id).await?;
    let config = stored_config(&connector)?;
    let sealed = state.store.connector_credentials(caller.scope(), &id).await?;
    let credentials = open(&state.master_key, sealed.as_ref())?;
    run_test(&state, &caller, &config, credentials, Some(&id), json!({})).await
}

/// Runs a connection test and audits it (`connector.tested`, with
/// `extra` merged into the details).
pub(super) async fn run_test(
    state: &AppState,
    caller: &TenantCaller,
    config: &weir_core::ConnectorConfig,
    credentials: weir_core::Credentials,
    connector_id: Option<&str>,
    extra: serde_json::Value,
) -> Result<Json<Data<ConnectionTestOut>>, ApiError> {
    let remote = build_connector(config, credentials, &state.outbound);
    let t = match remote.test_connection().await {
        Ok(t) => t,
        Err(weir_engine::ConnectorError::Unsupported(m)) => return Err(ApiError::Unprocessable(m.to_owned())),
        Err(e) => return Err(ApiError::Internal(Box::new(e))),
    };
    let mut details = json!({
        "success": t.success, "status_code": t.status_code, "latency_ms": t.latency_ms, "error": t.error,
    });
    if let (Some(d), serde_json::Value::Object(more)) = (details.as_object_mut(), extra) {
        d.extend(more);
    }
    state.store.audit_connection_test(caller.scope(), connector_id, &caller.actor(), details).await?;
    Ok(Json(Data::new(ConnectionTestOut {
        success: t.success,
        latency_ms: t.latency_ms,
        status_code: t.status_code,
        api_version: t.api_version,
        error: t.error,
    })))
}
