//! `/api/v1/users` (admin): a tenant's people — invite, list, rename,
//! change role, deactivate — and `/api/v1/invites/{token}/accept`, where an
//! invited person sets their password.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_core::user::{Email, NewPassword, UserName};
use weir_core::{FieldErrors, Role, UserStatus};
use weir_store::{Invitation, NewUser, User, UserPatch};

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiJson, ApiQuery, Id, PageParams};
use crate::problem::{ApiError, Problem};

/// Body of an invitation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    /// Their email; unique in the tenant, compared case-insensitively.
    #[schema(max_length = 320)]
    pub email: String,
    /// Display name, 1 to 200 characters.
    #[schema(max_length = 200)]
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    #[schema(value_type = Role)]
    pub role: String,
}

impl UserIn {
    /// Validates into a [`NewUser`] (422 naming each bad field).
    pub fn parse(self) -> Result<NewUser, ApiError> {
        let mut errors = FieldErrors::new();
        let email = errors.check("email", Email::parse(&self.email));
        let name = errors.check("name", UserName::parse(&self.name));
        let role = errors.check("role", self.role.parse::<Role>());
        match (email, name, role) {
            (Some(email), Some(name), Some(role)) if errors.is_empty() => Ok(NewUser { email, name, role }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// Changes to a user; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchIn {
    /// New display name.
    pub name: Option<String>,
    /// New role.
    #[schema(value_type = Option<Role>)]
    pub role: Option<String>,
}

/// A user (never a password or its hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    /// User id.
    pub id: String,
    /// Email as entered.
    pub email: String,
    /// Display name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// `invited`, `active` or `deactivated`.
    pub status: UserStatus,
    /// Last successful sign-in.
    pub last_sign_in_at: Option<DateTime<Utc>>,
    /// When they were invited.
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            status: u.status,
            last_sign_in_at: u.last_sign_in_at,
            created_at: u.created_at,
        }
    }
}

/// A user just invited, with their single-use link (shown once).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitedOut {
    /// The user.
    #[serde(flatten)]
    pub user: UserOut,
    /// The console's page for accepting (relative to the server); the part
    /// after `/invite/` is the token for `POST /api/v1/invites/{token}/accept`.
    pub invite_url: String,
    /// When the link stops working.
    pub invite_expires_at: DateTime<Utc>,
}

impl From<Invitation> for InvitedOut {
    fn from(i: Invitation) -> Self {
        Self { invite_url: format!("/#/invite/{}", i.secret), invite_expires_at: i.expires_at, user: i.user.into() }
    }
}

/// Invite a user to the caller's tenant (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    request_body = UserIn,
    responses(
        (status = 201, body = Data<InvitedOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<UserIn>,
) -> Result<(StatusCode, Json<Data<InvitedOut>>), ApiError> {
    caller.require(Role::Admin)?;
    let new = body.parse()?;
    let invited = state.store.create_user(caller.scope(), new, &caller.actor(), state.sessions.invite_ttl()).await?;
    Ok((StatusCode::CREATED, Json(Data::new(invited.into()))))
}

/// The caller's tenant's users, by email (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, body = List<UserOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<List<UserOut>>, ApiError> {
    caller.require(Role::Admin)?;
    let page = params.parse()?;
    let paged = state.store.list_users(caller.scope(), page).await?;
    Ok(Json(List::new(paged.items.into_iter().map(UserOut::from).collect(), page, paged.total)))
}

/// One user (admin).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = Data<UserOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<Json<Data<UserOut>>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json(Data::new(state.store.get_user(caller.scope(), &id).await?.into())))
}

/// Rename a user or change their role (admin). Their tokens never act
/// above the new role, from the next request on.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    request_body = UserPatchIn,
    responses(
        (status = 200, body = Data<UserOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
    ApiJson(body): ApiJson<UserPatchIn>,
) -> Result<Json<Data<UserOut>>, ApiError> {
    caller.require(Role::Admin)?;
    let mut errors = FieldErrors::new();
    let name = body.name.as_deref().and_then(|n| errors.check("name", UserName::parse(n)));
    let role = body.role.as_deref().and_then(|r| errors.check("role", r.parse::<Role>()));
    errors.into_result().map_err(ApiError::Validation)?;
    if role.is_some_and(|r| r != Role::Admin) && caller.0.user.as_ref().is_some_and(|u| u.id == id) {
        return Err(ApiError::Conflict { detail: "an admin cannot lower their own role".into(), errors: None });
    }
    let user = state.store.update_user(caller.scope(), &id, UserPatch { name, role }, &caller.actor()).await?;
    Ok(Json(Data::new(user.into())))
}

/// Deactivate a user (admin): from this request on, every session and
/// token of theirs is refused, and their open live streams close.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = Data<UserOut>, description = "Deactivated (or already)"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn deactivate_user(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<Json<Data<UserOut>>, ApiError> {
    caller.require(Role::Admin)?;
    if caller.0.user.as_ref().is_some_and(|u| u.id == id) {
        return Err(ApiError::Conflict { detail: "an admin cannot deactivate themselves".into(), errors: None });
    }
    let user = state.store.deactivate_user(caller.scope(), &id, &caller.actor()).await?;
    state.revocations.revoke(&weir_store::user_principal(&user.id));
    Ok(Json(Data::new(user.into())))
}

/// Body of an invitation acceptance.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptIn {
    /// At least 12 characters, not a common or guessable password.
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
}

/// Accept an invitation: sets the password and activates the user. The
/// link works once, until it expires; an unknown, used or expired link is 404.
#[utoipa::path(post, path = "/api/v1/invites/{token}/accept", tag = "users",
    params(("token" = String, Path, description = "The invitation link's token")),
    request_body = AcceptIn,
    responses(
        (status = 200, body = Data<UserOut>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn accept_invite(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<AcceptIn>,
) -> Result<Json<Data<UserOut>>, ApiError> {
    if token.is_empty() || token.len() > 128 {
        return Err(ApiError::NotFound);
    }
    let user = state.store.invited_user(&token).await?;
    if !state.store.sso_only_tenants(&[user.tenant_id.as_str()]).await?.is_empty() {
        return Err(ApiError::Conflict {
            detail: "this tenant signs in with SSO only: sign in with SSO instead of setting a password".into(),
            errors: None,
        });
    }
    let hash = hash_new_password(body.password, &user).await?;
    let user = state.store.accept_invite(&token, hash).await?;
    Ok(Json(Data::new(user.into())))
}

/// Checks a new password against the policy (the account's own email and
/// name count as guessable) and hashes it, off the async runtime.
pub(crate) async fn hash_new_password(password: String, user: &User) -> Result<String, ApiError> {
    // The email whole and its local part, the name whole and word by word.
    let email = user.email.to_lowercase();
    let local = email.split('@').next().unwrap_or_default().to_owned();
    let mut hints = vec![email, local, user.name.to_lowercase()];
    hints.extend(user.name.split_whitespace().map(str::to_lowercase));
    super::sign_in::password_work(move || {
        let hints: Vec<&str> = hints.iter().map(String::as_str).collect();
        let new = NewPassword::parse(&password, &hints).map_err(|e| ApiError::field("password", e.to_string()))?;
        new.hash().map_err(|e| ApiError::Internal(Box::new(e)))
    })
    .await?
}
