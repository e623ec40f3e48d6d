//! `/api/v1/integration/webhook-events`: the tenant's received events, and
//! replays that put them back in the processing queue.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use weir_core::{EventStatus, FieldErrors, ids};
use weir_store::{EventFilter, StoredPayload, WebhookEvent};

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiQuery, Id, OptionalJson, PageParams};
use crate::policy::{EventAction, event as policy};
use crate::problem::{ApiError, Problem};

/// An event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// The receiver it arrived through.
    pub receiver_id: String,
    /// The connector it belongs to.
    pub connector_id: String,
    /// Event type.
    pub event_type: String,
    /// The provider's id of the delivery.
    pub provider_event_id: Option<String>,
    /// `pending`, `processing`, `completed`, `failed`.
    pub processing_status: EventStatus,
    /// Processing attempts.
    pub attempts: i32,
    /// Last processing error's stable type (`mapping_error`, `destination_error`, …).
    pub error_type: Option<String>,
    /// Last processing error.
    pub error_message: Option<String>,
    /// Every processing attempt, oldest first: `{attempt, started_at,
    /// finished_at, outcome, error_type, error}` (show only).
    #[serde(skip_serializing_if = "Omit::is_omitted")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub attempt_log: Omit<Vec<Value>>,
    /// The payload exactly as received — key order, duplicate keys, every
    /// digit (show only; null once retention removed it). Lists leave it out
    /// so a page of large events stays small.
    #[serde(skip_serializing_if = "Omit::is_omitted")]
    #[schema(value_type = Option<Object>)]
    pub payload: Omit<Option<Box<serde_json::value::RawValue>>>,
    /// SHA-256 of the raw body.
    pub payload_sha256: String,
    /// Raw body size in bytes.
    pub payload_size: i64,
    /// Processing result.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// End of processing.
    pub processed_at: Option<DateTime<Utc>>,
}

impl From<WebhookEvent> for EventOut {
    fn from(e: WebhookEvent) -> Self {
        Self {
            id: e.id,
            receiver_id: e.receiver_id,
            connector_id: e.connector_id,
            event_type: e.event_type,
            provider_event_id: e.provider_event_id,
            processing_status: e.processing_status,
            attempts: e.attempts,
            error_type: e.error_type,
            error_message: e.error_message,
            attempt_log: Omit::Shown(e.attempt_log),
            payload: Omit::Shown(e.payload.as_ref().and_then(as_received)),
            payload_sha256: e.payload_sha256,
            payload_size: e.payload_size,
            result: e.result,
            received_at: e.received_at,
            processed_at: e.processed_at,
        }
    }
}

/// The stored payload as JSON text to embed unchanged.
fn as_received(p: &StoredPayload) -> Option<Box<serde_json::value::RawValue>> {
    match serde_json::value::RawValue::from_string(p.text().into_owned()) {
        Ok(raw) => Some(raw),
        Err(e) => {
            tracing::error!(error = %e, "a stored payload is not JSON");
            None
        }
    }
}

/// A field shown (possibly as null) or left out of the answer.
#[derive(Debug)]
pub enum Omit<T> {
    /// Serialized as is.
    Shown(T),
    /// Not in the answer.
    Omitted,
}

impl<T> Omit<T> {
    fn is_omitted(&self) -> bool {
        matches!(self, Omit::Omitted)
    }
}

impl<T: Serialize> Serialize for Omit<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Omit::Shown(v) => v.serialize(s),
            Omit::Omitted => s.serialize_none(),
        }
    }
}

/// Event list filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// `pending`, `processing`, `completed` or `failed`.
    #[param(pattern = "^(pending|processing|completed|failed)$")]
    pub status: Option<String>,
    /// Connector id.
    pub connector_id: Option<String>,
    /// Receiver id.
    pub receiver_id: Option<String>,
    /// Event type.
    pub event_type: Option<String>,
    /// The provider's own event id (exact), e.g. Stripe's `evt_…`.
    #[param(min_length = 1, max_length = 200)]
    pub provider_event_id: Option<String>,
    /// From (a date = its UTC start, or RFC 3339), inclusive.
    pub from: Option<String>,
    /// To (a date = through its UTC end, or RFC 3339), exclusive.
    pub to: Option<String>,
    /// 1-based page.
    pub page: Option<u64>,
    /// 1 to 100.
    pub per_page: Option<u64>,
}

/// Parses optional `from`/`to` query bounds (see [`parse_bound`]),
/// recording a message per bad value and for `from` after `to`.
pub fn time_range(
    from: Option<&str>,
    to: Option<&str>,
    e: &mut FieldErrors,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let from = from.map(|s| parse_bound(s, false));
    let to = to.map(|s| parse_bound(s, true));
    if matches!(from, Some(None)) {
        e.add("from", "must be a date (2026-01-10) or an RFC 3339 time");
    }
    if matches!(to, Some(None)) {
        e.add("to", "must be a date (2026-01-10) or an RFC 3339 time");
    }
    let (from, to) = (from.flatten(), to.flatten());
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        e.add("from", "must not be after to");
    }
    (from, to)
}

/// Parses a range bound: RFC 3339, or a date (start of day; for an upper
/// bound, the start of the next day, so the whole day is included).
pub fn parse_bound(s: &str, upper: bool) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let d = if upper { d.succ_opt()? } else { d };
    Some(d.and_hms_opt(0, 0, 0)?.and_utc())
}

impl EventQuery {
    fn parse(&self) -> Result<EventFilter, ApiError> {
        let mut e = FieldErrors::new();
        let status = match self.status.as_deref().map(str::parse::<EventStatus>).transpose() {
            Ok(s) => s,
            Err(_) => {
                e.add("status", "must be pending, processing, completed or failed");
                None
            }
        };
        for (field, v) in [("connector_id", &self.connector_id), ("receiver_id", &self.receiver_id)] {
            if v.as_deref().is_some_and(|v| !ids::is_valid_id(v)) {
                e.add(field, "is not an id");
            }
        }
        if self.provider_event_id.as_deref().is_some_and(|p| p.is_empty() || p.len() > 200) {
            e.add("provider_event_id", "must be 1 to 200 characters");
        }
        let (from, to) = time_range(self.from.as_deref(), self.to.as_deref(), &mut e);
        e.into_result().map_err(ApiError::Validation)?;
        Ok(EventFilter {
            status,
            connector_id: self.connector_id.clone(),
            receiver_id: self.receiver_id.clone(),
            event_type: self.event_type.clone(),
            provider_event_id: self.provider_event_id.clone(),
            from,
            to,
        })
    }
}

/// List events (viewer), newest first.
#[utoipa::path(get, path = "/api/v1/integration/webhook-events", tag = "events", security(("bearer" = [])),
    params(EventQuery),
    responses(
        (status = 200, body = List<EventOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_events(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Json<List<EventOut>>, ApiError> {
    caller.require(policy(EventAction::Read))?;
    let filter = q.parse()?;
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let paged = state.store.list_events(caller.scope(), &filter, page).await?;
    let items = paged
        .items
        .into_iter()
        .map(|e| EventOut { payload: Omit::Omitted, attempt_log: Omit::Omitted, ..EventOut::from(e) })
        .collect();
    Ok(Json(List::new(items, page, paged.total)))
}

/// Show an event with its payload (viewer).
#[utoipa::path(get, path = "/api/v1/integration/webhook-events/{id}", tag = "events", security(("bearer" = [])),
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, body = Data<EventOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_event(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<Json<Data<EventOut>>, ApiError> {
    caller.require(policy(EventAction::Read))?;
    Ok(Json(Data::new(state.store.get_event(caller.scope(), &id).await?.into())))
}

/// The event's body exactly as received, byte for byte (viewer): it
/// hashes to the event's `payload_sha256`. (The JSON answer of
/// `GET …/{id}` embeds the same JSON text, without any whitespace the
/// sender put around it.) 404 once retention removed it.
#[utoipa::path(get, path = "/api/v1/integration/webhook-events/{id}/payload", tag = "events", security(("bearer" = [])),
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 200, description = "The received bytes: any JSON text, exactly as it came", content_type = "application/json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_event_payload(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    caller.require(policy(EventAction::Read))?;
    let event = state.store.get_event(caller.scope(), &id).await?;
    let Some(payload) = event.payload else { return Err(ApiError::NotFound) };
    let headers = [(axum::http::header::CONTENT_TYPE, "application/json")];
    Ok((headers, payload.text().into_owned()).into_response())
}

/// The answer to a replay.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayOut {
    /// Events put back to `pending`.
    pub replayed: u64,
    /// Their status now.
    pub status: EventStatus,
}

/// Replay one event (operator): it goes back to `pending` with a fresh
/// attempt budget. 409 while it is being processed or once its payload is
/// past retention.
#[utoipa::path(post, path = "/api/v1/integration/webhook-events/{id}/replay", tag = "events", security(("bearer" = [])),
    params(("id" = String, Path, description = "Event id")),
    responses(
        (status = 202, body = Data<ReplayOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn replay_event(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<(StatusCode, Json<Data<ReplayOut>>), ApiError> {
    caller.require(policy(EventAction::Replay))?;
    state.store.replay_event(caller.scope(), &id, &caller.actor()).await?;
    state.wake.notify_waiters();
    Ok((StatusCode::ACCEPTED, Json(Data::new(ReplayOut { replayed: 1, status: EventStatus::Pending }))))
}

/// Which events a bulk replay takes (all optional; `status` is `failed`
/// unless `completed` is named).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayFilterIn {
    /// `failed` (default) or `completed`.
    #[schema(pattern = "^(failed|completed)$")]
    pub status: Option<String>,
    /// Connector id.
    pub connector_id: Option<String>,
    /// Receiver id.
    pub receiver_id: Option<String>,
    /// Event type.
    pub event_type: Option<String>,
    /// The provider's own event id (exact).
    #[schema(min_length = 1, max_length = 200)]
    pub provider_event_id: Option<String>,
    /// Received from (date or RFC 3339), inclusive.
    pub from: Option<String>,
    /// Received to (date = through its end, or RFC 3339), exclusive.
    pub to: Option<String>,
}

/// Replay every finished event matching a filter (operator).
#[utoipa::path(post, path = "/api/v1/integration/webhook-events/replay", tag = "events", security(("bearer" = [])),
    request_body(content = Option<ReplayFilterIn>, description = "Optional filter; no body replays every failed event"),
    responses(
        (status = 202, body = Data<ReplayOut>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn replay_events(
    State(state): State<AppState>,
    caller: TenantCaller,
    OptionalJson(body): OptionalJson<ReplayFilterIn>,
) -> Result<(StatusCode, Json<Data<ReplayOut>>), ApiError> {
    caller.require(policy(EventAction::Replay))?;
    let body = body.unwrap_or_default();
    if let Some(s) = &body.status
        && !s.parse::<EventStatus>().is_ok_and(EventStatus::is_finished)
    {
        return Err(ApiError::Validation(FieldErrors::single("status", "must be failed or completed")));
    }
    let q = EventQuery {
        status: body.status,
        connector_id: body.connector_id,
        receiver_id: body.receiver_id,
        event_type: body.event_type,
        provider_event_id: body.provider_event_id,
        from: body.from,
        to: body.to,
        page: None,
        per_page: None,
    };
    let filter = q.parse()?;
    let n = state.store.replay_events(caller.scope(), &filter, &caller.actor()).await?;
    if n > 0 {
        state.wake.notify_waiters();
    }
    Ok((StatusCode::ACCEPTED, Json(Data::new(ReplayOut { replayed: n, status: EventStatus::Pending }))))
}
