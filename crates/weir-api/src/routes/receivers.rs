//! Webhook receivers: create on a connector, list, show, change, delete,
//! rotate the secret (the old one stays valid for a grace period). The
//! secret is returned only on create and rotate.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use weir_core::tenant::parse_display_name;
use weir_core::webhook::{ReceiverAuth, generate_secret, key_material};
use weir_core::{FieldErrors, MasterKey, ids};
use weir_store::{NewReceiver, Receiver, ReceiverChanges};

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiJson, ApiQuery, Id, OptionalJson, PageParams, double_option};
use crate::policy::{ConnectorAction, connector as policy};
use crate::problem::{ApiError, Problem};

/// Default grace period of a rotated-out secret.
const ROTATION_GRACE_SECS: i64 = 24 * 3600;

/// Body of a receiver creation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiverIn {
    /// Display name, at most 200 characters; default: the event type, or
    /// "All events" for `*`.
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// The event type this receiver accepts, or `*` (taken from headers or body).
    pub event_type: String,
    /// `{"method": "hmac_sha256" | "standard_webhooks" | "github" | "stripe" | "shopify" | "slack" | "bearer" | "api_key", …options}`.
    #[schema(value_type = Object)]
    pub auth: Value,
    /// JSON Schema (draft 7 or 2020-12) the payload must satisfy.
    #[schema(value_type = Option<Object>)]
    pub schema: Option<Value>,
    /// Default true.
    pub is_active: Option<bool>,
    /// Your own secret (e.g. the provider's `whsec_…`); generated when absent.
    pub secret: Option<String>,
    /// Accepted clock skew for timestamped methods, 1 to 86400 s (default 300).
    pub timestamp_tolerance_secs: Option<i32>,
}

/// Body of a receiver change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiverPatch {
    /// New display name.
    #[schema(max_length = 200)]
    pub name: Option<String>,
    /// New event type.
    pub event_type: Option<String>,
    /// New options of the same method (a different method needs a new receiver).
    #[schema(value_type = Option<Object>)]
    pub auth: Option<Value>,
    /// New schema; null removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    pub schema: Option<Option<Value>>,
    /// New tolerance.
    pub timestamp_tolerance_secs: Option<i32>,
    /// In or out of service.
    pub is_active: Option<bool>,
}

/// Body of a rotation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateIn {
    /// Your own new secret; generated when absent.
    pub secret: Option<String>,
    /// End the old secret's validity now instead of after 24 h.
    pub expire_old: Option<bool>,
}

/// A receiver.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiverOut {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// The connector it belongs to.
    pub connector_id: String,
    /// The key in the receive URL.
    pub key: String,
    /// Where the provider sends deliveries (path on this server).
    pub receiver_url: String,
    /// Display name.
    pub name: String,
    /// Event type or `*`.
    pub event_type: String,
    /// Method and options.
    #[schema(value_type = Object)]
    pub auth: Value,
    /// JSON Schema, if any.
    #[schema(value_type = Option<Object>)]
    pub schema: Option<Value>,
    /// Tolerance of timestamped methods, seconds.
    pub timestamp_tolerance_secs: i32,
    /// In service.
    pub is_active: bool,
    /// Last accepted delivery.
    pub last_received_at: Option<DateTime<Utc>>,
    /// Until when the previous secret is still accepted.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// The secret: only in the answers to create and rotate-secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl ReceiverOut {
    fn new(r: Receiver, secret: Option<String>) -> Self {
        Self {
            receiver_url: format!("/api/v1/integration/webhooks/{}/receive/{}", r.connector_code, r.key),
            id: r.id,
            connector_id: r.connector_id,
            key: r.key,
            name: r.name,
            event_type: r.event_type,
            auth: r.auth,
            schema: r.schema,
            timestamp_tolerance_secs: r.timestamp_tolerance_secs,
            is_active: r.is_active,
            last_received_at: r.last_received_at,
            previous_secret_expires_at: r.previous_secret_expires_at,
            secret,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Receiver list filter.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReceiverQuery {
    /// Only this connector's.
    pub connector_id: Option<String>,
    /// 1-based page.
    pub page: Option<u64>,
    /// 1 to 100.
    pub per_page: Option<u64>,
}

fn check_event_type(errors: &mut FieldErrors, t: &str) {
    if t.is_empty() || t.len() > 200 || t.chars().any(|c| c.is_control() || c.is_whitespace()) {
        errors.add("event_type", "must be 1 to 200 characters without spaces, or *");
    }
}

fn check_schema(errors: &mut FieldErrors, schema: &Value) {
    if !schema.is_object() && !schema.is_boolean() {
        errors.add("schema", "must be a JSON Schema object");
    } else if let Err(e) = weir_engine::intake::compile_schema(schema) {
        errors.add("schema", format!("is not a valid JSON Schema: {e}"));
    }
}

fn check_tolerance(errors: &mut FieldErrors, t: Option<i32>) {
    if t.is_some_and(|t| !(1..=86_400).contains(&t)) {
        errors.add("timestamp_tolerance_secs", "must be between 1 and 86400");
    }
}

fn seal_secret(key: &MasterKey, secret: &str) -> Result<Vec<u8>, ApiError> {
    key.seal(secret.as_bytes()).map_err(|e| ApiError::Internal(Box::new(e)))
}

/// The secret to use: the caller's (checked for the method) or a new one.
fn secret_for(auth: &ReceiverAuth, supplied: Option<String>, errors: &mut FieldErrors) -> String {
    match supplied {
        Some(s) => {
            if let Err(m) = key_material(auth.method(), &s) {
                errors.add("secret", m);
            }
            s
        }
        None => generate_secret(auth.method()),
    }
}

/// Create a receiver on a connector (admin). The answer carries the secret, once.
#[utoipa::path(post, path = "/api/v1/integration/connectors/{id}/webhook-receivers", tag = "receivers",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Connector id")),
    request_body = ReceiverIn,
    responses(
        (status = 201, body = Data<ReceiverOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_receiver(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(connector_id): Id,
    ApiJson(body): ApiJson<ReceiverIn>,
) -> Result<(StatusCode, Json<Data<ReceiverOut>>), ApiError> {
    caller.require(policy(ConnectorAction::Update))?;
    let mut errors = FieldErrors::new();
    check_event_type(&mut errors, &body.event_type);
    let name = match &body.name {
        Some(n) => errors.check("name", parse_display_name(n, 200)),
        None if body.event_type == "*" => Some("All events".to_owned()),
        None => Some(body.event_type.clone()),
    };
    check_tolerance(&mut errors, body.timestamp_tolerance_secs);
    if let Some(s) = &body.schema {
        check_schema(&mut errors, s);
    }
    let auth = match ReceiverAuth::parse(&body.auth) {
        Ok(a) => Some(a),
        Err(e) => {
            errors.merge(e);
            None
        }
    };
    let secret = auth.as_ref().map(|a| secret_for(a, body.secret, &mut errors));
    errors.into_result().map_err(ApiError::Validation)?;
    let (Some(auth), Some(secret)) = (auth, secret) else { return Err(ApiError::field("auth", "is required")) };
    let new = NewReceiver {
        name: name.unwrap_or_default(),
        event_type: body.event_type,
        auth: auth.to_json(),
        secret_sealed: seal_secret(&state.master_key, &secret)?,
        schema: body.schema,
        timestamp_tolerance_secs: body.timestamp_tolerance_secs.unwrap_or(300),
        is_active: body.is_active.unwrap_or(true),
    };
    let r = state.store.create_receiver(caller.scope(), &connector_id, new, &caller.actor()).await?;
    Ok((StatusCode::CREATED, Json(Data::new(ReceiverOut::new(r, Some(secret))))))
}

/// List receivers (viewer).
#[utoipa::path(get, path = "/api/v1/integration/webhook-receivers", tag = "receivers", security(("bearer" = [])),
    params(ReceiverQuery),
    responses(
        (status = 200, body = List<ReceiverOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_receivers(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(q): ApiQuery<ReceiverQuery>,
) -> Result<Json<List<ReceiverOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Read))?;
    if q.connector_id.as_deref().is_some_and(|c| !ids::is_valid_id(c)) {
        return Err(ApiError::field("connector_id", "is not an id"));
    }
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let paged = state.store.list_receivers(caller.scope(), q.connector_id.as_deref(), page).await?;
    Ok(Json(List::new(paged.items.into_iter().map(|r| ReceiverOut::new(r, None)).collect(), page, paged.total)))
}

/// Show a receiver (viewer).
#[utoipa::path(get, path = "/api/v1/integration/webhook-receivers/{id}", tag = "receivers", security(("bearer" = [])),
    params(("id" = String, Path, description = "Receiver id")),
    responses(
        (status = 200, body = Data<ReceiverOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_receiver(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<Json<Data<ReceiverOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Read))?;
    Ok(Json(Data::new(ReceiverOut::new(state.store.get_receiver(caller.scope(), &id).await?, None))))
}

/// Change a receiver (admin).
#[utoipa::path(patch, path = "/api/v1/integration/webhook-receivers/{id}", tag = "receivers", security(("bearer" = [])),
    params(("id" = String, Path, description = "Receiver id")),
    request_body = ReceiverPatch,
    responses(
        (status = 200, body = Data<ReceiverOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_receiver(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
    ApiJson(body): ApiJson<ReceiverPatch>,
) -> Result<Json<Data<ReceiverOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Update))?;
    let current = state.store.get_receiver(caller.scope(), &id).await?;
    let mut errors = FieldErrors::new();
    let name = body.name.as_deref().and_then(|n| errors.check("name", parse_display_name(n, 200)));
    if let Some(t) = &body.event_type {
        check_event_type(&mut errors, t);
    }
    check_tolerance(&mut errors, body.timestamp_tolerance_secs);
    if let Some(Some(s)) = &body.schema {
        check_schema(&mut errors, s);
    }
    let auth = match &body.auth {
        None => None,
        Some(raw) => match ReceiverAuth::parse(raw) {
            Ok(a) if Some(a.method().as_str()) == current.auth["method"].as_str() => Some((a.to_json(), None)),
            Ok(_) => {
                errors.add("auth.method", "cannot change; create a new receiver for another method");
                None
            }
            Err(e) => {
                errors.merge(e);
                None
            }
        },
    };
    errors.into_result().map_err(ApiError::Validation)?;
    let changes = ReceiverChanges {
        name,
        event_type: body.event_type,
        auth,
        schema: body.schema,
        timestamp_tolerance_secs: body.timestamp_tolerance_secs,
        is_active: body.is_active,
    };
    let r = state.store.update_receiver(caller.scope(), &id, changes, &caller.actor()).await?;
    state.intake.invalidate(&r.key);
    Ok(Json(Data::new(ReceiverOut::new(r, None))))
}

/// Delete a receiver (admin); its URL then answers 404.
#[utoipa::path(delete, path = "/api/v1/integration/webhook-receivers/{id}", tag = "receivers", security(("bearer" = [])),
    params(("id" = String, Path, description = "Receiver id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_receiver(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    caller.require(policy(ConnectorAction::Delete))?;
    let r = state.store.get_receiver(caller.scope(), &id).await?;
    state.store.delete_receiver(caller.scope(), &id, &caller.actor()).await?;
    state.intake.invalidate(&r.key);
    Ok(StatusCode::NO_CONTENT)
}

/// Rotate the secret (admin). The old secret stays valid for 24 h unless
/// `expire_old`. The answer carries the new secret, once.
#[utoipa::path(post, path = "/api/v1/integration/webhook-receivers/{id}/rotate-secret", tag = "receivers",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Receiver id")),
    request_body(content = Option<RotateIn>, description = "Optional new secret and expire_old"),
    responses(
        (status = 200, body = Data<ReceiverOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
    OptionalJson(body): OptionalJson<RotateIn>,
) -> Result<Json<Data<ReceiverOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Update))?;
    let body = body.unwrap_or_default();
    let current = state.store.get_receiver(caller.scope(), &id).await?;
    let auth = ReceiverAuth::parse(&current.auth)
        .map_err(|e| ApiError::Internal(format!("stored auth of receiver {id} is invalid: {e:?}").into()))?;
    let mut errors = FieldErrors::new();
    let secret = secret_for(&auth, body.secret, &mut errors);
    errors.into_result().map_err(ApiError::Validation)?;
    let until = (!body.expire_old.unwrap_or(false))
        .then(|| chrono::Utc::now() + chrono::Duration::seconds(ROTATION_GRACE_SECS));
    let sealed = seal_secret(&state.master_key, &secret)?;
    let r = state.store.rotate_receiver_secret(caller.scope(), &id, sealed, until, &caller.actor()).await?;
    state.intake.invalidate(&r.key);
    Ok(Json(Data::new(ReceiverOut::new(r, Some(secret)))))
}
