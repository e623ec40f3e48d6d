//! `/api/v1/integration/sync-configurations`: what moves between a
//! connector and the records store, when, and how it is mapped. Every
//! reference (connector, field mapping) must be the caller's tenant's —
//! another tenant's id is "no such connector", never a link. A `webhook`
//! configuration may deliver its records to an HTTP destination signed
//! with a per-configuration secret, returned only when it is set.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde_json::{Map, Value, json};
use weir_core::sync::Trigger;
use weir_core::webhook::{ReceiverMethod, generate_secret};
use weir_core::{FieldErrors, ids};
use weir_store::{StoreError, SyncConfiguration, SyncConfigurationFilter, SyncConfigurationSpec};

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiJson, ApiQuery, Id, PageParams};
use crate::policy::{SyncAction, sync as policy};
use crate::problem::{ApiError, Problem};

pub mod dry_run;
pub mod preview;
mod rules;
mod types;

pub use types::{
    DestinationIn, ExecuteOut, LastRunOut, SyncConfigurationIn, SyncConfigurationOut, SyncConfigurationQuery,
};

/// Checks a configuration and turns it into what the store writes: the
/// facts are gathered here (its connector and mapping, looked up in the
/// caller's tenant), [`rules::decide`] applies every rule to them, and what
/// it decides is completed with the sealed secret and the next run time.
/// `current_has_secret` tells whether the stored destination has a secret.
/// Answers the spec and the destination secret if one was set now.
async fn validate(
    state: &AppState,
    caller: &TenantCaller,
    body: SyncConfigurationIn,
    current_has_secret: bool,
) -> Result<(SyncConfigurationSpec, Option<String>), ApiError> {
    let references = references(state, caller, &body).await?;
    let decided = rules::decide(body, &references, current_has_secret).map_err(ApiError::Validation)?;
    let new_secret = match decided.secret {
        rules::SecretPlan::Keep => None,
        rules::SecretPlan::Supplied(s) => Some(s),
        rules::SecretPlan::Generate => Some(generate_secret(ReceiverMethod::StandardWebhooks)),
    };
    let sealed = match &new_secret {
        Some(s) => Some(state.master_key.seal(s.as_bytes()).map_err(|e| ApiError::Internal(Box::new(e)))?),
        None => None,
    };
    let mut spec = decided.spec;
    spec.destination_secret_sealed = sealed;
    spec.next_run_at = match (&decided.schedule, spec.is_active) {
        (Some(s), true) => s.next_after(Utc::now()),
        _ => None,
    };
    Ok((spec, new_secret))
}

/// The configuration's references as the caller's tenant has them.
async fn references(
    state: &AppState,
    caller: &TenantCaller,
    body: &SyncConfigurationIn,
) -> Result<rules::References, ApiError> {
    let connector_type = if ids::is_valid_id(&body.connector_id) {
        match state.store.get_connector(caller.scope(), &body.connector_id).await {
            Ok(c) => Some(c.connector_type),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        }
    } else {
        None
    };
    let mapping = match &body.field_mapping_id {
        None => rules::MappingRef::NotGiven,
        Some(id) if !ids::is_valid_id(id) => rules::MappingRef::Missing,
        Some(id) => match state.store.get_field_mapping(caller.scope(), id).await {
            Ok(m) => rules::MappingRef::Found {
                targets: m
                    .rules
                    .as_array()
                    .map(|rs| {
                        rs.iter().filter_map(|r| r.get("target").and_then(Value::as_str)).map(str::to_owned).collect()
                    })
                    .unwrap_or_default(),
                entity_type: m.entity_type,
            },
            Err(StoreError::NotFound) => rules::MappingRef::Missing,
            Err(other) => return Err(other.into()),
        },
    };
    Ok(rules::References { connector_type, mapping })
}

/// The stored configuration in the create body's shape, for PATCH merging.
fn as_input(c: &SyncConfiguration) -> Map<String, Value> {
    let mut destination = c.destination.clone();
    if let Some(Value::Object(d)) = &mut destination {
        d.remove("has_secret");
    }
    let v = json!({
        "connector_id": c.connector_id, "name": c.name, "direction": c.direction,
        "entity_type": c.entity_type, "field_mapping_id": c.field_mapping_id, "trigger": c.trigger,
        "event_types": c.event_types, "schedule": c.schedule, "source": c.source,
        "destination": destination, "ordering_field": c.ordering_field, "is_active": c.is_active,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// List sync configurations (viewer).
#[utoipa::path(get, path = "/api/v1/integration/sync-configurations", tag = "sync-configurations",
    security(("bearer" = [])),
    params(SyncConfigurationQuery),
    responses(
        (status = 200, body = List<SyncConfigurationOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_sync_configurations(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(q): ApiQuery<SyncConfigurationQuery>,
) -> Result<Json<List<SyncConfigurationOut>>, ApiError> {
    caller.require(policy(SyncAction::Read))?;
    let mut e = FieldErrors::new();
    if q.connector_id.as_deref().is_some_and(|c| !ids::is_valid_id(c)) {
        e.add("connector_id", "is not an id");
    }
    let trigger = match q.trigger.as_deref().map(str::parse::<Trigger>).transpose() {
        Ok(t) => t,
        Err(_) => {
            e.add("trigger", format!("must be one of {}", Trigger::ALL.trim_end()));
            None
        }
    };
    e.into_result().map_err(ApiError::Validation)?;
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let filter = SyncConfigurationFilter { connector_id: q.connector_id, trigger, is_active: q.is_active };
    let paged = state.store.list_sync_configurations(caller.scope(), &filter, page).await?;
    Ok(Json(List::new(paged.items.into_iter().map(SyncConfigurationOut::from).collect(), page, paged.total)))
}

/// Create a sync configuration (admin).
#[utoipa::path(post, path = "/api/v1/integration/sync-configurations", tag = "sync-configurations",
    security(("bearer" = [])),
    request_body = SyncConfigurationIn,
    responses(
        (status = 201, body = Data<SyncConfigurationOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_sync_configuration(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<SyncConfigurationIn>,
) -> Result<(StatusCode, Json<Data<SyncConfigurationOut>>), ApiError> {
    caller.require(policy(SyncAction::Manage))?;
    let (spec, secret) = validate(&state, &caller, body, false).await?;
    let c = state.store.create_sync_configuration(caller.scope(), spec, &caller.actor()).await?;
    let out = SyncConfigurationOut { destination_secret: secret, ..c.into() };
    Ok((StatusCode::CREATED, Json(Data::new(out))))
}

/// Show a sync configuration (viewer).
#[utoipa::path(get, path = "/api/v1/integration/sync-configurations/{id}", tag = "sync-configurations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Sync configuration id")),
    responses(
        (status = 200, body = Data<SyncConfigurationOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_sync_configuration(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<Json<Data<SyncConfigurationOut>>, ApiError> {
    caller.require(policy(SyncAction::Read))?;
    Ok(Json(Data::new(state.store.get_sync_configuration(caller.scope(), &id).await?.into())))
}

/// Change a sync configuration (admin): any subset of the create body's
/// fields; the result is validated as a whole.
#[utoipa::path(patch, path = "/api/v1/integration/sync-configurations/{id}", tag = "sync-configurations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Sync configuration id")),
    request_body(content = Object, description = "Any subset of the create body's fields"),
    responses(
        (status = 200, body = Data<SyncConfigurationOut>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_sync_configuration(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
    ApiJson(patch): ApiJson<Map<String, Value>>,
) -> Result<Json<Data<SyncConfigurationOut>>, ApiError> {
    caller.require(policy(SyncAction::Manage))?;
    let current = state.store.get_sync_configuration(caller.scope(), &id).await?;
    let mut merged = as_input(&current);
    for (k, v) in patch {
        merged.insert(k, v);
    }
    let body: SyncConfigurationIn = serde_json::from_value(Value::Object(merged))
        .map_err(|e| ApiError::Validation(FieldErrors::single("body", e.to_string())))?;
    let (spec, secret) = validate(&state, &caller, body, current.has_destination_secret).await?;
    let c = state.store.update_sync_configuration(caller.scope(), &id, spec, &caller.actor()).await?;
    Ok(Json(Data::new(SyncConfigurationOut { destination_secret: secret, ..c.into() })))
}

/// Delete a sync configuration (admin): it stops routing and running at once.
#[utoipa::path(delete, path = "/api/v1/integration/sync-configurations/{id}", tag = "sync-configurations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Sync configuration id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_sync_configuration(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    caller.require(policy(SyncAction::Manage))?;
    state.store.delete_sync_configuration(caller.scope(), &id, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Run a configuration now (operator): 202 with the queued run; 409 while
/// one is queued or running, or for an inactive configuration; 422 for a
/// `webhook` configuration, which runs only on the events it receives.
#[utoipa::path(post, path = "/api/v1/integration/sync-configurations/{id}/execute", tag = "sync-configurations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Sync configuration id")),
    responses(
        (status = 202, body = Data<ExecuteOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn execute_sync_configuration(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<(StatusCode, Json<Data<ExecuteOut>>), ApiError> {
    caller.require(policy(SyncAction::Execute))?;
    let h = state.store.queue_sync_run(caller.scope(), &id, Trigger::Manual, &caller.actor()).await?;
    state.sync.wake();
    Ok((StatusCode::ACCEPTED, Json(Data::new(ExecuteOut { sync_history_id: h.id, status: h.status }))))
}
