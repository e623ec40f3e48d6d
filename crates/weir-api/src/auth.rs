//! Authentication: `Authorization: Bearer <token>` resolved to a capability.
//!
//! * [`TenantCaller`] — a live tenant token; carries the [`TenantScope`]
//!   every tenant repository call needs, and the token's role.
//! * [`SystemCaller`] — the system token; carries the [`SystemScope`]
//!   that manages tenants.
//!
//! The right kind of token is required on each side: a system token on a
//! tenant route (or a tenant token on a system route) is 403, an unknown
//! token 401.
//!
//! The web dashboard authenticates with a session cookie instead
//! ([`SESSION_COOKIE`], opened by `POST /api/v1/session`): a request without
//! an `Authorization` header but with the cookie acts as the session's
//! token. A state-changing request (any method but GET/HEAD/OPTIONS) made
//! with the cookie must carry the session's `X-CSRF-Token`, and, when the
//! browser sends `Origin`, come from the server's own origin.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use subtle::ConstantTimeEq as _;
use weir_core::Role;
use weir_store::{Principal, Session, SystemScope, TenantScope};

use crate::AppState;
use crate::problem::ApiError;

/// Longest header value considered a token; anything longer is refused
/// before hashing.
const MAX_TOKEN_LEN: usize = 512;

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized("missing Authorization: Bearer <token>"))?;
    let value = value.to_str().map_err(|_| ApiError::Unauthorized("malformed Authorization header"))?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized("malformed Authorization header"))?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(ApiError::Unauthorized("malformed Authorization header"));
    }
    Ok(token)
}

/// A caller holding a live tenant token.
#[derive(Debug, Clone)]
pub struct TenantCaller(pub Principal);

impl TenantCaller {
    /// The caller's tenant scope.
    pub fn scope(&self) -> &TenantScope {
        &self.0.scope
    }

    /// The caller's token id.
    pub fn token_id(&self) -> &str {
        &self.0.token_id
    }

    /// How the audit trail names the caller: `token:<id>`.
    pub fn actor(&self) -> String {
        self.0.actor()
    }

    /// 403 unless the caller's role is at least `required`.
    pub fn require(&self, required: Role) -> Result<(), ApiError> {
        if self.0.role.allows(required) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(match required {
                Role::Admin => "this action needs the admin role",
                Role::Operator => "this action needs the operator role",
                Role::Viewer => "this action needs the viewer role",
            }))
        }
    }
}

/// What an admin who must enrol a second factor may still reach.
const MFA_ENROLMENT_PATHS: &[&str] = &["/api/v1/me", "/api/v1/me/mfa", "/api/v1/me/mfa/confirm"];

impl FromRequestParts<AppState> for TenantCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) && session_secret(parts).is_some() {
            let SessionCaller(session) = SessionCaller::from_request_parts(parts, state).await?;
            if session.principal.must_enrol_mfa && !MFA_ENROLMENT_PATHS.contains(&parts.uri.path()) {
                return Err(ApiError::Forbidden(
                    "this tenant requires admins to sign in with a second factor: enrol one first (POST /api/v1/me/mfa)",
                ));
            }
            return Ok(TenantCaller(session.principal));
        }
        let token = bearer(parts)?;
        if let Some(principal) = state.store.authenticate(token).await? {
            return Ok(TenantCaller(principal));
        }
        if state.store.authenticate_system(token).await?.is_some() {
            return Err(ApiError::Forbidden("the system token manages tenants only; use a tenant token"));
        }
        Err(ApiError::Unauthorized("invalid or revoked token"))
    }
}

/// The credential a tenant request came with, kept to check it again
/// later (a live stream outlives the request that opened it).
#[derive(Clone)]
pub enum Credential {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// The dashboard's session cookie.
    Session(String),
}

impl Credential {
    /// The credential of `parts`, as [`TenantCaller`] reads it.
    pub fn of(parts: &Parts) -> Option<Self> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return session_secret(parts).map(|s| Credential::Session(s.to_owned()));
        }
        bearer(parts).ok().map(|t| Credential::Bearer(t.to_owned()))
    }

    /// Who it stands for now: `None` once the token is revoked or expired,
    /// the session ended, or the tenant deactivated.
    pub async fn principal(&self, store: &weir_store::Store) -> Result<Option<Principal>, ApiError> {
        Ok(match self {
            Credential::Bearer(token) => store.authenticate(token).await?,
            Credential::Session(secret) => store.session(secret).await?.map(|s| s.principal),
        })
    }
}

impl FromRequestParts<AppState> for Credential {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Credential::of(parts).ok_or(ApiError::Unauthorized("missing Authorization: Bearer token"))
    }
}

/// Principals (`user:<id>`) whose access ended in this process, for open
/// live streams to close at once; streams on other instances close at
/// their next credential check (`WEIR_STREAM_RECHECK_SECS`).
#[derive(Clone)]
pub struct Revocations(tokio::sync::broadcast::Sender<String>);

impl Default for Revocations {
    fn default() -> Self {
        Self(tokio::sync::broadcast::channel(64).0)
    }
}

impl Revocations {
    /// Announces that `principal` may no longer act.
    pub fn revoke(&self, principal: &str) {
        // No receiver (no open stream) is fine.
        let _ = self.0.send(principal.to_owned());
    }

    /// Hears every later announcement.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.0.subscribe()
    }
}

/// A caller holding the system token.
#[derive(Debug, Clone)]
pub struct SystemCaller(pub SystemScope);

impl FromRequestParts<AppState> for SystemCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        if let Some(scope) = state.store.authenticate_system(token).await? {
            return Ok(SystemCaller(scope));
        }
        if state.store.authenticate(token).await?.is_some() {
            return Err(ApiError::Forbidden("tenant tokens cannot manage tenants; use the system token"));
        }
        Err(ApiError::Unauthorized("invalid or revoked token"))
    }
}

/// The dashboard's session cookie. HttpOnly and SameSite=Strict; `Secure`
/// when `WEIR_SESSION_COOKIE_SECURE` is on.
pub const SESSION_COOKIE: &str = "weir_session";

/// The header that state-changing cookie requests must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session cookie's value, if the request has one. Parsed by hand: one
/// `name=value` lookup in the `Cookie` header does not need a cookie crate.
fn session_secret(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty() && v.len() <= MAX_TOKEN_LEN)
}

/// Whether `Origin` (when the browser sent one) names this server: its
/// host must equal the `Host` header. Browsers send `Origin` on every
/// cross-site request, so a forged form or fetch from another site fails.
pub(crate) fn same_origin(headers: &axum::http::HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let (Ok(origin), Some(host)) = (origin.to_str(), headers.get(header::HOST).and_then(|h| h.to_str().ok())) else {
        return false;
    };
    let origin_host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    origin_host.is_some_and(|o| o.eq_ignore_ascii_case(host))
}

/// A caller signed in to the dashboard (session cookie; no bearer token).
/// For state-changing methods the CSRF token and origin are checked here.
#[derive(Debug, Clone)]
pub struct SessionCaller(pub Session);

impl FromRequestParts<AppState> for SessionCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let secret = session_secret(parts).ok_or(ApiError::Unauthorized("not signed in"))?;
        let session =
            state.store.session(secret).await?.ok_or(ApiError::Unauthorized("the session has ended; sign in again"))?;
        if !parts.method.is_safe() {
            if !same_origin(&parts.headers) {
                return Err(ApiError::Forbidden("cross-origin request refused"));
            }
            let presented = parts.headers.get(CSRF_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
            if !bool::from(presented.ct_eq(session.csrf_token.as_bytes())) {
                return Err(ApiError::Forbidden("missing or wrong X-CSRF-Token"));
            }
        }
        Ok(SessionCaller(session))
    }
}
