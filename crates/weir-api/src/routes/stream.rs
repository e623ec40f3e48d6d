//! `GET /api/v1/integration/stream`: Server-Sent Events of the caller's
//! tenant — `event.received`, `event.processed`, `event.retrying`,
//! `event.failed`, `sync.started`, `sync.progress`, `sync.finished`,
//! `connector.health_changed` (`weir_core::LiveEvent`) — each with its
//! payload as the JSON `data` line. A comment keeps the connection alive every 15 s.
//! A client that falls more than 1,024 messages behind is disconnected (it
//! reconnects and reloads) so that no client can slow the server down.
//! Every `WEIR_STREAM_RECHECK_SECS` (15 s) the stream checks its token or
//! session again and ends once it is revoked, expired or ended, or no
//! longer has the role to read events.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::auth::{Credential, TenantCaller};
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
    credential: Credential,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require(policy(EventAction::Read))?;
    let tenant = caller.scope().tenant_id().to_owned();
    let mut recheck = tokio::time::interval(state.sessions.stream_recheck);
    recheck.reset(); // the first tick would be now: the caller was just checked
    let start = (state.live.subscribe(), state.stopping.clone(), recheck, state.revocations.subscribe());
    let store = state.store.clone();
    let principal = caller.0.principal_id.clone();
    let events = futures::stream::unfold(start, move |(mut rx, stopping, mut recheck, mut revoked)| {
        let (tenant, store, credential, principal) =
            (tenant.clone(), store.clone(), credential.clone(), principal.clone());
        async move {
            loop {
                if stopping.is_cancelled() {
                    return None;
                }
                let next = tokio::select! {
                    next = rx.recv() => next,
                    // The server is stopping: end the stream so shutdown need not wait.
                    () = stopping.cancelled() => return None,
                    _ = recheck.tick() => {
                        if still_allowed(&store, &credential).await {
                            continue;
                        }
                        return None;
                    }
                    // The caller's access ended in this process: close now.
                    gone = revoked.recv() => match gone {
                        Ok(p) if p == principal => return None,
                        Ok(_) | Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return None,
                    },
                };
                match next {
                    Ok(e) if e.tenant_id == tenant => match e.event.data_json() {
                        Ok(data) => {
                            let event = Event::default().event(e.event.kind().as_str()).data(data);
                            return Some((Ok(event), (rx, stopping, recheck, revoked)));
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

/// Whether the stream's credential still stands for a caller allowed to
/// read events (a store error ends the stream too: the client reconnects
/// and is checked afresh).
async fn still_allowed(store: &weir_store::Store, credential: &Credential) -> bool {
    match credential.principal(store).await {
        Ok(Some(principal)) => TenantCaller(principal).require(policy(EventAction::Read)).is_ok(),
        Ok(None) | Err(_) => false,
    }
}
