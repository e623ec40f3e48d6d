//! Multi-factor sign-in state: enrolment (a pending key until the first
//! code confirms it), recovery codes, the short-lived challenge between a
//! correct password and the second factor, accepting a TOTP step at most
//! once, and the tenant setting that makes MFA mandatory for admins.
//! Keys arrive and leave sealed: this module never sees a TOTP key.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, ExprTrait, QueryFilter, Set};
use serde_json::json;
use tracing::instrument;
use weir_core::{TokenHash, UserStatus, ids};

use super::audit::AuditEntry;
use super::now;
use super::users::User;
use crate::entities::{mfa_challenges as challenges, tenants, user_recovery_codes as codes, users};
use crate::{Principal, Store, StoreError, TenantScope};

/// How long the second step may follow the password.
pub const CHALLENGE_TTL: Duration = Duration::minutes(5);
/// Wrong codes one challenge takes before it is spent.
pub const CHALLENGE_ATTEMPTS: i32 = 5;

/// A user's second factor as stored (sealed keys).
#[derive(Debug, Clone)]
pub struct MfaState {
    /// The confirmed key, sealed.
    pub secret_sealed: Option<Vec<u8>>,
    /// A key awaiting its first code, sealed.
    pub pending_sealed: Option<Vec<u8>>,
    /// The last TOTP step accepted.
    pub last_step: Option<i64>,
}

/// A live challenge and the user it is for.
#[derive(Debug, Clone)]
pub struct MfaChallenge {
    /// Row id.
    pub id: String,
    /// The user who gave the right password.
    pub user: User,
    /// Their second factor.
    pub state: MfaState,
    /// The step before this one: `password` or `sso`.
    pub first_factor: String,
    /// After SSO: the identity to apply once the code is right (nothing
    /// about the user is written before).
    pub pending_sso: Option<super::sso_users::SsoIdentity>,
    /// The user's tenant.
    pub scope: TenantScope,
}

fn mfa_audit(action: &'static str, p: &Principal, user_id: &str, details: serde_json::Value) -> AuditEntry {
    AuditEntry {
        action,
        actor: p.actor(),
        resource_type: "user",
        resource_id: user_id.to_owned(),
        connector_id: None,
        details,
    }
}

fn state_of(m: &users::Model) -> MfaState {
    MfaState {
        secret_sealed: m.mfa_secret_sealed.clone(),
        pending_sealed: m.mfa_pending_sealed.clone(),
        last_step: m.mfa_last_step,
    }
}

fn signed_in_user(p: &Principal) -> Result<&str, StoreError> {
    p.user
        .as_ref()
        .filter(|_| p.via_session)
        .map(|u| u.id.as_str())
        .ok_or(StoreError::Unprocessable("only a signed-in user has a second factor (sign in with email and password)"))
}

impl Store {
    /// The signed-in user's second factor.
    pub async fn mfa_state(&self, p: &Principal) -> Result<MfaState, StoreError> {
        let id = signed_in_user(p)?;
        let user = users::Entity::find_by_id(id).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        Ok(state_of(&user))
    }

    /// Starts (or restarts) enrolment with a new sealed key; the current
    /// factor, if any, stays until the new one is confirmed.
    pub async fn begin_mfa_enrolment(&self, p: &Principal, pending_sealed: Vec<u8>) -> Result<(), StoreError> {
        let id = signed_in_user(p)?;
        users::Entity::update_many()
            .col_expr(users::Column::MfaPendingSealed, Expr::value(pending_sealed))
            .filter(users::Column::Id.eq(id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Confirms enrolment: the pending key becomes the user's factor, the
    /// `step` its first code matched is spent, and `recovery_hashes`
    /// replace any earlier recovery codes. Audited as `user.mfa_enabled`.
    #[instrument(skip_all)]
    pub async fn confirm_mfa(&self, p: &Principal, step: i64, recovery_hashes: Vec<String>) -> Result<(), StoreError> {
        let id = signed_in_user(p)?;
        let at = now();
        let txn = self.write_txn().await?;
        let user = users::Entity::find_by_id(id).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let Some(pending) = user.mfa_pending_sealed else {
            return Err(StoreError::StateConflict("no enrolment is in progress; start one first"));
        };
        users::Entity::update_many()
            .col_expr(users::Column::MfaSecretSealed, Expr::value(pending))
            .col_expr(users::Column::MfaPendingSealed, Expr::value(Option::<Vec<u8>>::None))
            .col_expr(users::Column::MfaEnabledAt, Expr::value(at))
            .col_expr(users::Column::MfaLastStep, Expr::value(step))
            .filter(users::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        codes::Entity::delete_many().filter(codes::Column::UserId.eq(id)).exec(&txn).await?;
        let rows = recovery_hashes.into_iter().map(|hash| codes::ActiveModel {
            id: Set(ids::new_id()),
            user_id: Set(id.to_owned()),
            code_hash: Set(hash),
            used_at: Set(None),
        });
        codes::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        self.append_audit(&txn, &p.scope, mfa_audit("user.mfa_enabled", p, id, json!({}))).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Turns the signed-in user's second factor off (their recovery codes
    /// go too). Audited as `user.mfa_disabled`.
    pub async fn disable_mfa(&self, p: &Principal) -> Result<(), StoreError> {
        let id = signed_in_user(p)?;
        let txn = self.write_txn().await?;
        users::Entity::update_many()
            .col_expr(users::Column::MfaSecretSealed, Expr::value(Option::<Vec<u8>>::None))
            .col_expr(users::Column::MfaPendingSealed, Expr::value(Option::<Vec<u8>>::None))
            .col_expr(users::Column::MfaEnabledAt, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(users::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        codes::Entity::delete_many().filter(codes::Column::UserId.eq(id)).exec(&txn).await?;
        self.append_audit(&txn, &p.scope, mfa_audit("user.mfa_disabled", p, id, json!({}))).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Opens a challenge for `user` after their password passed; answers
    /// its secret, valid for [`CHALLENGE_TTL`].
    pub async fn create_mfa_challenge(&self, user: &User) -> Result<(String, DateTime<Utc>), StoreError> {
        self.insert_challenge(user, "password", None).await
    }

    /// Opens a challenge for `user` after SSO vouched for `identity`, which
    /// is applied only once the code is right.
    pub async fn create_sso_mfa_challenge(
        &self,
        user: &User,
        identity: &super::sso_users::SsoIdentity,
    ) -> Result<(String, DateTime<Utc>), StoreError> {
        self.insert_challenge(user, "sso", Some(identity.to_pending())).await
    }

    async fn insert_challenge(
        &self,
        user: &User,
        first_factor: &'static str,
        pending_sso: Option<String>,
    ) -> Result<(String, DateTime<Utc>), StoreError> {
        let secret = ids::random_key(32);
        let expires_at = now() + CHALLENGE_TTL;
        challenges::Entity::insert(challenges::ActiveModel {
            id: Set(ids::new_id()),
            user_id: Set(user.id.clone()),
            token_hash: Set(TokenHash::of(&secret).as_str().to_owned()),
            attempts: Set(0),
            expires_at: Set(expires_at),
            used_at: Set(None),
            first_factor: Set(first_factor.to_owned()),
            pending_sso: Set(pending_sso),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok((secret, expires_at))
    }

    /// The live challenge `secret` names (unexpired, unspent, its user
    /// still active); `NotFound` otherwise.
    pub async fn mfa_challenge(&self, secret: &str) -> Result<MfaChallenge, StoreError> {
        let found = challenges::Entity::find()
            .filter(challenges::Column::TokenHash.eq(TokenHash::of(secret).as_str()))
            .one(&self.db)
            .await?
            .filter(|c| c.used_at.is_none() && c.expires_at > now() && c.attempts < CHALLENGE_ATTEMPTS)
            .ok_or(StoreError::NotFound)?;
        let user = users::Entity::find_by_id(found.user_id.as_str())
            .one(&self.db)
            .await?
            .filter(|u| u.status == UserStatus::Active)
            .ok_or(StoreError::NotFound)?;
        let pending_sso = match found.pending_sso.as_deref() {
            Some(text) => Some(
                super::sso_users::SsoIdentity::from_pending(text)
                    .ok_or_else(|| StoreError::Database(sea_orm::DbErr::Type("unreadable pending_sso".into())))?,
            ),
            None => None,
        };
        Ok(MfaChallenge {
            id: found.id,
            state: state_of(&user),
            scope: TenantScope::new(user.tenant_id.clone()),
            user: user.try_into()?,
            first_factor: found.first_factor,
            pending_sso,
        })
    }

    /// Takes one of the challenge's [`CHALLENGE_ATTEMPTS`] tries, before
    /// the code is checked (so concurrent tries cannot all pass a check made
    /// before any is counted): `false` when none is left or it is spent.
    pub async fn take_mfa_attempt(&self, challenge_id: &str) -> Result<bool, StoreError> {
        let taken = challenges::Entity::update_many()
            .col_expr(challenges::Column::Attempts, Expr::col(challenges::Column::Attempts).add(1))
            .filter(challenges::Column::Id.eq(challenge_id))
            .filter(challenges::Column::Attempts.lt(CHALLENGE_ATTEMPTS))
            .filter(challenges::Column::UsedAt.is_null())
            .exec(&self.db)
            .await?;
        Ok(taken.rows_affected == 1)
    }

    /// Spends the challenge and TOTP `step` together: `false` when either
    /// was spent already (a replayed code or a second use of the challenge).
    pub async fn pass_mfa_with_code(&self, ch: &MfaChallenge, step: i64) -> Result<bool, StoreError> {
        let txn = self.write_txn().await?;
        let stepped = users::Entity::update_many()
            .col_expr(users::Column::MfaLastStep, Expr::value(step))
            .filter(users::Column::Id.eq(ch.user.id.as_str()))
            .filter(
                sea_orm::Condition::any()
                    .add(users::Column::MfaLastStep.is_null())
                    .add(users::Column::MfaLastStep.lt(step)),
            )
            .exec(&txn)
            .await?;
        let spent = spend_challenge(&txn, &ch.id).await?;
        if stepped.rows_affected != 1 || !spent {
            txn.rollback().await?;
            return Ok(false);
        }
        txn.commit().await?;
        Ok(true)
    }

    /// Spends the challenge and one unused recovery code (by its hash)
    /// together: `false` when the code is unknown or used, or the challenge spent.
    pub async fn pass_mfa_with_recovery(&self, ch: &MfaChallenge, code_hash: &str) -> Result<bool, StoreError> {
        let txn = self.write_txn().await?;
        let used = codes::Entity::update_many()
            .col_expr(codes::Column::UsedAt, Expr::value(now()))
            .filter(codes::Column::UserId.eq(ch.user.id.as_str()))
            .filter(codes::Column::CodeHash.eq(code_hash))
            .filter(codes::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        let spent = spend_challenge(&txn, &ch.id).await?;
        if used.rows_affected != 1 || !spent {
            txn.rollback().await?;
            return Ok(false);
        }
        txn.commit().await?;
        Ok(true)
    }

    /// Whether the tenant requires a second factor of its admins.
    pub async fn mfa_required_for_admins(&self, scope: &TenantScope) -> Result<bool, StoreError> {
        let t = tenants::Entity::find_by_id(scope.tenant_id()).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        Ok(t.mfa_required_for_admins)
    }

    /// Sets whether the tenant requires a second factor of its admins.
    /// Audited as `tenant.settings_updated`.
    pub async fn set_mfa_required_for_admins(&self, p: &Principal, required: bool) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        tenants::Entity::update_many()
            .col_expr(tenants::Column::MfaRequiredForAdmins, Expr::value(required))
            .col_expr(tenants::Column::UpdatedAt, Expr::value(now()))
            .filter(tenants::Column::Id.eq(p.scope.tenant_id()))
            .exec(&txn)
            .await?;
        let details = json!({"mfa_required_for_admins": required});
        let entry = AuditEntry::about_tenant("tenant.settings_updated", p.actor(), &p.scope, details);
        self.append_audit(&txn, &p.scope, entry).await?;
        txn.commit().await?;
        Ok(())
    }
}

async fn spend_challenge<C: sea_orm::ConnectionTrait>(db: &C, id: &str) -> Result<bool, StoreError> {
    let r = challenges::Entity::update_many()
        .col_expr(challenges::Column::UsedAt, Expr::value(now()))
        .filter(challenges::Column::Id.eq(id))
        .filter(challenges::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}
