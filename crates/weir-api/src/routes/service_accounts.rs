//! `/api/v1/service-accounts` (admin): named, non-human owners of API
//! tokens. Mint a token for one with `POST /api/v1/tokens`
//! `{"service_account_id"}`; deactivating the account revokes its tokens.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_core::{ApiTokenName, FieldErrors, Role};
use weir_store::ServiceAccount;

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiJson, ApiQuery, Id, PageParams};
use crate::problem::{ApiError, Problem};

/// Body of a service account creation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountIn {
    /// Unique in the tenant, 1 to 100 characters.
    #[schema(max_length = 100)]
    pub name: String,
    /// The most its tokens may do.
    #[schema(value_type = Role)]
    pub role: String,
}

/// Changes to a service account; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccountPatchIn {
    /// New name.
    pub name: Option<String>,
    /// New role (its tokens follow from their next request).
    #[schema(value_type = Option<Role>)]
    pub role: Option<String>,
}

/// A service account.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceAccountOut {
    /// Its id; its tokens' `owner` is `service_account:<id>`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The most its tokens may do.
    pub role: Role,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it was deactivated; `null` while active.
    pub deactivated_at: Option<DateTime<Utc>>,
}

impl From<ServiceAccount> for ServiceAccountOut {
    fn from(a: ServiceAccount) -> Self {
        Self { id: a.id, name: a.name, role: a.role, created_at: a.created_at, deactivated_at: a.deactivated_at }
    }
}

/// Create a service account (admin).
#[utoipa::path(post, path = "/api/v1/service-accounts", tag = "users", security(("bearer" = [])),
    request_body = ServiceAccountIn,
    responses(
        (status = 201, body = Data<ServiceAccountOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_service_account(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<ServiceAccountIn>,
) -> Result<(StatusCode, Json<Data<ServiceAccountOut>>), ApiError> {
    caller.require(Role::Admin)?;
    let mut errors = FieldErrors::new();
    let name = errors.check("name", ApiTokenName::parse(&body.name));
    let role = errors.check("role", body.role.parse::<Role>());
    let (Some(name), Some(role)) = (name, role) else { return Err(ApiError::Validation(errors)) };
    let account = state.store.create_service_account(caller.scope(), name, role, &caller.actor()).await?;
    Ok((StatusCode::CREATED, Json(Data::new(account.into()))))
}

/// The tenant's service accounts, by name (admin).
#[utoipa::path(get, path = "/api/v1/service-accounts", tag = "users", security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, body = List<ServiceAccountOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_service_accounts(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<List<ServiceAccountOut>>, ApiError> {
    caller.require(Role::Admin)?;
    let page = params.parse()?;
    let paged = state.store.list_service_accounts(caller.scope(), page).await?;
    Ok(Json(List::new(paged.items.into_iter().map(ServiceAccountOut::from).collect(), page, paged.total)))
}

/// One service account (admin).
#[utoipa::path(get, path = "/api/v1/service-accounts/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service account id")),
    responses(
        (status = 200, body = Data<ServiceAccountOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_service_account(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<Json<Data<ServiceAccountOut>>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json(Data::new(state.store.get_service_account(caller.scope(), &id).await?.into())))
}

/// Rename a service account or change its role (admin).
#[utoipa::path(patch, path = "/api/v1/service-accounts/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service account id")),
    request_body = ServiceAccountPatchIn,
    responses(
        (status = 200, body = Data<ServiceAccountOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_service_account(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
    ApiJson(body): ApiJson<ServiceAccountPatchIn>,
) -> Result<Json<Data<ServiceAccountOut>>, ApiError> {
    caller.require(Role::Admin)?;
    let mut errors = FieldErrors::new();
    let name = body.name.as_deref().and_then(|n| errors.check("name", ApiTokenName::parse(n)));
    let role = body.role.as_deref().and_then(|r| errors.check("role", r.parse::<Role>()));
    errors.into_result().map_err(ApiError::Validation)?;
    let account = state.store.update_service_account(caller.scope(), &id, name, role, &caller.actor()).await?;
    Ok(Json(Data::new(account.into())))
}

/// Deactivate a service account and revoke its tokens (admin; idempotent).
#[utoipa::path(delete, path = "/api/v1/service-accounts/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service account id")),
    responses(
        (status = 200, body = Data<ServiceAccountOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn deactivate_service_account(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<Json<Data<ServiceAccountOut>>, ApiError> {
    caller.require(Role::Admin)?;
    let account = state.store.deactivate_service_account(caller.scope(), &id, &caller.actor()).await?;
    state.revocations.revoke(&weir_store::service_account_principal(&account.id));
    Ok(Json(Data::new(account.into())))
}
