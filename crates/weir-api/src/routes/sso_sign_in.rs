//! Signing in through a tenant's identity provider (OpenID Connect, the
//! authorization code flow with PKCE):
//!
//! 1. `GET /api/v1/sso/{tenant}` tells the console whether the tenant has SSO.
//! 2. `GET /api/v1/sso/{tenant}/start` sends the browser to the provider.
//!    The sign-in under way (tenant, state, nonce, PKCE verifier, redirect
//!    URI, issuer, client id, expiry) is sealed with the master key into the
//!    browser's binding cookie ([`binding`]): starting writes nothing, so
//!    strangers calling it fill no table.
//! 3. `GET /api/v1/sso/{tenant}/callback` — each tenant has its own
//!    redirect URI, so a code and state meant for one tenant cannot be
//!    played into another (the "mix-up" attack) — checks the cookie against
//!    the path's tenant and the `state`, spends the state (once), exchanges
//!    the code, validates the ID token, and hands the identity to
//!    [`sign_in`]; a user with a second factor goes to the TOTP step with
//!    nothing about them written yet.
//!
//! A browser (`Accept: text/html`) is sent on to the console: `/#/overview`
//! signed in, `/#/signin/mfa/<challenge>`, or `/#/signin/sso-error/<code>`.
//! Other clients get the JSON answers of `POST /api/v1/session` and
//! problem+json refusals. Refusals are audited in the tenant once the
//! binding cookie proved the sign-in genuine (before that, anyone could
//! write to the trail).

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weir_core::sso::SsoRefusal;
use weir_core::user::{Email, UserName};
use weir_engine::sso::{ProviderRef, VerifiedIdentity};
use weir_store::{SignInKeys, SsoConfig, SsoIdentity, SsoMatch, SsoTenant, StoreError, TenantScope, User};

use super::sso_binding as binding;
use crate::AppState;
use crate::envelope::Data;
use crate::extract::ClientAddr;
use crate::problem::{ApiError, Problem};
use crate::routes::session::MfaRequiredOut;

/// Longest `code`, `state` or provider error accepted.
const MAX_PARAM: usize = 2048;
/// The most the code exchange and ID-token check may take (below the
/// request timeout, so a slow provider is a clear 502, not a 408).
const CALLBACK_BUDGET: Duration = Duration::from_secs(20);

/// Whether a tenant signs in with SSO.
#[derive(Debug, Serialize, ToSchema)]
pub struct SsoLookupOut {
    /// The tenant's slug.
    pub tenant_slug: String,
    /// Its name (shown on the button).
    pub tenant_name: String,
    /// Passwords are refused there.
    pub sso_only: bool,
    /// Where the browser goes to sign in.
    pub start_url: String,
}

/// Whether the tenant with this slug has SSO (public: the console asks
/// before showing "Sign in with SSO"). 404 when it has not (or does not exist).
#[utoipa::path(get, path = "/api/v1/sso/{tenant}", tag = "session",
    params(("tenant" = String, Path, description = "The tenant's slug")),
    responses(
        (status = 200, body = Data<SsoLookupOut>),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn lookup(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Response, ApiError> {
    let found = configured(&state, &slug).await?;
    let body = SsoLookupOut {
        start_url: format!("/api/v1/sso/{}/start", found.tenant.slug),
        tenant_slug: found.tenant.slug,
        tenant_name: found.tenant.name,
        sso_only: found.config.settings.sso_only,
    };
    Ok(([(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], Json(Data::new(body))).into_response())
}

async fn configured(state: &AppState, slug: &str) -> Result<SsoTenant, ApiError> {
    if slug.is_empty() || slug.len() > 64 {
        return Err(ApiError::NotFound);
    }
    state.store.sso_tenant(slug).await?.ok_or(ApiError::NotFound)
}

fn provider<'a>(config: &'a SsoConfig, secret: Option<&'a str>) -> ProviderRef<'a> {
    ProviderRef {
        issuer: &config.settings.issuer_url,
        client_id: &config.settings.client_id,
        client_secret: secret,
        scopes: &config.settings.scopes,
    }
}

/// What a stranger is told when the provider fails: the cause (hosts,
/// ports) goes to the log, not to them.
fn anonymous(refusal: SsoRefusal) -> SsoRefusal {
    match refusal {
        SsoRefusal::ProviderUnavailable(cause) => {
            tracing::warn!(%cause, "identity provider unavailable");
            SsoRefusal::ProviderUnavailable("it did not answer as an OpenID provider (the server log has why)".into())
        }
        other => other,
    }
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

fn to_console(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(l) => (StatusCode::SEE_OTHER, [(header::LOCATION, l)]).into_response(),
        Err(e) => ApiError::Internal(Box::new(e)).into_response(),
    }
}

/// Starts signing in to the tenant through its identity provider: `303`
/// to the provider's authorization URL, with the sealed binding cookie.
#[utoipa::path(get, path = "/api/v1/sso/{tenant}/start", tag = "session",
    params(("tenant" = String, Path, description = "The tenant's slug")),
    responses(
        (status = 303, description = "To the identity provider; `Set-Cookie: weir_sso=…; HttpOnly; SameSite=Lax` (`__Host-weir_sso` over HTTPS)"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn start(State(state): State<AppState>, headers: HeaderMap, Path(slug): Path<String>) -> Response {
    match begin(&state, &headers, &slug).await {
        Ok(r) => r,
        Err(ApiError::SsoRefused(r)) if wants_html(&headers) => {
            to_console(&format!("/#/signin/sso-error/{}", r.code()))
        }
        Err(e) => e.into_response(),
    }
}

async fn begin(state: &AppState, headers: &HeaderMap, slug: &str) -> Result<Response, ApiError> {
    let found = configured(state, slug).await?;
    let redirect = super::sso::redirect_uri(state, headers, &found.tenant.slug)?;
    let provider = provider(&found.config, None);
    let auth = state.sso.authorize(provider, &redirect).await.map_err(|r| ApiError::SsoRefused(anonymous(r)))?;
    let sign_in = binding::SignIn::new(&found, &auth, &redirect);
    let cookie = binding::set(state, &sign_in.seal(&state.master_key)?);
    let location = HeaderValue::from_str(auth.url.as_str()).map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::SET_COOKIE, cookie),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

/// What the provider sends back.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CallbackQuery {
    /// The authorization code.
    pub code: Option<String>,
    /// The state sent at the start.
    pub state: Option<String>,
    /// The provider's error (e.g. `access_denied`), instead of a code.
    pub error: Option<String>,
    /// Its description.
    pub error_description: Option<String>,
    /// The issuer that answered (RFC 9207), checked when present.
    pub iss: Option<String>,
}

/// The provider's answer: signs the person in (see the module). Browsers
/// are sent on to the console; other clients get `201`/`202`/problem+json.
#[utoipa::path(get, path = "/api/v1/sso/{tenant}/callback", tag = "session",
    params(("tenant" = String, Path, description = "The tenant's slug"), CallbackQuery),
    responses(
        (status = 201, body = Data<super::session::SessionOut>, description = "Signed in (non-browser clients)"),
        (status = 202, body = Data<MfaRequiredOut>, description = "The TOTP step follows (non-browser clients)"),
        (status = 303, description = "A browser: on to the console, signed in, to the TOTP step, or to the refusal"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    ClientAddr(source): ClientAddr,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let browser = wants_html(&headers);
    let result = finish(&state, &headers, &slug, source.as_deref(), query).await;
    let mut response = match (result, browser) {
        (Ok(Finished::Session(opened)), false) => {
            super::session::signed_in(&state, &opened).unwrap_or_else(IntoResponse::into_response)
        }
        (Ok(Finished::Session(opened)), true) => match super::session::signed_in(&state, &opened) {
            Ok(mut r) => {
                *r.status_mut() = StatusCode::SEE_OTHER;
                r.headers_mut().insert(header::LOCATION, HeaderValue::from_static("/#/overview"));
                r
            }
            Err(e) => e.into_response(),
        },
        (Ok(Finished::SecondFactor(body)), false) => (StatusCode::ACCEPTED, Json(Data::new(body))).into_response(),
        (Ok(Finished::SecondFactor(body)), true) => to_console(&format!("/#/signin/mfa/{}", body.mfa_token)),
        (Err(ApiError::SsoRefused(r)), true) => to_console(&format!("/#/signin/sso-error/{}", r.code())),
        (Err(e), _) => e.into_response(),
    };
    response.headers_mut().append(header::SET_COOKIE, binding::clear(&state));
    response
}

enum Finished {
    Session(Box<weir_store::OpenedSession>),
    SecondFactor(MfaRequiredOut),
}

async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
    source: Option<&str>,
    query: CallbackQuery,
) -> Result<Finished, ApiError> {
    let found = match configured(state, slug).await {
        Err(ApiError::NotFound) => return Err(ApiError::SsoRefused(SsoRefusal::StateInvalid)),
        other => other?,
    };
    let state_param = param(query.state.clone()).ok_or(ApiError::SsoRefused(SsoRefusal::StateInvalid))?;
    // Until the cookie proves the sign-in genuine, nothing is written.
    let sign_in = binding::read(state, headers, &found, &state_param).map_err(ApiError::SsoRefused)?;
    let mut email = None;
    match checked(state, &found, &sign_in, &state_param, query, source, &mut email).await {
        Err(ApiError::SsoRefused(r)) => Err(refuse(state, &found.scope, r, email.as_deref(), source).await),
        other => other,
    }
}

fn param(v: Option<String>) -> Option<String> {
    v.filter(|v| !v.is_empty() && v.len() <= MAX_PARAM)
}

/// Everything after the binding: the state spent, the provider's answer
/// verified, the person signed in. `email` is set once the provider named one.
async fn checked(
    state: &AppState,
    found: &SsoTenant,
    sign_in: &binding::SignIn,
    state_param: &str,
    query: CallbackQuery,
    source: Option<&str>,
    email: &mut Option<String>,
) -> Result<Finished, ApiError> {
    sign_in.still_valid(&found.config).map_err(ApiError::SsoRefused)?;
    if !state.store.spend_sso_state(&found.scope, state_param, sign_in.expires_at()).await? {
        return Err(ApiError::SsoRefused(SsoRefusal::StateInvalid));
    }
    let identity = tokio::time::timeout(CALLBACK_BUDGET, verified(state, &found.config, sign_in, query))
        .await
        .map_err(|_| ApiError::SsoRefused(SsoRefusal::ProviderUnavailable("it took too long".into())))??;
    email.clone_from(&identity.email);
    sign_in_as(state, &found.scope, &found.config, identity, source).await
}

/// Audits a refusal in the tenant and hands it back.
async fn refuse(
    state: &AppState,
    scope: &TenantScope,
    refusal: SsoRefusal,
    email: Option<&str>,
    source: Option<&str>,
) -> ApiError {
    let refusal = anonymous(refusal);
    tracing::info!(code = refusal.code(), "SSO sign-in refused");
    match state.store.audit_sso_refusal(scope, &refusal, email, source).await {
        Ok(()) => ApiError::SsoRefused(refusal),
        Err(e) => e.into(),
    }
}

/// The provider's own error and issuer, the code exchange and the ID token.
async fn verified(
    state: &AppState,
    config: &SsoConfig,
    sign_in: &binding::SignIn,
    query: CallbackQuery,
) -> Result<VerifiedIdentity, ApiError> {
    let refused = ApiError::SsoRefused;
    if let Some(error) = query.error {
        let text: String =
            query.error_description.unwrap_or(error).chars().take(200).filter(|c| !c.is_control()).collect();
        return Err(refused(SsoRefusal::ProviderError(text)));
    }
    if query.iss.as_deref().is_some_and(|i| i != config.settings.issuer_url) {
        return Err(refused(SsoRefusal::ProviderError("the answer came from another issuer".into())));
    }
    let code = param(query.code).ok_or(refused(SsoRefusal::ProviderError("no authorization code".into())))?;
    let bytes = state.master_key.open(&config.client_secret_sealed).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let secret = String::from_utf8(bytes).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let redirect = url::Url::parse(sign_in.redirect_uri()).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let provider = provider(config, Some(&secret));
    state.sso.finish(provider, &redirect, &code, sign_in.nonce(), sign_in.pkce_verifier()).await.map_err(refused)
}

/// From a verified identity to a session: the email (trusted, of an
/// allowed domain), the required claims, the role, then the Weir user —
/// found, linked or provisioned — and their session, or the TOTP step
/// (with nothing about them written until it passes).
async fn sign_in_as(
    state: &AppState,
    scope: &TenantScope,
    config: &SsoConfig,
    identity: VerifiedIdentity,
    source: Option<&str>,
) -> Result<Finished, ApiError> {
    let refused = ApiError::SsoRefused;
    let settings = &config.settings;
    let email =
        identity.email.as_deref().and_then(|e| Email::parse(e).ok()).ok_or(refused(SsoRefusal::EmailMissing))?;
    if !settings.email_trusted(identity.email_verified) {
        return Err(refused(SsoRefusal::EmailUnverified));
    }
    if !settings.required_claims_met(&identity.claims) {
        let names: Vec<&str> = settings.required_claims.keys().map(String::as_str).collect();
        return Err(refused(SsoRefusal::ClaimMismatch(names.join(", "))));
    }
    if !settings.domain_allowed(&email) {
        return Err(refused(SsoRefusal::DomainNotAllowed(email.domain().to_owned())));
    }
    let role = settings.role_for(&identity.claims).ok_or(refused(SsoRefusal::NoRole))?;
    let name = identity
        .name
        .as_deref()
        .and_then(|n| UserName::parse(n).ok())
        .or_else(|| UserName::parse(email.as_str()).ok())
        .ok_or(refused(SsoRefusal::EmailMissing))?;
    let person = SsoIdentity { subject: format!("{} {}", identity.issuer, identity.subject), email, name, role };
    if let SsoMatch::Existing { user, has_mfa: true } = state.store.sso_match(scope, &person).await?.map_err(refused)? {
        let (mfa_token, expires_at) = state.store.create_sso_mfa_challenge(&user, &person).await?;
        return Ok(Finished::SecondFactor(MfaRequiredOut { mfa_required: true, mfa_token, expires_at }));
    }
    let user = apply_identity(state, scope, &person).await?;
    let keys = SignInKeys::new(person.email.key(), source);
    Ok(Finished::Session(Box::new(super::sign_in::open(state, &user, &keys, "sso").await?)))
}

/// Writes what the provider said about the person (see
/// `weir_store::repos::sso_users`); a race with another first sign-in of
/// the same person (a unique key taken meanwhile) is retried once.
async fn apply_identity(state: &AppState, scope: &TenantScope, person: &SsoIdentity) -> Result<User, ApiError> {
    let mut outcome = state.store.sso_apply(scope, person).await;
    if matches!(outcome, Err(StoreError::Conflict(_))) {
        outcome = state.store.sso_apply(scope, person).await;
    }
    match outcome {
        Ok(Ok(user)) => Ok(user),
        Ok(Err(r)) => Err(ApiError::SsoRefused(r)),
        Err(StoreError::Conflict(_)) => Err(ApiError::SsoRefused(SsoRefusal::EmailTaken)),
        Err(e) => Err(e.into()),
    }
}

/// The last step of the TOTP step after SSO: [`apply_identity`], with a
/// refusal audited.
pub(crate) async fn apply(
    state: &AppState,
    scope: &TenantScope,
    person: &SsoIdentity,
    source: Option<&str>,
) -> Result<User, ApiError> {
    match apply_identity(state, scope, person).await {
        Err(ApiError::SsoRefused(r)) => Err(refuse(state, scope, r, Some(person.email.as_str()), source).await),
        other => other,
    }
}
