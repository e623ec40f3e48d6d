//! The middleware stack around every route, outermost first: request id
//! (set and echoed as `x-request-id`), tracing span, panic catcher,
//! timeout, body limit, and the problem fallback that gives any error
//! answer produced below the handlers (405, 408, 413, 500 on panic) a
//! problem+json body.

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, Response, StatusCode, header};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::HttpLimits;
use crate::problem::{PROBLEM_JSON, bare_problem, problem_response};

/// The request id header, set when the client did not send one.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The path as logs show it: an invitation's token (a credential) is
/// replaced by its route parameter.
fn logged_path(path: &str) -> &str {
    if path.starts_with("/api/v1/invites/") { "/api/v1/invites/{token}/accept" } else { path }
}

/// Wraps `router` in the stack.
pub fn wrap(router: Router, limits: &HttpLimits) -> Router {
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
        let id = req.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or("-");
        tracing::info_span!("request", method = %req.method(), path = %logged_path(req.uri().path()), request_id = %id)
    });
    router
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(
            ServiceBuilder::new()
                .layer(CatchPanicLayer::custom(|_| {
                    tracing::error!("handler panicked");
                    let status = StatusCode::INTERNAL_SERVER_ERROR;
                    problem_response(status, &bare_problem(status))
                }))
                .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limits.request_timeout)),
        )
        .layer(axum::middleware::map_response(problem_for_bare_errors))
        .layer(axum::middleware::map_response(security_headers))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(trace)
                .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
        )
}

/// Headers every answer carries: no MIME sniffing, no referrer, no
/// framing, and — unless the answer set its own (the dashboard's pages) —
/// a Content-Security-Policy that allows nothing, since API answers are
/// data, never documents to render, and `Cache-Control: no-store`, since
/// they are a tenant's data and some carry a secret shown once (a new
/// token, a receiver's signing secret, a session): no browser or shared
/// cache may keep them.
async fn security_headers(mut res: Response<Body>) -> Response<Body> {
    let h = res.headers_mut();
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    res
}

/// Replaces the body of an error answer that is not already problem+json.
async fn problem_for_bare_errors(res: Response<Body>) -> Response<Body> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem {
        return res;
    }
    let (parts, _) = res.into_parts();
    let mut fresh = problem_response(status, &bare_problem(status));
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fresh
}
