//! `/api/v1/me`: who the caller is (a signed-in user, or a token and whose
//! it is), and `/api/v1/me/password`: a signed-in user changes their own
//! password, which ends every other session and token of theirs.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_core::Role;

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::Data;
use crate::extract::{ApiJson, ClientAddr};
use crate::problem::{ApiError, Problem};

/// What kind of principal the caller is.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A signed-in user (session cookie).
    User,
    /// An API token.
    Token,
}

/// A user, as other records name them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonOut {
    /// User id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// The current principal.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    /// `user` or `token`.
    pub kind: PrincipalKind,
    /// The tenant acted in.
    pub tenant_id: String,
    /// What the caller may do now (a user's token never more than its owner).
    pub role: Role,
    /// Who "another person" is compared by (`user:<id>`, or a token chain's root).
    pub principal_id: String,
    /// The token acting (for a user, their session's).
    pub token_id: String,
    /// The signed-in user, or the token's owner when it is a user.
    pub user: Option<PersonOut>,
    /// Whether the signed-in user has a second factor (`false` for a token).
    pub mfa_enabled: bool,
}

/// The caller: a signed-in user, or a token with its owner.
#[utoipa::path(get, path = "/api/v1/me", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, body = Data<MeOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(State(state): State<AppState>, caller: TenantCaller) -> Result<Json<Data<MeOut>>, ApiError> {
    let p = caller.0;
    let person = p.via_session && p.user.is_some();
    let mfa_enabled = person && state.store.mfa_state(&p).await?.secret_sealed.is_some();
    Ok(Json(Data::new(MeOut {
        kind: if person { PrincipalKind::User } else { PrincipalKind::Token },
        tenant_id: p.scope.tenant_id().to_owned(),
        role: p.role,
        principal_id: p.principal_id,
        token_id: p.token_id,
        user: p.user.map(|u| PersonOut { id: u.id, name: u.name, email: u.email }),
        mfa_enabled,
    })))
}

/// Body of a password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeIn {
    /// The password now.
    #[schema(max_length = 256)]
    pub current_password: String,
    /// The new one: at least 12 characters, not common or guessable.
    #[schema(min_length = 12, max_length = 256)]
    pub new_password: String,
}

/// Change the signed-in user's password (204). Every other session and
/// token of theirs ends; this session stays.
#[utoipa::path(post, path = "/api/v1/me/password", tag = "users", security(("session" = [])),
    request_body = PasswordChangeIn,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: TenantCaller,
    ClientAddr(source): ClientAddr,
    ApiJson(body): ApiJson<PasswordChangeIn>,
) -> Result<StatusCode, ApiError> {
    let Some(person) = caller.0.user.clone().filter(|_| caller.0.via_session) else {
        return Err(ApiError::Forbidden("only a signed-in user changes a password (sign in with email and password)"));
    };
    super::sign_in::check_current_password(
        &state,
        &caller.0,
        body.current_password,
        "current_password",
        source.as_deref(),
    )
    .await?;
    let user = state.store.get_user(caller.scope(), &person.id).await?;
    let hash = super::users::hash_new_password(body.new_password, &user).await?;
    state.store.change_password(&caller.0, hash).await?;
    Ok(StatusCode::NO_CONTENT)
}
