//! Multi-factor sign-in: a signed-in user enrols a TOTP key
//! (`/api/v1/me/mfa`, confirmed by a first code, which answers the
//! recovery codes once) or turns it off with their password; the second
//! step of a sign-in (`/api/v1/session/mfa`); and the tenant setting that
//! makes a second factor mandatory for admins (`/api/v1/settings`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_core::Role;
use weir_core::mfa::{TotpSecret, recovery_codes, recovery_hash};
use weir_core::user::Email;
use weir_store::{MfaChallenge, SignInKeys};

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::Data;
use crate::extract::{ApiJson, ClientAddr, OptionalJson};
use crate::problem::{ApiError, Problem};

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

fn open_secret(state: &AppState, sealed: &[u8]) -> Result<TotpSecret, ApiError> {
    let bytes = state.master_key.open(sealed).map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(TotpSecret::from_bytes(bytes))
}

fn signed_in_email(caller: &TenantCaller) -> Result<String, ApiError> {
    caller
        .0
        .user
        .as_ref()
        .filter(|_| caller.0.via_session)
        .map(|u| u.email.clone())
        .ok_or(ApiError::Forbidden("only a signed-in user has a second factor (sign in with email and password)"))
}

/// A new TOTP key to add to an authenticator app.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolmentOut {
    /// The key in base32, to type in.
    pub secret: String,
    /// The `otpauth://` URI, to import or show as a QR code.
    pub otpauth_uri: String,
}

/// Start enrolling a second factor (a signed-in user). The key works once
/// `POST /api/v1/me/mfa/confirm` gets a code from it; until then any
/// current factor stays. Replacing a factor needs `{"password"}`.
#[utoipa::path(post, path = "/api/v1/me/mfa", tag = "users", security(("session" = [])),
    request_body(content = Option<PasswordIn>, description = "The current password, when a factor exists"),
    responses(
        (status = 201, body = Data<EnrolmentOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn begin_enrolment(
    State(state): State<AppState>,
    caller: TenantCaller,
    ClientAddr(source): ClientAddr,
    OptionalJson(body): OptionalJson<PasswordIn>,
) -> Result<(StatusCode, Json<Data<EnrolmentOut>>), ApiError> {
    let email = signed_in_email(&caller)?;
    // Replacing a factor needs the password: a session alone must not be
    // able to take the account's second factor over.
    if state.store.mfa_state(&caller.0).await?.secret_sealed.is_some() {
        let Some(body) = body else {
            return Err(ApiError::field("password", "needed to replace the second factor"));
        };
        super::sign_in::check_current_password(&state, &caller.0, body.password, "password", source.as_deref()).await?;
    }
    let secret = TotpSecret::generate();
    let sealed = state.master_key.seal(secret.as_bytes()).map_err(|e| ApiError::Internal(Box::new(e)))?;
    state.store.begin_mfa_enrolment(&caller.0, sealed).await?;
    let out = EnrolmentOut { secret: secret.base32(), otpauth_uri: secret.otpauth_uri(&email) };
    Ok((StatusCode::CREATED, Json(Data::new(out))))
}

/// A code from the authenticator app.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeIn {
    /// Six digits.
    #[schema(max_length = 6)]
    pub code: String,
}

/// The recovery codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesOut {
    /// Ten single-use codes for when the authenticator is lost.
    pub recovery_codes: Vec<String>,
}

/// Confirm enrolment with a first code: the second factor is on from now,
/// and the answer carries ten single-use recovery codes (shown once).
#[utoipa::path(post, path = "/api/v1/me/mfa/confirm", tag = "users", security(("session" = [])),
    request_body = CodeIn,
    responses(
        (status = 200, body = Data<RecoveryCodesOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn confirm_enrolment(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<CodeIn>,
) -> Result<Json<Data<RecoveryCodesOut>>, ApiError> {
    signed_in_email(&caller)?;
    let mfa = state.store.mfa_state(&caller.0).await?;
    let Some(pending) = mfa.pending_sealed else {
        return Err(ApiError::Conflict { detail: "no enrolment is in progress; start one first".into(), errors: None });
    };
    let secret = open_secret(&state, &pending)?;
    let Some(step) = secret.matching_step(&body.code, unix_now(), None) else {
        return Err(ApiError::field("code", "does not match the new key (check the device's clock)"));
    };
    let codes = recovery_codes();
    let hashes = codes.iter().map(|c| recovery_hash(c)).collect();
    state.store.confirm_mfa(&caller.0, i64::try_from(step).unwrap_or(i64::MAX), hashes).await?;
    Ok(Json(Data::new(RecoveryCodesOut { recovery_codes: codes })))
}

/// The current password, to turn the second factor off.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordIn {
    /// The password now.
    #[schema(max_length = 256)]
    pub password: String,
}

/// Turn the second factor off (a signed-in user, with their password).
#[utoipa::path(post, path = "/api/v1/me/mfa/disable", tag = "users", security(("session" = [])),
    request_body = PasswordIn,
    responses(
        (status = 204, description = "Off"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn disable(
    State(state): State<AppState>,
    caller: TenantCaller,
    ClientAddr(source): ClientAddr,
    ApiJson(body): ApiJson<PasswordIn>,
) -> Result<StatusCode, ApiError> {
    signed_in_email(&caller)?;
    super::sign_in::check_current_password(&state, &caller.0, body.password, "password", source.as_deref()).await?;
    state.store.disable_mfa(&caller.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The second step of a sign-in: the challenge and a code or a recovery code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondStepIn {
    /// From the `202` of `POST /api/v1/session`.
    pub mfa_token: String,
    /// Six digits from the authenticator.
    pub code: Option<String>,
    /// Or one of the recovery codes (each works once).
    pub recovery_code: Option<String>,
}

/// Finish a sign-in with the second factor: sets the session cookie (201).
/// A wrong code is 401 and counts against the account like a wrong
/// password; a challenge takes five wrong codes, and expires after 5 minutes.
/// After SSO, what the provider said about the person (role, name, email,
/// the link) is applied only now; it can still be refused (403
/// `sso-…`, e.g. the account was deactivated meanwhile).
#[utoipa::path(post, path = "/api/v1/session/mfa", tag = "session",
    request_body = SecondStepIn,
    responses(
        (status = 201, body = Data<super::session::SessionOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn second_step(
    State(state): State<AppState>,
    ClientAddr(source): ClientAddr,
    ApiJson(body): ApiJson<SecondStepIn>,
) -> Result<Response, ApiError> {
    const REFUSED: ApiError = ApiError::Unauthorized("invalid or expired code");
    if body.mfa_token.is_empty() || body.mfa_token.len() > 128 {
        return Err(REFUSED);
    }
    let challenge = match state.store.mfa_challenge(&body.mfa_token).await {
        Err(weir_store::StoreError::NotFound) => return Err(REFUSED),
        other => other?,
    };
    let email = Email::parse(&challenge.user.email).map_err(|_| REFUSED)?;
    let keys = SignInKeys::new(email.key(), source.as_deref());
    if let Some(until) = state.store.sign_in_held_until(&keys).await? {
        let secs = (until - chrono::Utc::now()).num_seconds().max(1);
        return Err(ApiError::TooManyRequests(u64::try_from(secs).unwrap_or(1)));
    }
    if !state.store.take_mfa_attempt(&challenge.id).await? {
        return Err(REFUSED);
    }
    let passed = match (body.code.as_deref(), body.recovery_code.as_deref()) {
        (Some(code), None) => pass_with_code(&state, &challenge, code).await?,
        (None, Some(code)) => state.store.pass_mfa_with_recovery(&challenge, &recovery_hash(code)).await?,
        _ => return Err(ApiError::field("code", "send either code or recovery_code")),
    };
    if !passed {
        state.store.record_sign_in_failure(&keys, &[&challenge.user], source.as_deref()).await?;
        return Err(REFUSED);
    }
    let second = if body.code.is_some() { "totp" } else { "recovery_code" };
    let method = format!("{}+{second}", challenge.first_factor);
    let user = match &challenge.pending_sso {
        Some(identity) => super::sso_sign_in::apply(&state, &challenge.scope, identity, source.as_deref()).await?,
        None => challenge.user.clone(),
    };
    if user.id != challenge.user.id {
        return Err(REFUSED);
    }
    let opened = super::sign_in::open(&state, &user, &keys, &method).await?;
    super::session::signed_in(&state, &opened)
}

async fn pass_with_code(state: &AppState, challenge: &MfaChallenge, code: &str) -> Result<bool, ApiError> {
    let Some(sealed) = &challenge.state.secret_sealed else { return Ok(false) };
    let secret = open_secret(state, sealed)?;
    let after = challenge.state.last_step.and_then(|s| u64::try_from(s).ok());
    let Some(step) = secret.matching_step(code, unix_now(), after) else { return Ok(false) };
    Ok(state.store.pass_mfa_with_code(challenge, i64::try_from(step).unwrap_or(i64::MAX)).await?)
}

/// The tenant's sign-in settings.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    /// Admins must sign in with a second factor; one without is limited to
    /// enrolling it.
    pub mfa_required_for_admins: bool,
}

/// The tenant's sign-in settings (admin).
#[utoipa::path(get, path = "/api/v1/settings", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, body = Data<SettingsBody>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_settings(
    State(state): State<AppState>,
    caller: TenantCaller,
) -> Result<Json<Data<SettingsBody>>, ApiError> {
    caller.require(Role::Admin)?;
    let required = state.store.mfa_required_for_admins(caller.scope()).await?;
    Ok(Json(Data::new(SettingsBody { mfa_required_for_admins: required })))
}

/// Change the tenant's sign-in settings (admin; audited).
#[utoipa::path(patch, path = "/api/v1/settings", tag = "users", security(("bearer" = [])),
    request_body = SettingsBody,
    responses(
        (status = 200, body = Data<SettingsBody>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_settings(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<SettingsBody>,
) -> Result<Json<Data<SettingsBody>>, ApiError> {
    caller.require(Role::Admin)?;
    state.store.set_mfa_required_for_admins(&caller.0, body.mfa_required_for_admins).await?;
    Ok(Json(Data::new(body)))
}
