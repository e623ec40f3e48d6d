//! Signing in with an email and password (the `{"email", "password"}` form
//! of `POST /api/v1/session`). The answer to a wrong email and to a wrong
//! password is the same 401, after the same Argon2id work (an unknown
//! email is checked against a decoy hash). Repeated failures are held back
//! per account and per source address (`weir_store::repos::sign_in`),
//! answered 429 with `Retry-After`, and audited in the tenant of every
//! account the email names.

use chrono::Utc;
use weir_core::user::{Email, decoy_hash, verify_password};
use weir_store::{OpenedSession, SignInCandidate, SignInKeys};

use crate::AppState;
use crate::problem::ApiError;

/// Password hashes checked or made at once, across the process: each takes
/// 19 MiB and tens of milliseconds, so a burst of sign-ins is queued here
/// (and, past [`PASSWORD_QUEUE_WAIT`], answered 503) instead of using up
/// memory and the blocking pool.
const PASSWORD_SLOTS: usize = 4;
/// The longest a password check waits for a slot.
const PASSWORD_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs Argon2id work (`f`) on a blocking thread, at most
/// [`PASSWORD_SLOTS`] at a time.
pub(crate) async fn password_work<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let slots = SLOTS.get_or_init(|| tokio::sync::Semaphore::new(PASSWORD_SLOTS));
    let permit = tokio::time::timeout(PASSWORD_QUEUE_WAIT, slots.acquire())
        .await
        .map_err(|_| ApiError::Unavailable)?
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let out = tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::Internal(Box::new(e)));
    drop(permit);
    out
}

/// The one answer to a wrong email or password.
const REFUSED: ApiError = ApiError::Unauthorized("invalid email or password");

fn retry_after(until: chrono::DateTime<Utc>) -> ApiError {
    ApiError::TooManyRequests(u64::try_from((until - Utc::now()).num_seconds().max(1)).unwrap_or(1))
}

/// Where a correct password leads.
pub(crate) enum PasswordOutcome {
    /// Signed in.
    Session(Box<OpenedSession>),
    /// The user has a second factor: finish at `POST /api/v1/session/mfa`
    /// with this challenge.
    SecondFactor { mfa_token: String, expires_at: chrono::DateTime<Utc> },
}

/// Checks the password against every account the email names and, on the
/// one it matches, opens a session or (with a second factor) a challenge.
pub(crate) async fn with_password(
    state: &AppState,
    email: &str,
    password: String,
    tenant: Option<&str>,
    source: Option<&str>,
) -> Result<PasswordOutcome, ApiError> {
    let Ok(email) = Email::parse(email) else { return Err(REFUSED) };
    let keys = SignInKeys::new(email.key(), source);
    if let Some(until) = state.store.sign_in_held_until(&keys).await? {
        return Err(retry_after(until));
    }
    let candidates = state.store.sign_in_candidates(email.key(), tenant).await?;
    let hashes: Vec<String> = candidates.iter().map(|c| c.password_hash.clone()).collect();
    let matched = password_work(move || {
        if hashes.is_empty() {
            verify_password(&password, decoy_hash());
            return Vec::new();
        }
        hashes.iter().enumerate().filter(|(_, h)| verify_password(&password, h)).map(|(i, _)| i).collect::<Vec<_>>()
    })
    .await?;
    match matched.as_slice() {
        [one] => {
            let user = &candidates[*one].user;
            if candidates[*one].has_mfa {
                let (mfa_token, expires_at) = state.store.create_mfa_challenge(user).await?;
                return Ok(PasswordOutcome::SecondFactor { mfa_token, expires_at });
            }
            Ok(PasswordOutcome::Session(Box::new(open(state, user, &keys, "password").await?)))
        }
        [] => {
            let accounts: Vec<&weir_store::User> = candidates.iter().map(|c| &c.user).collect();
            let held = state.store.record_sign_in_failure(&keys, &accounts, source).await?;
            tracing::info!(accounts = candidates.len(), held = held.is_some(), "sign-in refused");
            Err(REFUSED)
        }
        _ => Err(ApiError::field("tenant", several_tenants(&candidates))),
    }
}

/// Opens the user's session and reads it back as requests will see it
/// (e.g. whether an admin must still enrol a second factor).
pub(crate) async fn open(
    state: &AppState,
    user: &weir_store::User,
    keys: &SignInKeys,
    method: &str,
) -> Result<OpenedSession, ApiError> {
    let ttl = chrono::Duration::from_std(state.sessions.ttl).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let mut opened = state.store.open_user_session(user, keys, ttl, method).await?;
    if let Some(session) = state.store.session(&opened.secret).await? {
        opened.session = session;
    }
    Ok(opened)
}

/// Checks a signed-in user's current password (before a change of
/// password or second factor). A wrong one is a `422` on `field` and counts
/// against the account like a failed sign-in (audited; held back the same).
pub(crate) async fn check_current_password(
    state: &AppState,
    caller: &weir_store::Principal,
    presented: String,
    field: &'static str,
    source: Option<&str>,
) -> Result<(), ApiError> {
    let Some(person) = caller.user.as_ref().filter(|_| caller.via_session) else {
        return Err(ApiError::Forbidden("only a signed-in user has a password (sign in with email and password)"));
    };
    let keys = SignInKeys::new(&person.email.to_lowercase(), source);
    if let Some(until) = state.store.sign_in_held_until(&keys).await? {
        return Err(retry_after(until));
    }
    let stored = state.store.user_password_hash(caller).await?.unwrap_or_default();
    if password_work(move || verify_password(&presented, &stored)).await? {
        return Ok(());
    }
    let user = state.store.get_user(&caller.scope, &person.id).await?;
    state.store.record_sign_in_failure(&keys, &[&user], source).await?;
    Err(ApiError::field(field, "does not match"))
}

fn several_tenants(candidates: &[SignInCandidate]) -> String {
    let slugs: Vec<&str> = candidates.iter().map(|c| c.tenant_slug.as_str()).collect();
    format!("this email and password sign in to several tenants; name one of: {}", slugs.join(", "))
}
