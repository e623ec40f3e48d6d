//! Signing in through a tenant's identity provider (OpenID Connect, the
//! authorization code flow with PKCE):
//!
//! 1. `GET /api/v1/sso/{tenant}` tells the console whether the tenant has SSO.
//! 2. `GET /api/v1/sso/{tenant}/start` stores the sign-in (state, nonce,
//!    PKCE verifier), binds it to this browser with the `weir_sso` cookie,
//!    and sends the browser to the provider.
//! 3. `GET /api/v1/sso/callback` takes the sign-in by its `state` (once),
//!    checks the binding, exchanges the code, validates the ID token, checks
//!    the email's domain, maps the role, finds or provisions the user
//!    ([`weir_store::repos::sso_users`]) and opens their session, or the
//!    TOTP step when they have a second factor.
//!
//! A browser (`Accept: text/html`) is sent on to the console: `/#/overview`
//! signed in, `/#/signin/mfa/<challenge>`, or `/#/signin/sso-error/<code>`.
//! Other clients get the JSON answers of `POST /api/v1/session` and
//! problem+json refusals. Every refusal after the state is known is audited
//! in the tenant (`sso.sign_in_refused`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weir_core::sso::SsoRefusal;
use weir_core::user::{Email, UserName};
use weir_core::{TokenHash, ids};
use weir_engine::sso::{ProviderRef, VerifiedIdentity};
use weir_store::{NewSsoLogin, SignInKeys, SsoConfig, SsoIdentity, SsoLogin, SsoUser};

use crate::AppState;
use crate::envelope::Data;
use crate::extract::ClientAddr;
use crate::problem::{ApiError, Problem};
use crate::routes::session::MfaRequiredOut;

/// The cookie binding a sign-in to the browser that started it.
const BINDING_COOKIE: &str = "weir_sso";
/// Longest `code`, `state` or provider error accepted.
const MAX_PARAM: usize = 2048;

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
    let (tenant, config) = configured(&state, &slug).await?;
    let body = SsoLookupOut {
        start_url: format!("/api/v1/sso/{}/start", tenant.slug),
        tenant_slug: tenant.slug,
        tenant_name: tenant.name,
        sso_only: config.settings.sso_only,
    };
    Ok(([(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], Json(Data::new(body))).into_response())
}

async fn configured(state: &AppState, slug: &str) -> Result<(weir_store::Tenant, SsoConfig), ApiError> {
    if slug.is_empty() || slug.len() > 64 {
        return Err(ApiError::NotFound);
    }
    state.store.sso_config_by_slug(slug).await?.ok_or(ApiError::NotFound)
}

fn open_secret(state: &AppState, config: &SsoConfig) -> Result<String, ApiError> {
    let bytes = state.master_key.open(&config.client_secret_sealed).map_err(|e| ApiError::Internal(Box::new(e)))?;
    String::from_utf8(bytes).map_err(|e| ApiError::Internal(Box::new(e)))
}

fn provider<'a>(config: &'a SsoConfig, secret: &'a str) -> ProviderRef<'a> {
    ProviderRef {
        issuer: &config.settings.issuer_url,
        client_id: &config.settings.client_id,
        client_secret: secret,
        scopes: &config.settings.scopes,
    }
}

fn cookie(state: &AppState, name: &str, value: &str, path: &str, same_site: &str, max_age: i64) -> HeaderValue {
    let secure = if state.sessions.secure_cookie { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path={path}; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}");
    // Every part is ASCII made here (the value is base64url).
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Starts signing in to the tenant through its identity provider: `303`
/// to the provider's authorization URL, with the `weir_sso` binding cookie.
#[utoipa::path(get, path = "/api/v1/sso/{tenant}/start", tag = "session",
    params(("tenant" = String, Path, description = "The tenant's slug")),
    responses(
        (status = 303, description = "To the identity provider; `Set-Cookie: weir_sso=…; HttpOnly; SameSite=Lax`"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    let (tenant, config) = configured(&state, &slug).await?;
    let secret = open_secret(&state, &config)?;
    let redirect = super::sso::redirect_uri(&state, &headers)?;
    let auth = state.sso.authorize(provider(&config, &secret), &redirect).await.map_err(ApiError::SsoRefused)?;
    let browser = ids::random_key(32);
    let stored = state
        .store
        .begin_sso_login(NewSsoLogin {
            tenant_id: &tenant.id,
            state: &auth.state,
            browser: &browser,
            nonce: &auth.nonce,
            pkce_verifier: &auth.pkce_verifier,
            redirect_uri: redirect.as_str(),
        })
        .await?;
    if !stored {
        return Err(ApiError::TooManyRequests(60));
    }
    let max_age = weir_store::repos::sso::LOGIN_TTL.num_seconds();
    let location = HeaderValue::from_str(auth.url.as_str()).map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::SET_COOKIE, cookie(&state, BINDING_COOKIE, &browser, "/api/v1/sso", "Lax", max_age)),
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
#[utoipa::path(get, path = "/api/v1/sso/callback", tag = "session",
    params(CallbackQuery),
    responses(
        (status = 201, body = Data<super::session::SessionOut>, description = "Signed in (non-browser clients)"),
        (status = 202, body = Data<MfaRequiredOut>, description = "The TOTP step follows (non-browser clients)"),
        (status = 303, description = "A browser: on to the console, signed in, to the TOTP step, or to the refusal"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 502, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientAddr(source): ClientAddr,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let browser = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    let result = finish(&state, &headers, source.as_deref(), query).await;
    let clear = cookie(&state, BINDING_COOKIE, "", "/api/v1/sso", "Lax", 0);
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
    response.headers_mut().append(header::SET_COOKIE, clear);
    response
}

fn to_console(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(l) => (StatusCode::SEE_OTHER, [(header::LOCATION, l)]).into_response(),
        Err(e) => ApiError::Internal(Box::new(e)).into_response(),
    }
}

enum Finished {
    Session(Box<weir_store::OpenedSession>),
    SecondFactor(MfaRequiredOut),
}

fn binding_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == BINDING_COOKIE)
        .map(|(_, value)| value)
}

async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    source: Option<&str>,
    query: CallbackQuery,
) -> Result<Finished, ApiError> {
    let param = |v: Option<String>| v.filter(|v| !v.is_empty() && v.len() <= MAX_PARAM);
    let Some(state_param) = param(query.state) else { return Err(ApiError::SsoRefused(SsoRefusal::StateInvalid)) };
    let Some(login) = state.store.take_sso_login(&state_param).await? else {
        tracing::info!("SSO callback with an unknown, used or expired state");
        return Err(ApiError::SsoRefused(SsoRefusal::StateInvalid));
    };
    let scope = login.scope.clone();
    let code = param(query.code);
    let identity = match verified(state, headers, &login, code, query.error, query.error_description, query.iss).await {
        Ok(identity) => identity,
        Err(ApiError::SsoRefused(r)) => return Err(refuse(state, &scope, r, None, source).await),
        Err(e) => return Err(e),
    };
    let email = identity.email.clone();
    match sign_in(state, &scope, identity, source).await {
        Err(ApiError::SsoRefused(r)) => Err(refuse(state, &scope, r, email.as_deref(), source).await),
        other => other,
    }
}

/// From a verified identity to a session: the email and its domain, the
/// role, the Weir user (found, linked or provisioned), then the session or
/// the TOTP step.
async fn sign_in(
    state: &AppState,
    scope: &weir_store::TenantScope,
    identity: VerifiedIdentity,
    source: Option<&str>,
) -> Result<Finished, ApiError> {
    let refused = ApiError::SsoRefused;
    let config = state.store.sso_config(scope).await?.ok_or(refused(SsoRefusal::StateInvalid))?;
    let settings = &config.settings;
    let email = identity
        .email
        .as_deref()
        .filter(|_| identity.email_verified != Some(false))
        .and_then(|e| Email::parse(e).ok())
        .ok_or(refused(SsoRefusal::EmailMissing))?;
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
    let subject = format!("{} {}", identity.issuer, identity.subject);
    let person = SsoIdentity { subject, email, name, role };
    let SsoUser { user, has_mfa } = state.store.sso_user(scope, &person).await?.map_err(refused)?;
    if has_mfa {
        let (mfa_token, expires_at) = state.store.create_mfa_challenge(&user, "sso").await?;
        return Ok(Finished::SecondFactor(MfaRequiredOut { mfa_required: true, mfa_token, expires_at }));
    }
    let keys = SignInKeys::new(person.email.key(), source);
    Ok(Finished::Session(Box::new(super::sign_in::open(state, &user, &keys, "sso").await?)))
}

/// Audits a refusal in the tenant and hands it back.
async fn refuse(
    state: &AppState,
    scope: &weir_store::TenantScope,
    refusal: SsoRefusal,
    email: Option<&str>,
    source: Option<&str>,
) -> ApiError {
    tracing::info!(code = refusal.code(), "SSO sign-in refused");
    match state.store.audit_sso_refusal(scope, &refusal, email, source).await {
        Ok(()) => ApiError::SsoRefused(refusal),
        Err(e) => e.into(),
    }
}

/// The binding, the provider's own error, the code exchange and the ID token.
async fn verified(
    state: &AppState,
    headers: &HeaderMap,
    login: &SsoLogin,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    iss: Option<String>,
) -> Result<VerifiedIdentity, ApiError> {
    let bound = binding_cookie(headers).is_some_and(|b| TokenHash::of(b).as_str() == login.browser_hash);
    if !bound {
        return Err(ApiError::SsoRefused(SsoRefusal::OtherBrowser));
    }
    let config = state.store.sso_config(&login.scope).await?.ok_or(ApiError::SsoRefused(SsoRefusal::StateInvalid))?;
    if let Some(error) = error {
        let text: String = error_description.unwrap_or(error).chars().take(200).filter(|c| !c.is_control()).collect();
        return Err(ApiError::SsoRefused(SsoRefusal::ProviderError(text)));
    }
    let issuer = config.settings.issuer_url.as_str().trim_end_matches('/');
    if iss.as_deref().is_some_and(|i| i.trim_end_matches('/') != issuer) {
        return Err(ApiError::SsoRefused(SsoRefusal::ProviderError("the answer came from another issuer".into())));
    }
    let code = code.ok_or(ApiError::SsoRefused(SsoRefusal::ProviderError("no authorization code".into())))?;
    let secret = open_secret(state, &config)?;
    let redirect = url::Url::parse(&login.redirect_uri).map_err(|e| ApiError::Internal(Box::new(e)))?;
    state
        .sso
        .finish(provider(&config, &secret), &redirect, &code, &login.nonce, &login.pkce_verifier)
        .await
        .map_err(ApiError::SsoRefused)
}
