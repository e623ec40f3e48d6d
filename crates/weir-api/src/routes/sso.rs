//! `/api/v1/settings/sso`: a tenant's OpenID Connect provider, set by its
//! admins. The client secret is write-only (sealed at once; answers say
//! only whether one is set). Saving runs discovery against the issuer
//! (afresh, not from the cache), so a mistyped issuer is a 422 now rather
//! than a broken sign-in later. The sign-in itself is [`super::sso_sign_in`].

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_core::sso::{RawSsoSettings, SsoRefusal, SsoSettings};
use weir_core::{FieldErrors, Role};
use weir_engine::sso::ProviderRef;
use weir_store::SsoConfig;

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::Data;
use crate::extract::ApiJson;
use crate::problem::{ApiError, Problem};

/// Longest client secret accepted.
const MAX_SECRET_BYTES: usize = 1024;

/// A tenant's SSO settings, as sent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoSettingsIn {
    /// The provider's issuer, e.g. `https://accounts.google.com` (discovery
    /// reads `<issuer>/.well-known/openid-configuration`).
    pub issuer_url: String,
    /// Weir's client id at the provider.
    pub client_id: String,
    /// The client secret; needed the first time, omitted to keep the stored one.
    #[schema(max_length = 1024)]
    pub client_secret: Option<String>,
    /// Email domains that may sign in (exact match; at least one).
    pub allowed_domains: Vec<String>,
    /// Scopes beside `openid email profile`, e.g. `["groups"]`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The ID-token claim the role comes from (default `groups`).
    pub role_claim: Option<String>,
    /// Claim value → `viewer`, `operator` or `admin`; the highest match wins.
    #[serde(default)]
    pub role_mapping: BTreeMap<String, String>,
    /// The role when no value maps; `null` refuses such a person.
    pub default_role: Option<String>,
    /// Refuse passwords (and the console's token form) in this tenant.
    #[serde(default)]
    pub sso_only: bool,
    /// Accept an email sent without `email_verified` (providers that never
    /// send it, e.g. Microsoft Entra ID); `email_verified: false` is refused
    /// either way.
    #[serde(default)]
    pub trust_unverified_email: bool,
    /// Claims the ID token must carry with these values, e.g.
    /// `{"hd": "acme.example"}` (Google Workspace).
    #[serde(default)]
    pub required_claims: BTreeMap<String, String>,
}

/// A tenant's SSO settings, as shown (never the secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct SsoSettingsOut {
    /// The provider's issuer.
    pub issuer_url: String,
    /// Weir's client id at the provider.
    pub client_id: String,
    /// Always `true`: a secret is stored (it is never shown).
    pub client_secret_set: bool,
    /// Email domains that may sign in.
    pub allowed_domains: Vec<String>,
    /// Scopes requested beside `openid email profile`.
    pub scopes: Vec<String>,
    /// The claim the role comes from.
    pub role_claim: String,
    /// Claim value → role.
    pub role_mapping: BTreeMap<String, Role>,
    /// The role when no value maps.
    pub default_role: Option<Role>,
    /// Passwords refused in this tenant.
    pub sso_only: bool,
    /// An email without `email_verified` is accepted.
    pub trust_unverified_email: bool,
    /// Claims the ID token must carry with these values.
    pub required_claims: BTreeMap<String, String>,
    /// Register this as the redirect URI at the provider.
    pub redirect_uri: String,
    /// The console link that starts sign-in for this tenant.
    pub sign_in_url: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// The tenant's redirect URI on this server: `WEIR_PUBLIC_URL`, else the
/// request's `Host` (https when the session cookie is `Secure`), then
/// `api/v1/sso/<slug>/callback`. Each tenant has its own, so a code meant
/// for one tenant can never be finished in another.
pub(crate) fn redirect_uri(state: &AppState, headers: &HeaderMap, slug: &str) -> Result<url::Url, ApiError> {
    let mut base = match &state.sessions.public_url {
        Some(u) => u.clone(),
        None => {
            let host = headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .ok_or_else(|| ApiError::BadRequest("the request has no Host header (set WEIR_PUBLIC_URL)".into()))?;
            let scheme = if state.sessions.secure_cookie { "https" } else { "http" };
            url::Url::parse(&format!("{scheme}://{host}/"))
                .map_err(|_| ApiError::BadRequest("the Host header is not a host name".into()))?
        }
    };
    // A public URL with a path (`https://h/weir`) keeps it.
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base.join(&format!("api/v1/sso/{slug}/callback")).map_err(|e| ApiError::Internal(Box::new(e)))
}

fn out(state: &AppState, headers: &HeaderMap, c: SsoConfig, slug: &str) -> Result<SsoSettingsOut, ApiError> {
    let s = c.settings;
    Ok(SsoSettingsOut {
        redirect_uri: redirect_uri(state, headers, slug)?.to_string(),
        issuer_url: s.issuer_url,
        client_id: s.client_id,
        client_secret_set: true,
        allowed_domains: s.allowed_domains,
        scopes: s.scopes,
        role_claim: s.role_claim,
        role_mapping: s.role_mapping,
        default_role: s.default_role,
        sso_only: s.sso_only,
        trust_unverified_email: s.trust_unverified_email,
        required_claims: s.required_claims,
        sign_in_url: format!("/#/signin?tenant={slug}"),
        updated_at: c.updated_at,
    })
}

async fn tenant_slug(state: &AppState, caller: &TenantCaller) -> Result<String, ApiError> {
    Ok(state.store.own_tenant(caller.scope()).await?.slug)
}

/// The tenant's SSO settings (admin); 404 when SSO is not set up.
#[utoipa::path(get, path = "/api/v1/settings/sso", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, body = Data<SsoSettingsOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_sso(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: TenantCaller,
) -> Result<Json<Data<SsoSettingsOut>>, ApiError> {
    caller.require(Role::Admin)?;
    let config = state.store.sso_config(caller.scope()).await?.ok_or(ApiError::NotFound)?;
    let slug = tenant_slug(&state, &caller).await?;
    Ok(Json(Data::new(out(&state, &headers, config, &slug)?)))
}

/// Sets the tenant's SSO settings (admin; audited `sso.configured`). The
/// issuer is discovered first: one that does not answer as an OpenID
/// provider is a 422 on `issuer_url`.
#[utoipa::path(put, path = "/api/v1/settings/sso", tag = "users", security(("bearer" = [])),
    request_body = SsoSettingsIn,
    responses(
        (status = 200, body = Data<SsoSettingsOut>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_sso(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: TenantCaller,
    ApiJson(body): ApiJson<SsoSettingsIn>,
) -> Result<Json<Data<SsoSettingsOut>>, ApiError> {
    caller.require(Role::Admin)?;
    let secret = body.client_secret.map(|s| s.trim().to_owned());
    let mut errors = FieldErrors::new();
    if secret.as_ref().is_some_and(|s| s.is_empty() || s.len() > MAX_SECRET_BYTES) {
        errors.add("client_secret", "must be 1–1024 bytes");
    }
    let raw = RawSsoSettings {
        issuer_url: body.issuer_url,
        client_id: body.client_id,
        allowed_domains: body.allowed_domains,
        scopes: body.scopes,
        role_claim: body.role_claim.unwrap_or_else(|| "groups".to_owned()),
        role_mapping: body.role_mapping,
        default_role: body.default_role,
        sso_only: body.sso_only,
        trust_unverified_email: body.trust_unverified_email,
        required_claims: body.required_claims,
    };
    let settings = match SsoSettings::parse(raw) {
        Ok(s) if errors.is_empty() => s,
        Ok(_) => return Err(ApiError::Validation(errors)),
        Err(e) => {
            errors.merge(e);
            return Err(ApiError::Validation(errors));
        }
    };
    let existing = state.store.sso_config(caller.scope()).await?;
    if secret.is_none() && existing.is_none() {
        return Err(ApiError::field("client_secret", "is needed the first time"));
    }
    // Discovered afresh, so a provider fixed a moment ago is seen as fixed.
    state.sso.forget(&settings.issuer_url);
    let slug = tenant_slug(&state, &caller).await?;
    let provider =
        ProviderRef { issuer: &settings.issuer_url, client_id: &settings.client_id, client_secret: None, scopes: &[] };
    if let Err(e) = state.sso.authorize(provider, &redirect_uri(&state, &headers, &slug)?).await {
        let message = match e {
            SsoRefusal::ProviderUnavailable(m) => format!("discovery failed: {m}"),
            other => other.to_string(),
        };
        return Err(ApiError::field("issuer_url", message));
    }
    let sealed = match &secret {
        Some(s) => Some(state.master_key.seal(s.as_bytes()).map_err(|e| ApiError::Internal(Box::new(e)))?),
        None => None,
    };
    let config = state.store.put_sso_config(caller.scope(), settings, sealed, &caller.actor()).await?;
    Ok(Json(Data::new(out(&state, &headers, config, &slug)?)))
}

/// Removes the tenant's SSO settings (admin; audited `sso.removed`):
/// passwords work again. 404 when there are none.
#[utoipa::path(delete, path = "/api/v1/settings/sso", tag = "users", security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_sso(State(state): State<AppState>, caller: TenantCaller) -> Result<StatusCode, ApiError> {
    caller.require(Role::Admin)?;
    state.store.delete_sso_config(caller.scope(), &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}
