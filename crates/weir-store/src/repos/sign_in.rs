//! Signing in with an email and password: finding the accounts an email
//! names, holding back repeated failures (per account and per source
//! address, with growing delays), opening a user's session (through a
//! token of kind `session` that the user owns), and changing a password
//! (which ends every other session of theirs).
//!
//! The rule for holding back: a key (`account:<email>` or
//! `source:<address>`) may fail [`FREE_FAILURES`] times in a row (the
//! source more, [`FREE_SOURCE_FAILURES`]); each failure after that blocks
//! the key for `2^(n - free)` seconds, at most [`MAX_BLOCK`]. A success
//! clears the account's key; a key's count restarts after [`FORGET_AFTER`]
//! without failures.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use serde_json::json;
use tracing::instrument;
use weir_core::{TokenHash, TokenKind, UserStatus, ids};

use super::audit::AuditEntry;
use super::now;
use super::sessions::{OpenedSession, Session, insert_session};
use super::users::{User, end_user_access};
use crate::entities::{api_tokens, sign_in_throttle as throttle, tenants, users};
use crate::scope::user_principal;
use crate::{Principal, Store, StoreError, TenantScope};

/// Failures in a row an account may have before it is held back.
pub const FREE_FAILURES: i32 = 5;
/// Failures in a row a source address may have before it is held back.
pub const FREE_SOURCE_FAILURES: i32 = 20;
/// The longest hold.
pub const MAX_BLOCK: Duration = Duration::minutes(15);
/// A key's count restarts after this long without a failure.
pub const FORGET_AFTER: Duration = Duration::hours(1);
/// At most this many accounts are tried for one email (one per tenant).
const MAX_CANDIDATES: u64 = 10;

/// An account an email names, with what checking its password needs.
#[derive(Debug, Clone)]
pub struct SignInCandidate {
    /// The user (active, of an active tenant).
    pub user: User,
    /// Their tenant's slug.
    pub tenant_slug: String,
    /// Their Argon2id hash.
    pub password_hash: String,
    /// Whether they have a confirmed second factor (sign-in needs it then).
    pub has_mfa: bool,
}

/// The throttle keys of one attempt.
#[derive(Debug, Clone)]
pub struct SignInKeys {
    account: String,
    source: Option<String>,
}

impl SignInKeys {
    /// Keys for an attempt on `email_key` from `source` (the client address).
    pub fn new(email_key: &str, source: Option<&str>) -> Self {
        Self { account: format!("account:{email_key}"), source: source.map(|s| format!("source:{s}")) }
    }

    fn all(&self) -> Vec<String> {
        std::iter::once(self.account.clone()).chain(self.source.clone()).collect()
    }

    fn free_failures(key: &str) -> i32 {
        if key.starts_with("source:") { FREE_SOURCE_FAILURES } else { FREE_FAILURES }
    }
}

/// How long a key is held after its `failures`-th failure in a row.
pub fn hold_after(failures: i32, free: i32) -> Option<Duration> {
    let over = failures - free;
    if over <= 0 {
        return None;
    }
    let secs = 1i64.checked_shl(u32::try_from(over - 1).unwrap_or(u32::MAX).min(20)).unwrap_or(i64::MAX);
    Some(Duration::seconds(secs).min(MAX_BLOCK))
}

impl Store {
    /// The active accounts of active tenants with this email (lower-cased),
    /// only in `tenant_slug` when given, that have a password, in tenants
    /// that do not sign in with SSO only.
    #[instrument(skip_all)]
    pub async fn sign_in_candidates(
        &self,
        email_key: &str,
        tenant_slug: Option<&str>,
    ) -> Result<Vec<SignInCandidate>, StoreError> {
        let mut query = users::Entity::find()
            .find_also_related(tenants::Entity)
            .filter(users::Column::EmailKey.eq(email_key))
            .filter(users::Column::Status.eq(UserStatus::Active))
            .filter(tenants::Column::IsActive.eq(true));
        if let Some(slug) = tenant_slug {
            query = query.filter(tenants::Column::Slug.eq(slug));
        }
        let mut out = Vec::new();
        for (user, tenant) in query.limit(MAX_CANDIDATES).all(&self.db).await? {
            let (Some(tenant), Some(hash)) = (tenant, user.password_hash.clone()) else { continue };
            let has_mfa = user.mfa_secret_sealed.is_some();
            out.push(SignInCandidate {
                user: user.try_into()?,
                tenant_slug: tenant.slug,
                password_hash: hash,
                has_mfa,
            });
        }
        let tenant_ids: Vec<&str> = out.iter().map(|c| c.user.tenant_id.as_str()).collect();
        let sso_only = self.sso_only_tenants(&tenant_ids).await?;
        out.retain(|c| !sso_only.contains(&c.user.tenant_id));
        Ok(out)
    }

    /// Until when this attempt is held back, if it is.
    pub async fn sign_in_held_until(&self, keys: &SignInKeys) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at = now();
        let rows = throttle::Entity::find().filter(throttle::Column::Key.is_in(keys.all())).all(&self.db).await?;
        Ok(rows.into_iter().filter_map(|r| r.blocked_until).filter(|b| *b > at).max())
    }

    /// Counts a failed attempt against its keys and audits it in the
    /// tenant of each account the email names (`session.sign_in_failed`,
    /// with the source address; never the password). Answers until when
    /// the attempt's keys are now held back, if they are.
    #[instrument(skip_all)]
    pub async fn record_sign_in_failure(
        &self,
        keys: &SignInKeys,
        accounts: &[&User],
        source: Option<&str>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        let mut held = None;
        for key in keys.all() {
            let failures = count_failure(&txn, &key, at).await?;
            let blocked_until = hold_after(failures, SignInKeys::free_failures(&key)).map(|d| at + d);
            held = held.max(blocked_until);
            if blocked_until.is_some() {
                throttle::Entity::update_many()
                    .col_expr(throttle::Column::BlockedUntil, Expr::value(blocked_until))
                    .filter(throttle::Column::Key.eq(key.as_str()))
                    .exec(&txn)
                    .await?;
            }
        }
        for account in accounts {
            let entry = AuditEntry {
                action: "session.sign_in_failed",
                actor: "anonymous".to_owned(),
                resource_type: "user",
                resource_id: account.id.clone(),
                connector_id: None,
                details: json!({"email": account.email, "source": source, "held_until": held}),
            };
            self.append_audit(&txn, &TenantScope::new(account.tenant_id.clone()), entry).await?;
        }
        txn.commit().await?;
        Ok(held)
    }

    /// Opens a session for `user` (after their password was checked),
    /// valid for `ttl`: a `session` token owned by them with their role,
    /// and the session on it. Clears the account's failure count, records
    /// `last_sign_in_at`, and audits `session.created`.
    #[instrument(skip_all, fields(tenant_id = user.tenant_id.as_str()))]
    pub async fn open_user_session(
        &self,
        user: &User,
        keys: &SignInKeys,
        ttl: Duration,
        method: &str,
    ) -> Result<OpenedSession, StoreError> {
        let at = now();
        let expires_at = at + ttl;
        let scope = TenantScope::new(user.tenant_id.clone());
        let txn = self.write_txn().await?;
        let Some(tenant) = tenants::Entity::find_by_id(user.tenant_id.as_str()).one(&txn).await? else {
            return Err(StoreError::NotFound);
        };
        let token_id = ids::new_id();
        let principal_id = user_principal(&user.id);
        api_tokens::Entity::insert(api_tokens::ActiveModel {
            id: Set(token_id.clone()),
            tenant_id: Set(user.tenant_id.clone()),
            name: Set("session".to_owned()),
            role: Set(user.role.as_str().to_owned()),
            // Never presented: a session authenticates by its cookie.
            token_hash: Set(TokenHash::of(&ids::random_key(32)).as_str().to_owned()),
            token_hint: Set(String::new()),
            created_by: Set(Some(principal_id.clone())),
            principal_id: Set(Some(principal_id.clone())),
            kind: Set(TokenKind::Session),
            created_at: Set(at),
            last_used_at: Set(None),
            expires_at: Set(Some(expires_at)),
            revoked_at: Set(None),
        })
        .exec_without_returning(&txn)
        .await?;
        let (row, secret) = insert_session(&txn, &user.tenant_id, &token_id, at, expires_at).await?;
        users::Entity::update_many()
            .col_expr(users::Column::LastSignInAt, Expr::value(at))
            .filter(users::Column::Id.eq(user.id.as_str()))
            .exec(&txn)
            .await?;
        throttle::Entity::delete_many().filter(throttle::Column::Key.eq(keys.account.as_str())).exec(&txn).await?;
        let entry = AuditEntry {
            action: "session.created",
            actor: principal_id.clone(),
            resource_type: "session",
            resource_id: row.id.clone(),
            connector_id: None,
            details: json!({"expires_at": expires_at, "method": method}),
        };
        self.append_audit(&txn, &scope, entry).await?;
        txn.commit().await?;
        let principal = Principal {
            scope,
            role: user.role,
            token_id,
            issued_by: Some(principal_id.clone()),
            principal_id,
            user: Some(user.as_ref()),
            via_session: true,
            must_enrol_mfa: false,
        };
        let session = Session {
            id: row.id,
            principal,
            tenant: tenant.into(),
            csrf_token: row.csrf_token,
            expires_at: row.expires_at,
        };
        Ok(OpenedSession { session, secret })
    }

    /// The password hash of the signed-in user (to check their current
    /// password before a change).
    pub async fn user_password_hash(&self, principal: &Principal) -> Result<Option<String>, StoreError> {
        let Some(user) = &principal.user else { return Ok(None) };
        Ok(users::Entity::find_by_id(user.id.as_str()).one(&self.db).await?.and_then(|u| u.password_hash))
    }

    /// Sets the signed-in user's password and ends every other session and
    /// token of theirs (the one making the change stays). Audited as
    /// `user.password_changed`.
    #[instrument(skip_all)]
    pub async fn change_password(&self, principal: &Principal, password_hash: String) -> Result<u64, StoreError> {
        let Some(user) = &principal.user else {
            return Err(StoreError::Unprocessable("only a signed-in user has a password"));
        };
        let at = now();
        let txn = self.write_txn().await?;
        users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(password_hash))
            .col_expr(users::Column::PasswordChangedAt, Expr::value(at))
            .col_expr(users::Column::UpdatedAt, Expr::value(at))
            .filter(users::Column::Id.eq(user.id.as_str()))
            .exec(&txn)
            .await?;
        let keep = principal.via_session.then_some(principal.token_id.as_str());
        let ended = end_user_access(&txn, &principal.scope, &user.id, keep, at).await?;
        end_challenges(&txn, &user.id).await?;
        let entry = AuditEntry {
            action: "user.password_changed",
            actor: principal.actor(),
            resource_type: "user",
            resource_id: user.id.clone(),
            connector_id: None,
            details: json!({"tokens_revoked": ended}),
        };
        self.append_audit(&txn, &principal.scope, entry).await?;
        txn.commit().await?;
        Ok(ended)
    }
}

impl Store {
    /// The tenant's user with this email (lower-cased), whatever their status.
    pub async fn user_by_email(&self, scope: &TenantScope, email_key: &str) -> Result<Option<User>, StoreError> {
        users::Entity::find()
            .filter(users::Column::TenantId.eq(scope.tenant_id()))
            .filter(users::Column::EmailKey.eq(email_key))
            .one(&self.db)
            .await?
            .map(User::try_from)
            .transpose()
    }

    /// Sets an active user's password on their behalf (a reset by an
    /// operator outside the tenant, e.g. `weir demo`), ending every session
    /// and token of theirs. Audited as `user.password_reset`.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn reset_password(
        &self,
        scope: &TenantScope,
        user_id: &str,
        password_hash: String,
        actor: &str,
    ) -> Result<u64, StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        let changed = users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(password_hash))
            .col_expr(users::Column::PasswordChangedAt, Expr::value(at))
            .col_expr(users::Column::UpdatedAt, Expr::value(at))
            .filter(users::Column::TenantId.eq(scope.tenant_id()))
            .filter(users::Column::Id.eq(user_id))
            .filter(users::Column::Status.eq(UserStatus::Active))
            .exec(&txn)
            .await?;
        if changed.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        let ended = end_user_access(&txn, scope, user_id, None, at).await?;
        end_challenges(&txn, user_id).await?;
        let entry = AuditEntry {
            action: "user.password_reset",
            actor: actor.to_owned(),
            resource_type: "user",
            resource_id: user_id.to_owned(),
            connector_id: None,
            details: json!({"tokens_revoked": ended}),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(ended)
    }
}

/// Adds one failure to `key` in one statement (`INSERT … ON CONFLICT DO
/// UPDATE SET failures = failures + 1 … RETURNING`), so concurrent failures
/// each count; a count older than [`FORGET_AFTER`] restarts at 1. Answers
/// the new count.
async fn count_failure<C: sea_orm::ConnectionTrait>(db: &C, key: &str, at: DateTime<Utc>) -> Result<i32, StoreError> {
    use sea_orm::ExprTrait as _;
    use sea_orm::sea_query::{Alias, CaseStatement, Query};
    let current = |c: throttle::Column| Expr::col((Alias::new("sign_in_throttle"), c));
    let restarted = CaseStatement::new()
        .case(current(throttle::Column::LastFailureAt).lt(at - FORGET_AFTER), Expr::val(1))
        .finally(current(throttle::Column::Failures).add(1));
    let insert = Query::insert()
        .into_table(throttle::Entity)
        .columns([throttle::Column::Key, throttle::Column::Failures, throttle::Column::LastFailureAt])
        .values([key.into(), 1.into(), at.into()])
        .map_err(|e| StoreError::Database(sea_orm::DbErr::Custom(e.to_string())))?
        .on_conflict(
            OnConflict::column(throttle::Column::Key)
                .value(throttle::Column::Failures, restarted)
                .value(throttle::Column::LastFailureAt, Expr::val(at))
                .to_owned(),
        )
        .returning_col(throttle::Column::Failures)
        .to_owned();
    let row = db.query_one_raw(db.get_database_backend().build(&insert)).await?;
    Ok(row.map(|r| r.try_get::<i32>("", "failures")).transpose()?.unwrap_or(1))
}

/// Second-factor challenges opened with the old password end with it.
async fn end_challenges<C: sea_orm::ConnectionTrait>(db: &C, user_id: &str) -> Result<(), StoreError> {
    use crate::entities::mfa_challenges as challenges;
    challenges::Entity::delete_many().filter(challenges::Column::UserId.eq(user_id)).exec(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_grow_from_one_second_after_the_free_failures_and_stop_at_fifteen_minutes() {
        assert_eq!(hold_after(FREE_FAILURES, FREE_FAILURES), None);
        assert_eq!(hold_after(FREE_FAILURES + 1, FREE_FAILURES), Some(Duration::seconds(1)));
        assert_eq!(hold_after(FREE_FAILURES + 2, FREE_FAILURES), Some(Duration::seconds(2)));
        assert_eq!(hold_after(FREE_FAILURES + 4, FREE_FAILURES), Some(Duration::seconds(8)));
        assert_eq!(hold_after(FREE_FAILURES + 30, FREE_FAILURES), Some(MAX_BLOCK));
        assert_eq!(hold_after(i32::MAX, FREE_FAILURES), Some(MAX_BLOCK));
    }
}
