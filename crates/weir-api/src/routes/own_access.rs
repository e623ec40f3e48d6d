//! `/api/v1/me/sessions` and `/api/v1/me/tokens`: a signed-in user's own
//! sessions and API tokens, each of which they can end from their profile.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use weir_store::OwnSession;

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::Data;
use crate::extract::Id;
use crate::problem::{ApiError, Problem};
use crate::routes::tokens::TokenOut;

/// One of the caller's sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnSessionOut {
    /// Session id.
    pub id: String,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    /// The session of this request.
    pub current: bool,
}

impl From<OwnSession> for OwnSessionOut {
    fn from(s: OwnSession) -> Self {
        Self { id: s.id, created_at: s.created_at, expires_at: s.expires_at, current: s.current }
    }
}

/// The signed-in user's live sessions, newest first.
#[utoipa::path(get, path = "/api/v1/me/sessions", tag = "users", security(("session" = [])),
    responses(
        (status = 200, body = Data<Vec<OwnSessionOut>>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_own_sessions(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<Data<Vec<OwnSessionOut>>>, ApiError> {
    let sessions = state.store.own_sessions(&caller.0).await?;
    Ok(Json(Data::new(sessions.into_iter().map(OwnSessionOut::from).collect())))
}

/// End one of the signed-in user's sessions (204); another's is 404.
#[utoipa::path(delete, path = "/api/v1/me/sessions/{id}", tag = "users", security(("session" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn end_own_session(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store.end_own_session(&caller.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user's API tokens (revoked ones included), newest first.
#[utoipa::path(get, path = "/api/v1/me/tokens", tag = "users", security(("session" = [])),
    responses(
        (status = 200, body = Data<Vec<TokenOut>>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_own_tokens(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<Data<Vec<TokenOut>>>, ApiError> {
    let tokens = state.store.own_tokens(&caller.0).await?;
    Ok(Json(Data::new(tokens.into_iter().map(TokenOut::from).collect())))
}

/// Revoke one of the signed-in user's API tokens (204, idempotent); another's is 404.
#[utoipa::path(delete, path = "/api/v1/me/tokens/{id}", tag = "users", security(("session" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_own_token(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.store.revoke_own_token(&caller.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
