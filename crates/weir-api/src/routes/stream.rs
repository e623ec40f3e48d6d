//! `GET /api/v1/integration/stream`: Server-Sent Events of the caller's
//! tenant — `event.received`, `event.processed`, `event.retrying`,
//! `event.failed`, `sync.started`, `sync.progress`, `sync.finished`,
//! `connector.health_changed` (`weir_core::LiveEvent`) — each with its
//! payload as the JSON `data` line. A comment keeps the connection alive every 15 s.
//! A client that falls more than 1,024 messages behind is disconnected (it
//! reconnects and reloads) so that no client can slow the server down.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::auth::TenantCaller;
use crate::policy::{EventAction, event as policy};
use crate::problem::{ApiError, Problem};

/// Live events of the tenant (viewer).
#[utoipa::path(get, path = "/api/v1/integration/stream", tag = "events", security(("bearer" = [])),
    responses(
        (status = 200, description = "Server-Sent Events: `event: <kind>`, `data: <JSON>` (docs/live.md)", content_type = "text/event-stream"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn stream(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require(policy(EventAction::Read))?;
    let tenant = caller.scope().tenant_id().to_owned();
    let start = (state.live.subscribe(), state.stopping.clone());
    let events = futures::stream::unfold(start, move |(mut rx, stopping)| {
        let tenant = tenant.clone();
        async move {
            loop {
                if stopping.is_cancelled() {
                    return None;
                }
                let next = tokio::select! {
                    next = rx.recv() => next,
                    // The server is stopping: end the stream so shutdown need not wait.
                    () = stopping.cancelled() => return None,
                };
                match next {
                    Ok(e) if e.tenant_id == tenant => match e.event.data_json() {
                        Ok(data) => {
                            let event = Event::default().event(e.event.kind().as_str()).data(data);
                            return Some((Ok(event), (rx, stopping)));
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, kind = %e.event.kind(), "live event not serialisable; skipped")
                        }
                    },
                    Ok(_) => {}
                    // Too slow: end this stream (the client reconnects).
                    Err(RecvError::Lagged(_) | RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
