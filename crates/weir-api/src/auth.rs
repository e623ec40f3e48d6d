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

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use weir_core::Role;
use weir_store::{Principal, SystemScope, TenantScope};

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

impl FromRequestParts<AppState> for TenantCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
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
