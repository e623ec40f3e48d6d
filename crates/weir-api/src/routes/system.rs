//! `/api/v1/system/…`: the system token creates tenants and issues or
//! revokes their tokens (typically the first admin token).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_core::{FieldErrors, TenantName, TenantSlug};
use weir_store::{NewTenant, Tenant};

use super::tokens::{TokenCreatedOut, TokenIn, TokenOut};
use crate::AppState;
use crate::auth::SystemCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiJson, ApiQuery, Id, Ids, PageParams};
use crate::problem::{ApiError, Problem};

/// Body of a tenant creation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantIn {
    /// Unique slug: `[a-z0-9][a-z0-9_-]{1,62}`.
    #[schema(pattern = r"^[a-z0-9][a-z0-9_-]{1,62}$")]
    pub slug: String,
    /// Display name, 1 to 200 characters.
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
}

impl TenantIn {
    fn parse(self) -> Result<NewTenant, ApiError> {
        let mut errors = FieldErrors::new();
        let slug = errors.check("slug", TenantSlug::parse(&self.slug));
        let name = errors.check("name", TenantName::parse(&self.name));
        match (slug, name) {
            (Some(slug), Some(name)) if errors.is_empty() => Ok(NewTenant { slug, name }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantOut {
    /// Tenant id.
    pub id: String,
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Whether its tokens are accepted.
    pub is_active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<Tenant> for TenantOut {
    fn from(t: Tenant) -> Self {
        Self { id: t.id, slug: t.slug, name: t.name, is_active: t.is_active, created_at: t.created_at }
    }
}

/// Create a tenant (system token).
#[utoipa::path(post, path = "/api/v1/system/tenants", tag = "system", security(("bearer" = [])),
    request_body = TenantIn,
    responses(
        (status = 201, body = Data<TenantOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_tenant(
    State(state): State<AppState>,
    SystemCaller(cap): SystemCaller,
    ApiJson(body): ApiJson<TenantIn>,
) -> Result<(StatusCode, Json<Data<TenantOut>>), ApiError> {
    let tenant = state.store.create_tenant(&cap, body.parse()?).await?;
    tracing::info!(tenant_id = %tenant.id, slug = %tenant.slug, "tenant created");
    Ok((StatusCode::CREATED, Json(Data::new(tenant.into()))))
}

/// List tenants (system token).
#[utoipa::path(get, path = "/api/v1/system/tenants", tag = "system", security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, body = List<TenantOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_tenants(
    State(state): State<AppState>,
    SystemCaller(cap): SystemCaller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<List<TenantOut>>, ApiError> {
    let page = params.parse()?;
    let paged = state.store.list_tenants(&cap, page).await?;
    Ok(Json(List::new(paged.items.into_iter().map(TenantOut::from).collect(), page, paged.total)))
}

/// One tenant (system token).
#[utoipa::path(get, path = "/api/v1/system/tenants/{tenant_id}", tag = "system", security(("bearer" = [])),
    params(("tenant_id" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, body = Data<TenantOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_tenant(
    State(state): State<AppState>,
    SystemCaller(cap): SystemCaller,
    Id(tenant_id): Id,
) -> Result<Json<Data<TenantOut>>, ApiError> {
    let tenant = state.store.get_tenant(&cap, &tenant_id).await?;
    Ok(Json(Data::new(tenant.into())))
}

/// Issue a token for a tenant (system token) — how a tenant gets its first admin.
#[utoipa::path(post, path = "/api/v1/system/tenants/{tenant_id}/tokens", tag = "system", security(("bearer" = [])),
    params(("tenant_id" = String, Path, description = "Tenant id")),
    request_body = TokenIn,
    responses(
        (status = 201, body = Data<TokenCreatedOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_tenant_token(
    State(state): State<AppState>,
    SystemCaller(cap): SystemCaller,
    Id(tenant_id): Id,
    ApiJson(body): ApiJson<TokenIn>,
) -> Result<(StatusCode, Json<Data<TokenCreatedOut>>), ApiError> {
    let scope = state.store.tenant_scope(&cap, &tenant_id).await?;
    let issued = state.store.create_token(&scope, body.parse()?, weir_store::Issuer::Outside("system")).await?;
    tracing::info!(tenant_id = %tenant_id, token_id = %issued.token.id, "token issued by system");
    Ok((StatusCode::CREATED, Json(Data::new(issued.into()))))
}

/// List a tenant's tokens (system token).
#[utoipa::path(get, path = "/api/v1/system/tenants/{tenant_id}/tokens", tag = "system", security(("bearer" = [])),
    params(("tenant_id" = String, Path, description = "Tenant id"), PageParams),
    responses(
        (status = 200, body = List<TokenOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_tenant_tokens(
    State(state): State<AppState>,
    SystemCaller(cap): SystemCaller,
    Id(tenant_id): Id,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<List<TokenOut>>, ApiError> {
    let page = params.parse()?;
    let scope = state.store.tenant_scope(&cap, &tenant_id).await?;
    let paged = state.store.list_tokens(&scope, page).await?;
    Ok(Json(List::new(paged.items.into_iter().map(TokenOut::from).collect(), page, paged.total)))
}

/// Revoke a tenant's token (system token), e.g. a lost admin token.
#[utoipa::path(delete, path = "/api/v1/system/tenants/{tenant_id}/tokens/{token_id}", tag = "system",
    security(("bearer" = [])),
    params(
        ("tenant_id" = String, Path, description = "Tenant id"),
        ("token_id" = String, Path, description = "Token id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_tenant_token(
    State(state): State<AppState>,
    SystemCaller(cap): SystemCaller,
    Ids(tenant_id, token_id): Ids,
) -> Result<StatusCode, ApiError> {
    let scope = state.store.tenant_scope(&cap, &tenant_id).await?;
    state.store.revoke_token(&scope, &token_id).await?;
    tracing::info!(tenant_id = %tenant_id, token_id = %token_id, "token revoked by system");
    Ok(StatusCode::NO_CONTENT)
}

/// Invite a user to a tenant (system token) — how a tenant gets its first
/// admin. Answers the invitation link, as `POST /api/v1/users` does.
#[utoipa::path(post, path = "/api/v1/system/tenants/{tenant_id}/users", tag = "system", security(("bearer" = [])),
    params(("tenant_id" = String, Path, description = "Tenant id")),
    request_body = super::users::UserIn,
    responses(
        (status = 201, body = Data<super::users::InvitedOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_tenant_user(
    State(state): State<AppState>,
    SystemCaller(cap): SystemCaller,
    Id(tenant_id): Id,
    ApiJson(body): ApiJson<super::users::UserIn>,
) -> Result<(StatusCode, Json<Data<super::users::InvitedOut>>), ApiError> {
    let scope = state.store.tenant_scope(&cap, &tenant_id).await?;
    let invited = state.store.create_user(&scope, body.parse()?, "system", state.sessions.invite_ttl()).await?;
    tracing::info!(tenant_id = %tenant_id, user_id = %invited.user.id, "user invited by system");
    Ok((StatusCode::CREATED, Json(Data::new(invited.into()))))
}
