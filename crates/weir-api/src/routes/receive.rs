//! `POST /api/v1/integration/webhooks/{connector_code}/receive/{receiver_key}`:
//! the intake hot path. In order: find the receiver (404 / 410), the
//! connector's rate limit (429), JSON content type (415), size (413, never
//! reading past the limit), the receiver's method over the raw bytes (401),
//! JSON (400), schema (422) — then the group-committed write, and only then
//! 202 (or 200 for a duplicate). Every refusal after the receiver is known
//! is audited without its body.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use weir_core::webhook::{Headers, Inbound, event_type_of, provider_event_id, verifier_for};
use weir_core::{EventStatus, FieldErrors};
use weir_store::{AcceptedDelivery, Delivery, DeliveryOutcome, RejectedDelivery};

use crate::AppState;
use crate::envelope::Data;
use crate::extract::is_json;
use crate::intake::ReadyReceiver;
use crate::problem::{ApiError, Problem};

/// The answer to a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptOut {
    /// The stored event (for a duplicate: the first one).
    pub event_id: String,
    /// Processing status.
    pub status: String,
    /// Whether this delivery repeated an earlier one.
    pub duplicate: bool,
}

struct HeaderView<'a>(&'a HeaderMap);

impl Headers for HeaderView<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.to_str().ok())
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    weir_core::hex::encode(&Sha256::digest(bytes))
}

struct Ctx<'a> {
    state: &'a AppState,
    ready: &'a ReadyReceiver,
    source: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
}

impl Ctx<'_> {
    /// Audits a refusal (best effort: the refusal stands either way).
    async fn reject(&self, error: ApiError, error_type: &'static str, body: Option<&[u8]>, size: u64) -> ApiError {
        let r = &self.ready.keyed;
        let status = error_status(&error);
        let detail = match &error {
            ApiError::DeliveryUnauthorized(d) => d.clone(),
            other => other.to_string(),
        };
        metrics::counter!("weir_webhooks_rejected_total", "reason" => error_type).increment(1);
        let delivery = Delivery::Rejected(RejectedDelivery {
            tenant_id: r.scope.tenant_id().to_owned(),
            receiver_id: r.receiver.id.clone(),
            connector_id: r.receiver.connector_id.clone(),
            status,
            error_type,
            detail,
            sha256: body.map(hex_sha256),
            size,
            source: self.source.clone(),
            received_at: self.at,
        });
        if let Err(e) = self.state.intake.ingest.submit(delivery).await {
            tracing::warn!(error = %e, "could not audit a rejected delivery");
        }
        error
    }
}

fn error_status(e: &ApiError) -> u16 {
    match e {
        ApiError::DeliveryUnauthorized(_) => 401,
        ApiError::BadRequest(_) => 400,
        ApiError::PayloadTooLarge => 413,
        ApiError::UnsupportedMediaType => 415,
        ApiError::Validation(_) => 422,
        ApiError::TooManyRequests(_) => 429,
        _ => 400,
    }
}

/// Receive a webhook delivery (authenticated by the receiver's method, not a Weir token).
#[utoipa::path(post, path = "/api/v1/integration/webhooks/{connector_code}/receive/{receiver_key}", tag = "receiving",
    params(
        ("connector_code" = String, Path, description = "The connector's code"),
        ("receiver_key" = String, Path, description = "The receiver's key"),
    ),
    request_body(content = Object, content_type = "application/json", description = "The provider's payload"),
    responses(
        (status = 202, description = "Stored", body = Data<ReceiptOut>),
        (status = 200, description = "A duplicate of a stored event", body = Data<ReceiptOut>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn receive(
    State(state): State<AppState>,
    Path((connector_code, receiver_key)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let at = chrono::Utc::now();
    if receiver_key.len() > 100 {
        return Err(ApiError::NotFound);
    }
    let ready = match state.intake.receiver(&state.store, &state.master_key, &receiver_key).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(ApiError::NotFound),
        Err(crate::intake::IntakeError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(ApiError::Internal(Box::new(e))),
    };
    let keyed = &ready.keyed;
    if keyed.receiver.connector_code != connector_code {
        return Err(ApiError::NotFound);
    }
    if !keyed.connector_active {
        return Err(ApiError::Gone("the connector of this receiver is inactive"));
    }
    if !keyed.receiver.is_active {
        return Err(ApiError::Gone("this receiver is inactive"));
    }
    let source = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let ctx = Ctx { state: &state, ready: &ready, source, at };

    let limit = keyed.connector_rate_limit.unwrap_or(state.intake.default_rate_per_minute);
    if let Err(wait) = state.intake.admit(&keyed.receiver.connector_id, limit).await {
        return Err(ctx.reject(ApiError::TooManyRequests(wait), "rate_limited", None, 0).await);
    }
    let (parts, body) = request.into_parts();
    if !is_json(parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())) {
        return Err(ctx.reject(ApiError::UnsupportedMediaType, "unsupported_media_type", None, 0).await);
    }
    let max = state.intake.max_body_bytes;
    let announced = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max as u64) {
        let size = announced.unwrap_or(0);
        return Err(ctx.reject(ApiError::PayloadTooLarge, "payload_too_large", None, size).await);
    }
    let bytes = match axum::body::to_bytes(body, max).await {
        Ok(b) => b,
        Err(_) => return Err(ctx.reject(ApiError::PayloadTooLarge, "payload_too_large", None, max as u64).await),
    };
    let size = bytes.len() as u64;

    let headers = HeaderView(&parts.headers);
    let verified = {
        let inbound = Inbound { headers: &headers, body: &bytes, now: at.timestamp() };
        let keys: Vec<&[u8]> = ready.keys.iter().map(Vec::as_slice).collect();
        verifier_for(&ready.auth).verify(&inbound, &keys, i64::from(keyed.receiver.timestamp_tolerance_secs))
    };
    if let Err(e) = verified {
        let error_type = e.error_type();
        return Err(ctx.reject(ApiError::DeliveryUnauthorized(e.to_string()), error_type, Some(&bytes), size).await);
    }
    let payload: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) if weir_core::json::contains_nul(&v) => {
            let err = ApiError::BadRequest("invalid JSON: NUL characters (\\u0000) are not accepted".to_owned());
            return Err(ctx.reject(err, "malformed_json", Some(&bytes), size).await);
        }
        Ok(v) => v,
        Err(e) => {
            let err = ApiError::BadRequest(format!("invalid JSON: {e}"));
            return Err(ctx.reject(err, "malformed_json", Some(&bytes), size).await);
        }
    };
    if let Some(validator) = &ready.schema {
        let mut errors = FieldErrors::new();
        for e in validator.iter_errors(&payload).take(50) {
            let pointer = e.instance_path().to_string();
            errors.add(if pointer.is_empty() { "/".to_owned() } else { pointer }, e.to_string());
        }
        if !errors.is_empty() {
            return Err(ctx.reject(ApiError::Validation(errors), "schema_invalid", Some(&bytes), size).await);
        }
    }
    let event_type =
        event_type_of(&keyed.receiver.event_type, &headers, &payload).unwrap_or_else(|| "unknown".to_owned());
    let provider_id = provider_event_id(ready.auth.method(), &headers, &payload);
    let delivery = Delivery::Accepted(AcceptedDelivery {
        event_id: weir_core::ids::new_id(),
        tenant_id: keyed.scope.tenant_id().to_owned(),
        receiver_id: keyed.receiver.id.clone(),
        connector_id: keyed.receiver.connector_id.clone(),
        event_type,
        provider_event_id: provider_id,
        payload,
        sha256: hex_sha256(&bytes),
        size,
        source: ctx.source.clone(),
        received_at: at,
    });
    match state.intake.ingest.submit(delivery).await {
        Ok(DeliveryOutcome::Stored { event_id }) => {
            let out = ReceiptOut { event_id, status: EventStatus::Pending.to_string(), duplicate: false };
            Ok((StatusCode::ACCEPTED, Json(Data::new(out))).into_response())
        }
        Ok(DeliveryOutcome::Duplicate { event_id, status }) => {
            // No status: the first event was removed by hand (still a duplicate).
            let status = status.map_or_else(|| "deleted".to_owned(), |s| s.to_string());
            let out = ReceiptOut { event_id, status, duplicate: true };
            Ok((StatusCode::OK, Json(Data::new(out))).into_response())
        }
        Ok(DeliveryOutcome::Audited) => Err(ApiError::Unavailable),
        Err(e) => {
            tracing::warn!(error = %e, "delivery not committed");
            Err(ApiError::Unavailable)
        }
    }
}
