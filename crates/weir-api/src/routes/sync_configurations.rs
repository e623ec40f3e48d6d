//! `/api/v1/integration/sync-configurations`: what moves between a
//! connector and the records store, when, and how it is mapped. Every
//! reference (connector, field mapping) must be the caller's tenant's —
//! another tenant's id is "no such connector", never a link. A `webhook`
//! configuration may deliver its records to an HTTP destination signed
//! with a per-configuration secret, returned only when it is set.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use weir_core::sync::{
    self, DestinationSpec, Direction, MAX_EVENT_TYPES, Schedule, SourceSpec, Supplied, Trigger, check_shape,
};
use weir_core::tenant::parse_display_name;
use weir_core::webhook::{ReceiverMethod, generate_secret, key_material};
use weir_core::{FieldErrors, RunStatus, ids};
use weir_store::{StoreError, SyncConfiguration, SyncConfigurationFilter, SyncConfigurationSpec};

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiJson, ApiQuery, Id, PageParams};
use crate::policy::{SyncAction, sync as policy};
use crate::problem::{ApiError, Problem};

/// An HTTP destination as written.
#[derive(Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationIn {
    /// Connector API path (outbound runs).
    pub path: Option<String>,
    /// Absolute URL (webhook configurations' record deliveries).
    pub url: Option<String>,
    /// 100 to 25 000 ms (default 10 000).
    pub timeout_ms: Option<u64>,
    /// Your own Standard Webhooks secret (`whsec_…`); generated when a
    /// destination `url` is first set. Write-only.
    #[serde(skip_serializing)]
    pub secret: Option<String>,
}

/// Body of a sync configuration (create; PATCH takes any subset).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncConfigurationIn {
    /// The connector (of the caller's tenant).
    pub connector_id: String,
    /// Name.
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// `inbound` or `outbound`.
    pub direction: Direction,
    /// The record type, e.g. `customer`.
    #[schema(pattern = r"^[a-z0-9_.-]{1,100}$")]
    pub entity_type: String,
    /// The mapping applied (required inbound; its entity type must match).
    pub field_mapping_id: Option<String>,
    /// `webhook`, `schedule` or `manual`.
    pub trigger: Trigger,
    /// For `webhook`: event types routed here (exact, or `*`).
    #[serde(default)]
    pub event_types: Vec<String>,
    /// For `schedule`: a cron expression, evaluated in UTC.
    pub schedule: Option<String>,
    /// Inbound runs: `{"path", "records_path", "pagination"}`.
    pub source: Option<SourceSpec>,
    /// `{"url"}` (webhook deliveries) or `{"path"}` (outbound runs).
    pub destination: Option<DestinationIn>,
    /// A mapped field ordering versions of a record (e.g. `updated_at`): an
    /// older event never overwrites a newer record.
    pub ordering_field: Option<String>,
    /// Default true.
    #[serde(default = "yes")]
    pub is_active: bool,
}

impl std::fmt::Debug for DestinationIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DestinationIn")
            .field("path", &self.path)
            .field("url", &self.url)
            .field("timeout_ms", &self.timeout_ms)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn yes() -> bool {
    true
}

/// The last run.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastRunOut {
    /// When it started.
    pub at: DateTime<Utc>,
    /// Whether it succeeded.
    pub succeeded: bool,
}

/// A sync configuration.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncConfigurationOut {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// The connector it belongs to.
    pub connector_id: String,
    /// Display name, as given.
    pub name: String,
    /// Which way records move.
    pub direction: Direction,
    /// Record type.
    pub entity_type: String,
    /// Mapping.
    pub field_mapping_id: Option<String>,
    /// What starts a run.
    pub trigger: Trigger,
    /// Event types.
    pub event_types: Vec<String>,
    /// Cron schedule.
    pub schedule: Option<String>,
    /// Source.
    #[schema(value_type = Option<Object>)]
    pub source: Option<Value>,
    /// Destination (its secret never; see `has_secret`).
    #[schema(value_type = Option<Object>)]
    pub destination: Option<Value>,
    /// The destination's signing secret: only in the answer that set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_secret: Option<String>,
    /// Ordering field.
    pub ordering_field: Option<String>,
    /// Whether it runs.
    pub is_active: bool,
    /// Next scheduled run (UTC).
    pub next_run_at: Option<DateTime<Utc>>,
    /// The last run, if any.
    pub last_run: Option<LastRunOut>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<SyncConfiguration> for SyncConfigurationOut {
    fn from(c: SyncConfiguration) -> Self {
        let destination = c.destination.map(|mut d| {
            if let Some(o) = d.as_object_mut()
                && o.contains_key("url")
            {
                o.insert("has_secret".to_owned(), json!(c.has_destination_secret));
            }
            d
        });
        Self {
            last_run: c.last_run_at.map(|at| LastRunOut { at, succeeded: c.last_success_at == Some(at) }),
            id: c.id,
            connector_id: c.connector_id,
            name: c.name,
            direction: c.direction,
            entity_type: c.entity_type,
            field_mapping_id: c.field_mapping_id,
            trigger: c.trigger,
            event_types: c.event_types,
            schedule: c.schedule,
            source: c.source,
            destination,
            destination_secret: None,
            ordering_field: c.ordering_field,
            is_active: c.is_active,
            next_run_at: c.next_run_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// List filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SyncConfigurationQuery {
    /// Connector id.
    pub connector_id: Option<String>,
    /// `webhook`, `schedule` or `manual`.
    #[param(pattern = "^(webhook|schedule|manual)$")]
    pub trigger: Option<String>,
    /// Active or not.
    pub is_active: Option<bool>,
    /// 1-based page.
    pub page: Option<u64>,
    /// 1 to 100.
    pub per_page: Option<u64>,
}

/// Checks a configuration against its connector and mapping (both looked
/// up in the caller's tenant) and turns it into what the store writes.
/// `current_sealed` tells whether the stored destination has a secret.
/// Answers the spec and the destination secret if one was set now.
async fn validate(
    state: &AppState,
    caller: &TenantCaller,
    body: SyncConfigurationIn,
    current_has_secret: bool,
) -> Result<(SyncConfigurationSpec, Option<String>), ApiError> {
    let mut e = FieldErrors::new();
    let name = e.check("name", parse_display_name(&body.name, 200));
    if !sync::is_entity_type(&body.entity_type) {
        e.add("entity_type", "must be 1 to 100 of a-z, 0-9, '_', '.', '-'");
    }
    let mut event_types: Vec<String> = Vec::new();
    for t in &body.event_types {
        let t = t.trim();
        if t.is_empty() || t.len() > 200 || t.chars().any(char::is_control) {
            e.add("event_types", "each must be 1 to 200 printable characters");
        } else if !event_types.iter().any(|x| x == t) {
            event_types.push(t.to_owned());
        }
    }
    if event_types.len() > MAX_EVENT_TYPES {
        e.add("event_types", format!("at most {MAX_EVENT_TYPES}"));
    }
    let schedule = match body.schedule.as_deref() {
        Some(s) => e.check("schedule", Schedule::parse(s)), // not a state: the field name
        None => None,
    };
    if let Some(src) = &body.source {
        src.validate(&mut e);
    }
    let destination = body.destination.clone().map(|d| DestinationSpec {
        path: d.path,
        url: d.url,
        timeout_ms: d.timeout_ms.unwrap_or(sync::DEFAULT_DESTINATION_TIMEOUT_MS),
    });
    if let Some(d) = &destination {
        d.validate(body.trigger, &mut e);
    }
    if let Some(f) = &body.ordering_field
        && (f.is_empty() || f.len() > 100)
    {
        e.add("ordering_field", "must be 1 to 100 characters");
    }
    // References: the caller's tenant only, else "no such …".
    let connector = if ids::is_valid_id(&body.connector_id) {
        match state.store.get_connector(caller.scope(), &body.connector_id).await {
            Ok(c) => Some(c),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        }
    } else {
        None
    };
    if connector.is_none() {
        e.add("connector_id", "no such connector");
    }
    if let Some(id) = &body.field_mapping_id {
        let mapping = if ids::is_valid_id(id) {
            match state.store.get_field_mapping(caller.scope(), id).await {
                Ok(m) => Some(m),
                Err(StoreError::NotFound) => None,
                Err(other) => return Err(other.into()),
            }
        } else {
            None
        };
        match mapping {
            None => e.add("field_mapping_id", "no such field mapping"),
            Some(m) => {
                if m.entity_type != body.entity_type {
                    e.add(
                        "field_mapping_id",
                        format!("maps to entity type `{}`, not `{}`", m.entity_type, body.entity_type),
                    );
                }
                if let Some(f) = &body.ordering_field {
                    let targets: Vec<&str> = m
                        .rules
                        .as_array()
                        .map(|rs| rs.iter().filter_map(|r| r.get("target").and_then(Value::as_str)).collect())
                        .unwrap_or_default();
                    if !targets.contains(&f.as_str()) {
                        e.add("ordering_field", "must be a target of the field mapping's rules");
                    }
                }
            }
        }
    }
    if let Some(c) = &connector {
        let has = Supplied {
            event_types: !event_types.is_empty(),
            source: body.source.is_some(),
            destination: destination.is_some(),
            schedule: body.schedule.is_some(),
            field_mapping: body.field_mapping_id.is_some(),
        };
        for (field, message) in check_shape(body.direction, body.trigger, c.connector_type, has) {
            e.add(field, message);
        }
    }
    // The destination's signing secret: the caller's, or a new one when a
    // delivery URL gets its first.
    let wants_secret = destination.as_ref().is_some_and(|d| d.url.is_some());
    let supplied = body.destination.as_ref().and_then(|d| d.secret.clone());
    if let Some(s) = &supplied {
        if !wants_secret {
            e.add("destination.secret", "only a destination `url` is signed");
        } else if let Err(msg) = key_material(ReceiverMethod::StandardWebhooks, s) {
            e.add("destination.secret", msg);
        }
    }
    e.into_result().map_err(ApiError::Validation)?;
    let new_secret = match (wants_secret, supplied) {
        (true, Some(s)) => Some(s),
        (true, None) if !current_has_secret => Some(generate_secret(ReceiverMethod::StandardWebhooks)),
        _ => None,
    };
    let sealed = match &new_secret {
        Some(s) => Some(state.master_key.seal(s.as_bytes()).map_err(|e| ApiError::Internal(Box::new(e)))?),
        None => None,
    };
    let next_run_at = match (&schedule, body.is_active) {
        (Some(s), true) => s.next_after(Utc::now()),
        _ => None,
    };
    let spec = SyncConfigurationSpec {
        connector_id: body.connector_id,
        name: name.unwrap_or_default(),
        direction: body.direction,
        entity_type: body.entity_type,
        field_mapping_id: body.field_mapping_id,
        trigger: body.trigger,
        event_types,
        schedule: schedule.map(|s| s.as_str().to_owned()),
        next_run_at,
        source: body.source.map(|s| serde_json::to_value(s).unwrap_or(Value::Null)),
        destination: destination.map(|d| serde_json::to_value(d).unwrap_or(Value::Null)),
        destination_secret_sealed: sealed,
        ordering_field: body.ordering_field,
        is_active: body.is_active,
    };
    Ok((spec, new_secret))
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

/// The answer to an execute.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecuteOut {
    /// The queued run.
    pub sync_history_id: String,
    /// `queued`.
    pub status: RunStatus,
}

/// Run a configuration now (operator): 202 with the queued run; 409 while
/// one is queued or running, or for an inactive or `webhook` configuration.
#[utoipa::path(post, path = "/api/v1/integration/sync-configurations/{id}/execute", tag = "sync-configurations",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Sync configuration id")),
    responses(
        (status = 202, body = Data<ExecuteOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
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
