//! The browser binding of an SSO sign-in under way: everything the callback
//! needs (tenant, state, nonce, PKCE verifier, redirect URI, issuer, client
//! id, expiry), sealed with the master key (AES-256-GCM) into one HttpOnly
//! cookie. Only the browser that started a sign-in can finish it (login
//! CSRF), nothing is stored until it comes back, and a sign-in started for
//! one tenant, provider or client cannot be finished for another.
//!
//! Over HTTPS (`WEIR_SESSION_COOKIE_SECURE`) the cookie is
//! `__Host-weir_sso` (`Secure`, `Path=/`, no `Domain`: a sibling subdomain
//! cannot plant one); otherwise `weir_sso` on `/api/v1/sso`. Two cookies
//! of the name are refused, never guessed between.

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;
use weir_core::MasterKey;
use weir_core::sso::SsoRefusal;
use weir_engine::sso::Authorization;
use weir_store::repos::sso::LOGIN_TTL;
use weir_store::{SsoConfig, SsoTenant};

use crate::AppState;
use crate::problem::ApiError;

/// Marks the sealed value as this kind (no other sealed value parses as it).
const KIND: &str = "weir.sso-sign-in.v1";
/// A sealed cookie longer than this is not read.
const MAX_COOKIE: usize = 4096;

/// A sign-in under way, as sealed in the cookie.
#[derive(Serialize, Deserialize)]
pub(crate) struct SignIn {
    kind: String,
    tenant_id: String,
    state: String,
    nonce: String,
    pkce_verifier: String,
    redirect_uri: String,
    issuer: String,
    client_id: String,
    expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for SignIn {
    // Never the state, nonce or verifier.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn").field("tenant_id", &self.tenant_id).field("expires_at", &self.expires_at).finish()
    }
}

impl SignIn {
    /// The sign-in `auth` starts for `found`, returning to `redirect`.
    pub(crate) fn new(found: &SsoTenant, auth: &Authorization, redirect: &url::Url) -> Self {
        Self {
            kind: KIND.to_owned(),
            tenant_id: found.tenant.id.clone(),
            state: auth.state.clone(),
            nonce: auth.nonce.clone(),
            pkce_verifier: auth.pkce_verifier.clone(),
            redirect_uri: redirect.to_string(),
            issuer: found.config.settings.issuer_url.clone(),
            client_id: found.config.settings.client_id.clone(),
            expires_at: Utc::now() + LOGIN_TTL,
        }
    }

    /// The cookie value: sealed JSON, base64url.
    pub(crate) fn seal(&self, key: &MasterKey) -> Result<String, ApiError> {
        let json = serde_json::to_vec(self).map_err(|e| ApiError::Internal(Box::new(e)))?;
        let sealed = key.seal(&json).map_err(|e| ApiError::Internal(Box::new(e)))?;
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    fn open(key: &MasterKey, value: &str) -> Option<Self> {
        if value.len() > MAX_COOKIE {
            return None;
        }
        let sealed = URL_SAFE_NO_PAD.decode(value).ok()?;
        let sign_in: Self = serde_json::from_slice(&key.open(&sealed).ok()?).ok()?;
        (sign_in.kind == KIND).then_some(sign_in)
    }

    /// Refuses a sign-in that expired, or whose tenant changed its provider
    /// or client since it started.
    pub(crate) fn still_valid(&self, config: &SsoConfig) -> Result<(), SsoRefusal> {
        let same = self.issuer == config.settings.issuer_url && self.client_id == config.settings.client_id;
        if self.expires_at <= Utc::now() || !same { Err(SsoRefusal::StateInvalid) } else { Ok(()) }
    }

    /// When the sign-in stops being accepted.
    pub(crate) fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// The nonce the ID token must carry.
    pub(crate) fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The PKCE verifier.
    pub(crate) fn pkce_verifier(&self) -> &str {
        &self.pkce_verifier
    }

    /// The redirect URI the sign-in started with (the exchange repeats it).
    pub(crate) fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }
}

fn name_and_path(state: &AppState) -> (&'static str, &'static str, &'static str) {
    if state.sessions.secure_cookie { ("__Host-weir_sso", "/", "; Secure") } else { ("weir_sso", "/api/v1/sso", "") }
}

fn cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let (name, path, secure) = name_and_path(state);
    let text = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    // Every part is ASCII made here (the value is base64url).
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `Set-Cookie` for a sign-in just started.
pub(crate) fn set(state: &AppState, sealed: &str) -> HeaderValue {
    cookie(state, sealed, LOGIN_TTL.num_seconds())
}

/// `Set-Cookie` that removes the binding (the callback is done with it).
pub(crate) fn clear(state: &AppState) -> HeaderValue {
    cookie(state, "", 0)
}

/// The sign-in this browser started for `found`, if it is the one `state`
/// names: exactly one binding cookie, sealed by this server, for this
/// tenant, with this state. Anything else is `OtherBrowser`.
pub(crate) fn read(
    state: &AppState,
    headers: &HeaderMap,
    found: &SsoTenant,
    state_param: &str,
) -> Result<SignIn, SsoRefusal> {
    let (name, _, _) = name_and_path(state);
    let mut values = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v);
    let (Some(value), None) = (values.next(), values.next()) else { return Err(SsoRefusal::OtherBrowser) };
    let sign_in = SignIn::open(&state.master_key, value).ok_or(SsoRefusal::OtherBrowser)?;
    let same_state: bool = sign_in.state.as_bytes().ct_eq(state_param.as_bytes()).into();
    if sign_in.tenant_id != found.tenant.id || !same_state {
        return Err(SsoRefusal::OtherBrowser);
    }
    Ok(sign_in)
}
