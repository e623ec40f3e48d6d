//! `/api/v1/integration/connectors`: CRUD, connection tests, and the
//! production approval gate (TASK-015…019, TASK-023…025).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use weir_core::tenant::parse_display_name;
use weir_core::{
    AuthType, ConnectorCode, ConnectorConfig, ConnectorType, Credentials, Environment, FieldErrors, MasterKey,
};
use weir_engine::build_connector;
use weir_store::{Connector, ConnectorChanges, ConnectorFilter, NewConnector, SealedCredentials};

use super::change_requests::ChangeRequestOut;
use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiJson, ApiQuery, Id, PageParams, double_option};
use crate::policy::{ConnectorAction, connector as policy};
use crate::problem::{ApiError, Problem};

/// Largest accepted `rate_limit_per_minute`.
const MAX_RATE_LIMIT: u32 = 1_000_000;

/// Body of a connector creation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorIn {
    /// Slug, unique per tenant among live connectors.
    #[schema(pattern = r"^[a-z0-9][a-z0-9_-]{1,62}$")]
    pub code: String,
    /// Display name.
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// `http` or `webhook`.
    #[serde(rename = "type")]
    #[schema(value_type = ConnectorType)]
    pub connector_type: String,
    /// `production` (default; config changes need approval), `staging`, `development`.
    #[schema(value_type = Option<Environment>)]
    pub environment: Option<String>,
    /// Default true.
    pub is_active: Option<bool>,
    /// For `http`: `{"base_url", "health_path", "headers", "timeout_ms", "auth": {"type", "header"}}`.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Write-only secrets for `config.auth.type`.
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Value>,
    /// Receive-endpoint limit for this connector; 0 = unlimited; absent = server default.
    pub rate_limit_per_minute: Option<u32>,
}

/// Body of a connector change; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorPatch {
    /// New name.
    pub name: Option<String>,
    /// New environment.
    #[schema(value_type = Option<Environment>)]
    pub environment: Option<String>,
    /// In or out of service.
    pub is_active: Option<bool>,
    /// New configuration (replaces the whole object).
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// New credentials; `null` clears them.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Option<Value>>,
    /// New limit; `null` returns to the server default.
    #[serde(default, deserialize_with = "double_option")]
    pub rate_limit_per_minute: Option<Option<u32>>,
}

/// A connector (never its credentials).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectorOut {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// Code.
    pub code: String,
    /// Display name, as given.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub connector_type: ConnectorType,
    /// Environment.
    pub environment: Environment,
    /// In service.
    pub is_active: bool,
    /// Non-secret configuration.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Whether credentials are stored (they are never returned).
    pub has_credentials: bool,
    /// Receive-endpoint limit; null = server default.
    pub rate_limit_per_minute: Option<u32>,
    /// Live webhook receivers.
    pub receivers_count: u64,
    /// Live sync configurations.
    pub sync_configurations_count: u64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Connector> for ConnectorOut {
    fn from(c: Connector) -> Self {
        Self {
            id: c.id,
            code: c.code,
            name: c.name,
            connector_type: c.connector_type,
            environment: c.environment,
            is_active: c.is_active,
            config: c.config,
            has_credentials: c.has_credentials,
            rate_limit_per_minute: c.rate_limit_per_minute,
            receivers_count: c.receivers_count,
            sync_configurations_count: c.sync_configurations_count,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// The answer to a PATCH held for approval.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingChangeOut {
    /// The change request awaiting a second admin.
    pub change_request: ChangeRequestOut,
}

/// Result of a connection test.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionTestOut {
    /// Reached the remote and it answered 2xx.
    pub success: bool,
    /// Time to the answer or failure.
    pub latency_ms: u64,
    /// HTTP status, if one arrived.
    pub status_code: Option<u16>,
    /// Remote API version, if announced.
    pub api_version: Option<String>,
    /// Why it failed (refused, DNS, TLS, timeout, non-2xx).
    pub error: Option<String>,
}

/// List filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConnectorQuery {
    /// `active` or `inactive`.
    #[param(pattern = "^(active|inactive)$")]
    pub status: Option<String>,
    /// `http` or `webhook`.
    #[serde(rename = "type")]
    #[param(rename = "type", pattern = "^(http|webhook)$")]
    pub connector_type: Option<String>,
    /// Case-insensitive substring of code or name.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// 1-based page.
    pub page: Option<u64>,
    /// 1 to 100.
    pub per_page: Option<u64>,
}

/// Seals credentials (none → nothing stored).
pub(crate) fn seal(key: &MasterKey, creds: &Credentials) -> Result<Option<SealedCredentials>, ApiError> {
    if creds.is_none() {
        return Ok(None);
    }
    key.seal(&creds.to_bytes()).map(|b| Some(SealedCredentials(b))).map_err(|e| ApiError::Internal(Box::new(e)))
}

/// Opens a connector's sealed credentials.
pub(crate) fn open(key: &MasterKey, sealed: Option<&SealedCredentials>) -> Result<Credentials, ApiError> {
    let Some(sealed) = sealed else { return Ok(Credentials::None) };
    let bytes = key.open(&sealed.0).map_err(|e| ApiError::Internal(Box::new(e)))?;
    Credentials::from_bytes(&bytes).ok_or_else(|| ApiError::Internal("stored credentials are malformed".into()))
}

/// The stored configuration, re-parsed (it was valid when written).
pub(crate) fn stored_config(c: &Connector) -> Result<ConnectorConfig, ApiError> {
    ConnectorConfig::parse(c.connector_type, Some(&c.config))
        .map_err(|e| ApiError::Internal(format!("stored config of connector {} is invalid: {e:?}", c.id).into()))
}

fn check_rate_limit(errors: &mut FieldErrors, v: Option<u32>) {
    if v.is_some_and(|v| v > MAX_RATE_LIMIT) {
        errors.add("rate_limit_per_minute", format!("must be between 0 and {MAX_RATE_LIMIT}"));
    }
}

impl ConnectorIn {
    fn parse(self, key: &MasterKey) -> Result<NewConnector, ApiError> {
        let mut errors = FieldErrors::new();
        let code = errors.check("code", ConnectorCode::parse(&self.code));
        let name = errors.check("name", parse_display_name(&self.name, 200));
        let kind = errors.check("type", self.connector_type.parse::<ConnectorType>());
        let environment = errors.check(
            "environment",
            self.environment.as_deref().unwrap_or(Environment::Production.as_str()).parse::<Environment>(),
        );
        check_rate_limit(&mut errors, self.rate_limit_per_minute);
        let mut config = None;
        let mut credentials = None;
        if let Some(kind) = kind {
            match ConnectorConfig::parse(kind, self.config.as_ref()) {
                Ok(c) => {
                    match Credentials::parse(c.auth_type(), self.credentials.as_ref()) {
                        Ok(cr) => credentials = Some(cr),
                        Err(e) => errors.merge(e),
                    }
                    config = Some(c);
                }
                Err(e) => errors.merge(e),
            }
        }
        match (code, name, kind, environment, config, credentials) {
            (Some(code), Some(name), Some(kind), Some(environment), Some(config), Some(creds)) if errors.is_empty() => {
                Ok(NewConnector {
                    code,
                    name,
                    connector_type: kind,
                    environment,
                    is_active: self.is_active.unwrap_or(true),
                    config,
                    credentials: seal(key, &creds)?,
                    rate_limit_per_minute: self.rate_limit_per_minute,
                })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

impl ConnectorPatch {
    /// Validates against the connector as it is now. Credentials must fit
    /// the (possibly new) auth type.
    fn parse(
        self,
        current: &Connector,
        stored_creds: Option<&SealedCredentials>,
        key: &MasterKey,
    ) -> Result<ConnectorChanges, ApiError> {
        let mut errors = FieldErrors::new();
        let mut changes = ConnectorChanges {
            name: self.name.as_deref().and_then(|n| errors.check("name", parse_display_name(n, 200))),
            environment: self
                .environment
                .as_deref()
                .and_then(|e| errors.check("environment", e.parse::<Environment>())),
            is_active: self.is_active,
            rate_limit_per_minute: self.rate_limit_per_minute,
            ..Default::default()
        };
        check_rate_limit(&mut errors, self.rate_limit_per_minute.flatten());
        let current_config = stored_config(current)?;
        let new_config = match &self.config {
            Some(raw) => match ConnectorConfig::parse(current.connector_type, Some(raw)) {
                Ok(c) => Some(c),
                Err(e) => return Err(ApiError::Validation(e)),
            },
            None => None,
        };
        let auth = new_config.as_ref().unwrap_or(&current_config).auth_type();
        changes.credentials = match self.credentials {
            Some(Some(raw)) => {
                let creds = Credentials::parse(auth, Some(&raw)).map_err(ApiError::Validation)?;
                Some(seal(key, &creds)?)
            }
            Some(None) if auth != AuthType::None => {
                errors.add("credentials", format!("auth type {auth} needs credentials; they cannot be cleared"));
                None
            }
            Some(None) => Some(None),
            None if auth != current_config.auth_type() => {
                // The auth type changes: the stored credentials must still fit.
                let existing = open(key, stored_creds)?;
                if auth == AuthType::None {
                    Some(None)
                } else if existing.auth_type() != auth {
                    errors.add("credentials", format!("auth type {auth} needs new credentials"));
                    None
                } else {
                    None
                }
            }
            None => None,
        };
        changes.config = new_config;
        errors.into_result().map_err(ApiError::Validation)?;
        Ok(changes)
    }
}

impl ConnectorQuery {
    fn parse(&self) -> Result<(ConnectorFilter, weir_core::PageRequest), ApiError> {
        let mut errors = FieldErrors::new();
        let is_active = match self.status.as_deref() {
            None => None,
            Some("active") => Some(true),
            Some("inactive") => Some(false),
            Some(_) => {
                errors.add("status", "must be active or inactive");
                None
            }
        };
        let connector_type =
            self.connector_type.as_deref().and_then(|t| errors.check("type", t.parse::<ConnectorType>()));
        if self.q.as_ref().is_some_and(|q| q.len() > 200) {
            errors.add("q", "must be at most 200 characters");
        }
        errors.into_result().map_err(ApiError::Validation)?;
        let page = PageParams { page: self.page, per_page: self.per_page }.parse()?;
        Ok((ConnectorFilter { is_active, connector_type, q: self.q.clone() }, page))
    }
}

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
        let out = PendingChangeOut { change_request: request.into() };
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
    let remote = build_connector(&config, credentials, &state.outbound);
    let t = match remote.test_connection().await {
        Ok(t) => t,
        Err(weir_engine::ConnectorError::Unsupported(m)) => return Err(ApiError::Unprocessable(m.to_owned())),
        Err(e) => return Err(ApiError::Internal(Box::new(e))),
    };
    let details = json!({
        "success": t.success, "status_code": t.status_code, "latency_ms": t.latency_ms, "error": t.error,
    });
    state.store.audit_connection_test(caller.scope(), &id, &caller.actor(), details).await?;
    Ok(Json(Data::new(ConnectionTestOut {
        success: t.success,
        latency_ms: t.latency_ms,
        status_code: t.status_code,
        api_version: t.api_version,
        error: t.error,
    })))
}
