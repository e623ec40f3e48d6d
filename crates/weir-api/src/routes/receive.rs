//! `POST /api/v1/integration/webhooks/{connector_code}/receive/{receiver_key}`:
//! the intake hot path, as an adapter. It gathers the path, headers and
//! client address, lets `weir_engine::intake` run the check sequence
//! (reading the body only when asked, never past the limit), and answers
//! 202 (stored) or 200 (duplicate); refusals become problems through
//! `From<Refusal> for ApiError` (`problem.rs`).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use weir_core::webhook::Headers;
use weir_engine::intake::Arrival;

use crate::AppState;
use crate::envelope::Data;
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
    let source = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let (parts, body) = request.into_parts();
    let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let arrival = Arrival {
        connector_code: &connector_code,
        receiver_key: &receiver_key,
        headers: &HeaderView(&parts.headers),
        content_type: header(header::CONTENT_TYPE),
        content_length: header(header::CONTENT_LENGTH).and_then(|v| v.parse().ok()),
        source,
    };
    let read_body = |max| read_capped(body, max);
    let receipt = state.intake.receive(&state.store, &state.master_key, arrival, read_body).await?;
    let code = if receipt.duplicate { StatusCode::OK } else { StatusCode::ACCEPTED };
    // No status: the first event was removed by hand (still a duplicate).
    let status = receipt.status.map_or_else(|| "deleted".to_owned(), |s| s.to_string());
    let out = ReceiptOut { event_id: receipt.event_id, status, duplicate: receipt.duplicate };
    Ok((code, Json(Data::new(out))).into_response())
}

/// Past the limit, how much more of a body is read (and dropped) before
/// answering 413, and for how long: a client that sent a little too much
/// then reads its answer instead of a reset connection. A larger body is
/// cut off there.
const DRAIN_BYTES: usize = 64 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_millis(200);

/// The body if it is at most `max` bytes, else `None` (after draining a
/// bounded amount more: [`DRAIN_BYTES`]).
async fn read_capped(body: axum::body::Body, max: usize) -> Option<axum::body::Bytes> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.ok()?;
        if buf.len() + chunk.len() > max {
            let mut drained = buf.len() + chunk.len() - max;
            let drain = async {
                while drained < DRAIN_BYTES {
                    match stream.next().await {
                        Some(Ok(c)) => drained += c.len(),
                        _ => break,
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
            return None;
        }
        buf.extend_from_slice(&chunk);
    }
    Some(buf.into())
}
