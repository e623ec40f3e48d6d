//! `/api/v1/session`: the web dashboard's sign-in. A user's email and
//! password (see [`super::sign_in`]) or, for API-only tenants, an API token
//! is exchanged for an HttpOnly, SameSite=Strict cookie; the answer carries the
//! CSRF token the page must echo on state-changing requests (see
//! [`crate::auth`]). The token itself never reaches the page's scripts
//! after sign-in.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_core::Role;
use weir_store::Session;

use crate::AppState;
use crate::auth::{SESSION_COOKIE, SessionCaller, same_origin};
use crate::envelope::Data;
use crate::extract::{ApiJson, ClientAddr};
use crate::problem::{ApiError, Problem};
use crate::routes::sign_in::PasswordOutcome;

/// Longest token accepted for sign-in (longer is refused before hashing).
const MAX_TOKEN_LEN: usize = 512;

/// Sign-in body: `{"email", "password"}` (optionally `"tenant"`), or
/// `{"token"}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInIn {
    /// A tenant API token (any role): the form for API-only tenants.
    pub token: Option<String>,
    /// A user's email (with `password`).
    #[schema(max_length = 320)]
    pub email: Option<String>,
    /// Their password.
    #[schema(max_length = 256)]
    pub password: Option<String>,
    /// The tenant's slug, needed only when the same email and password
    /// sign in to several tenants.
    pub tenant: Option<String>,
}

/// The signed-in person, when the session is a user's.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionUserOut {
    /// User id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// The signed-in session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    /// The tenant acted in.
    pub tenant_id: String,
    /// Its slug.
    pub tenant_slug: String,
    /// Its name.
    pub tenant_name: String,
    /// The token's role.
    pub role: Role,
    /// The token the session acts as (audit entries and change requests name it).
    pub token_id: String,
    /// Echo in `X-CSRF-Token` on every POST, PATCH and DELETE.
    pub csrf_token: String,
    /// When the session ends (sign in again then).
    pub expires_at: DateTime<Utc>,
    /// The person signed in; `null` for a session opened with a token.
    pub user: Option<SessionUserOut>,
    /// An admin of a tenant that requires a second factor, without one:
    /// every other request is 403 until they enrol (`POST /api/v1/me/mfa`).
    pub must_enrol_mfa: bool,
}

impl From<&Session> for SessionOut {
    fn from(s: &Session) -> Self {
        Self {
            tenant_id: s.tenant.id.clone(),
            tenant_slug: s.tenant.slug.clone(),
            tenant_name: s.tenant.name.clone(),
            role: s.principal.role,
            token_id: s.principal.token_id.clone(),
            csrf_token: s.csrf_token.clone(),
            expires_at: s.expires_at,
            user: s.principal.user.as_ref().map(|u| SessionUserOut {
                id: u.id.clone(),
                name: u.name.clone(),
                email: u.email.clone(),
            }),
            must_enrol_mfa: s.principal.must_enrol_mfa,
        }
    }
}

fn cookie(state: &AppState, value: &str, max_age_secs: i64) -> Result<HeaderValue, ApiError> {
    let secure = if state.sessions.secure_cookie { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .map_err(|e| ApiError::Internal(Box::new(e)))
}

/// Signs in with an email and password, or an API token: sets the session
/// cookie (201). A wrong email or password is 401 either way; repeated
/// failures are 429 with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/session", tag = "session",
    request_body = SignInIn,
    responses(
        (status = 201, body = Data<SessionOut>, description = "Signed in; `Set-Cookie: weir_session=…; HttpOnly; SameSite=Strict`"),
        (status = 202, body = Data<MfaRequiredOut>, description = "The password was right; the user has a second factor: `POST /api/v1/session/mfa` next"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    ClientAddr(source): ClientAddr,
    ApiJson(body): ApiJson<SignInIn>,
) -> Result<Response, ApiError> {
    if !same_origin(&headers) {
        return Err(ApiError::Forbidden("cross-origin request refused"));
    }
    let opened = match body {
        SignInIn { token: Some(token), email: None, password: None, tenant: None } => {
            with_token(&state, &token).await?
        }
        SignInIn { token: None, email: Some(email), password: Some(password), tenant } => {
            match super::sign_in::with_password(&state, &email, password, tenant.as_deref(), source.as_deref()).await? {
                PasswordOutcome::Session(opened) => *opened,
                PasswordOutcome::SecondFactor { mfa_token, expires_at } => {
                    let body = MfaRequiredOut { mfa_required: true, mfa_token, expires_at };
                    return Ok((StatusCode::ACCEPTED, Json(Data::new(body))).into_response());
                }
            }
        }
        _ => {
            return Err(ApiError::field("email", "send either email and password (and optionally tenant), or token"));
        }
    };
    signed_in(&state, &opened)
}

/// The `201` of a new session: the cookie and the session body.
pub(crate) fn signed_in(state: &AppState, opened: &weir_store::OpenedSession) -> Result<Response, ApiError> {
    let max_age = (opened.session.expires_at - Utc::now()).num_seconds().max(0);
    let set_cookie = cookie(state, &opened.secret, max_age)?;
    let body = Json(Data::new(SessionOut::from(&opened.session)));
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, set_cookie), (header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        body,
    )
        .into_response())
}

/// A correct password of a user with a second factor: the next step.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaRequiredOut {
    /// Always `true`.
    pub mfa_required: bool,
    /// Send it with the code to `POST /api/v1/session/mfa`.
    pub mfa_token: String,
    /// When it stops working (5 minutes).
    pub expires_at: DateTime<Utc>,
}

async fn with_token(state: &AppState, token: &str) -> Result<weir_store::OpenedSession, ApiError> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(ApiError::Unauthorized("invalid or revoked token"));
    }
    let ttl = chrono::Duration::from_std(state.sessions.ttl).map_err(|e| ApiError::Internal(Box::new(e)))?;
    if let Some(principal) = state.store.authenticate(token).await?
        && !state.store.sso_only_tenants(&[principal.scope.tenant_id()]).await?.is_empty()
    {
        return Err(ApiError::Forbidden("this tenant signs in with SSO only; use \"Sign in with SSO\""));
    }
    let Some(opened) = state.store.open_session(token, ttl).await? else {
        if state.store.authenticate_system(token).await?.is_some() {
            return Err(ApiError::Forbidden("the system token cannot sign in to the dashboard; use a tenant token"));
        }
        return Err(ApiError::Unauthorized("invalid or revoked token"));
    };
    Ok(opened)
}

/// The current session (cookie), with its CSRF token.
#[utoipa::path(get, path = "/api/v1/session", tag = "session", security(("session" = [])),
    responses(
        (status = 200, body = Data<SessionOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn current_session(SessionCaller(session): SessionCaller) -> Response {
    ([(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], Json(Data::new(SessionOut::from(&session))))
        .into_response()
}

/// Signs out: ends the session and clears the cookie (204). Needs
/// `X-CSRF-Token`.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session", security(("session" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sign_out(
    State(state): State<AppState>,
    SessionCaller(session): SessionCaller,
) -> Result<Response, ApiError> {
    state.store.close_session(&session).await?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie(&state, "", 0)?)]).into_response())
}
