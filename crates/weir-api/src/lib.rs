//! Weir's HTTP API: the axum router, authentication, problem+json errors
//! and the generated OpenAPI document.
//!
//! Where things live:
//! * [`router`] builds the whole application (routes + middleware).
//! * `routes/*` — one file per resource; each handler parses, authorizes,
//!   calls one store function and maps the result.
//! * [`auth`] — bearer-token extractors that mint the caller's capability.
//! * [`problem`] — every error response, mapped in one place.
//! * [`extract`] — JSON/query/path extractors whose rejections are problems.

pub mod auth;
pub mod download;
pub mod envelope;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod policy;
pub mod problem;
pub mod routes;
pub mod ui;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use weir_core::MasterKey;
use weir_engine::Outbound;
use weir_store::Store;

pub use problem::ApiError;

/// Limits applied to every request.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Largest accepted request body (413 beyond).
    pub max_body_bytes: usize,
    /// Longest a request may take before it is answered 408.
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self { max_body_bytes: 1024 * 1024, request_timeout: Duration::from_secs(30) }
    }
}

/// Dashboard sessions (`POST /api/v1/session`).
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// How long a session lasts (never longer than its token).
    pub ttl: Duration,
    /// Mark the cookie `Secure` (serve the dashboard over HTTPS).
    pub secure_cookie: bool,
    /// How often a live stream re-checks the credential it was opened with.
    pub stream_recheck: Duration,
    /// How long an invitation link works.
    pub invite_ttl: Duration,
    /// The address people reach Weir at (`WEIR_PUBLIC_URL`): the base of
    /// the SSO redirect URI. `None` takes it from each request's `Host`.
    pub public_url: Option<url::Url>,
}

impl SessionSettings {
    /// [`SessionSettings::invite_ttl`] as a `chrono` duration (capped at 10 years).
    pub fn invite_ttl(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.invite_ttl).unwrap_or(chrono::Duration::days(3650))
    }
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(12 * 3600),
            secure_cookie: false,
            stream_recheck: Duration::from_secs(15),
            invite_ttl: Duration::from_secs(72 * 3600),
            public_url: None,
        }
    }
}

/// The long-lived services handlers use (most come from the running
/// [`weir_engine::Engine`]).
#[derive(Clone)]
pub struct Services {
    /// The database.
    pub store: Store,
    /// Seals and opens connector credentials and receiver secrets.
    pub master_key: MasterKey,
    /// The shared outbound HTTP client.
    pub outbound: Outbound,
    /// Webhook intake (group-commit writer, receiver cache, rate limits).
    pub intake: weir_engine::Intake,
    /// Wakes idle workers (after a replay puts events back in the queue).
    pub wake: Arc<tokio::sync::Notify>,
    /// The sync engine (woken when a run is queued).
    pub sync: weir_engine::SyncEngine,
    /// Live events for the SSE stream.
    pub live: weir_engine::LiveBus,
    /// Cancelled when the server starts shutting down (streams end then).
    pub stopping: tokio_util::sync::CancellationToken,
    /// Dashboard sessions.
    pub sessions: SessionSettings,
}

/// What every handler can reach: the [`Services`] (its fields read
/// through `Deref`, as `state.store`) and what the router adds.
#[derive(Clone)]
pub struct AppState {
    /// The services the router was built with.
    pub services: Services,
    /// The OpenAPI document, rendered once at start.
    pub openapi_json: Arc<String>,
    /// The Prometheus recorder's handle.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Principals whose access ended in this process (their streams close).
    pub revocations: auth::Revocations,
    /// OpenID Connect sign-ins (over [`Services::outbound`]).
    pub sso: weir_engine::Sso,
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

/// Builds the application: every route, the 404 fallback and the
/// middleware stack (request ids, tracing, timeouts, body limit, panics
/// and non-JSON errors turned into problem+json).
pub fn router(services: Services, limits: &HttpLimits) -> Router {
    let (routes, api) = routes::all().split_for_parts();
    let state = state(services, openapi::render(openapi::complete(api)));
    let routes = routes.route_layer(axum::middleware::from_fn(metrics::track)).merge(ui::routes());
    middleware::wrap(routes.fallback(problem::not_found_fallback).with_state(state), limits)
}

/// The application of an instance that does not serve the API (the worker
/// and scheduler roles): `/healthz`, `/readyz` and `/metrics` only, for
/// orchestrators and Prometheus; everything else is 404.
pub fn ops_router(services: Services, limits: &HttpLimits) -> Router {
    let (routes, _) = routes::ops().split_for_parts();
    let state = state(services, "{}".to_owned());
    middleware::wrap(routes.fallback(problem::not_found_fallback).with_state(state), limits)
}

fn state(services: Services, openapi_json: String) -> AppState {
    AppState {
        sso: weir_engine::Sso::new(services.outbound.clone()),
        services,
        openapi_json: Arc::new(openapi_json),
        metrics: metrics::install(),
        revocations: auth::Revocations::default(),
    }
}
