//! `/api/v1/tokens`: an admin manages its own tenant's tokens.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_core::{ApiTokenName, FieldErrors, Role};
use weir_store::{ApiToken, IssuedToken, Issuer, NewToken};

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiJson, ApiQuery, Id, PageParams};
use crate::problem::{ApiError, Problem};

/// Body of a token creation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    /// Label, 1 to 100 characters.
    #[schema(
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    #[schema(value_type = Role)]
    pub role: String,
    /// Days until it stops working, 1 to 3650 (default: until revoked).
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<i64>,
    /// Mint it for this service account (its role caps the token's) instead
    /// of for the caller.
    pub service_account_id: Option<String>,
}

impl TokenIn {
    /// Validates into a [`NewToken`] (422 naming each bad field).
    pub fn parse(self) -> Result<NewToken, ApiError> {
        let mut errors = FieldErrors::new();
        let name = errors.check("name", ApiTokenName::parse(&self.name));
        let role = errors.check("role", self.role.parse::<Role>());
        let expires_at = match self.expires_in_days {
            None => None,
            Some(d @ 1..=3650) => Some(chrono::Utc::now() + chrono::Duration::days(d)),
            Some(_) => {
                errors.add("expires_in_days", "must be 1 to 3650");
                None
            }
        };
        if self.service_account_id.as_deref().is_some_and(|id| !weir_core::ids::is_valid_id(id)) {
            errors.add("service_account_id", "no such service account");
        }
        match (name, role) {
            (Some(name), Some(role)) if errors.is_empty() => {
                Ok(NewToken { name, role, expires_at, service_account_id: self.service_account_id })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// A freshly created token: the only answer that carries `token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreatedOut {
    /// Token id.
    pub id: String,
    /// Its label, as given.
    pub name: String,
    /// `viewer`, `operator` or `admin`: what it may do.
    pub role: Role,
    /// The secret. Shown once; store it now.
    pub token: String,
    /// Recognisable prefix for listings.
    pub token_hint: String,
    /// Issue time.
    pub created_at: DateTime<Utc>,
    /// When it stops working; `null`: until revoked.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whose it is (as in listings).
    pub owner: String,
}

impl From<IssuedToken> for TokenCreatedOut {
    fn from(t: IssuedToken) -> Self {
        Self {
            token: t.plain.expose().to_owned(),
            id: t.token.id,
            name: t.token.name,
            role: t.token.role,
            token_hint: t.token.token_hint,
            created_at: t.token.created_at,
            expires_at: t.token.expires_at,
            owner: t.token.principal_id,
        }
    }
}

/// A token in a listing (never the secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    /// Token id.
    pub id: String,
    /// Its label, as given.
    pub name: String,
    /// `viewer`, `operator` or `admin`: what it may do.
    pub role: Role,
    /// Recognisable prefix.
    pub token_hint: String,
    /// `system` or the id of the token that issued it.
    pub created_by: Option<String>,
    /// Issue time.
    pub created_at: DateTime<Utc>,
    /// Last use, to the minute.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it stops working; `null`: until revoked.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whose it is: `user:<id>`, `service_account:<id>`, or (for a token
    /// issued by the system API or the CLI) the root token's id.
    pub owner: String,
    /// Revocation time; `null` while live.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiToken> for TokenOut {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id,
            name: t.name,
            role: t.role,
            token_hint: t.token_hint,
            created_by: t.created_by,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
            owner: t.principal_id,
            revoked_at: t.revoked_at,
        }
    }
}

/// Issue a token for the caller's tenant (admin).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])),
    request_body = TokenIn,
    responses(
        (status = 201, body = Data<TokenCreatedOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<TokenIn>,
) -> Result<(StatusCode, Json<Data<TokenCreatedOut>>), ApiError> {
    caller.require(Role::Admin)?;
    let new = body.parse()?;
    let issued = state.store.create_token(caller.scope(), new, Issuer::Token(&caller.0)).await?;
    tracing::info!(token_id = %issued.token.id, role = %issued.token.role, "token issued");
    Ok((StatusCode::CREATED, Json(Data::new(issued.into()))))
}

/// List the caller's tenant's tokens (admin).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", security(("bearer" = [])),
    params(PageParams),
    responses(
        (status = 200, body = List<TokenOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<List<TokenOut>>, ApiError> {
    caller.require(Role::Admin)?;
    let page = params.parse()?;
    let paged = state.store.list_tokens(caller.scope(), page).await?;
    Ok(Json(List::new(paged.items.into_iter().map(TokenOut::from).collect(), page, paged.total)))
}

/// Revoke one of the tenant's tokens (admin). Idempotent.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    state.store.revoke_token(caller.scope(), &id).await?;
    tracing::info!(token_id = %id, "token revoked");
    Ok(StatusCode::NO_CONTENT)
}
