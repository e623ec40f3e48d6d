//! Who a person the identity provider vouched for is in Weir (just-in-time
//! provisioning): the user linked to their provider subject; else the
//! tenant's user with their email, linked now (an invited one becomes
//! active); else a new active user. Their role, name and email follow the
//! provider on every sign-in, except that the tenant's last active admin
//! keeps the admin role (so a mapping mistake cannot lock the tenant out).
//!
//! Two steps, so that nothing is written before a second factor passes:
//! [`Store::sso_match`] only reads and decides; [`Store::sso_apply`]
//! writes (at the callback, or after the TOTP step for a user with one).
//! Each change is audited; so is every refused SSO sign-in.

use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::json;
use tracing::instrument;
use weir_core::sso::SsoRefusal;
use weir_core::user::{Email, UserName};
use weir_core::{Role, UserStatus};

use super::audit::AuditEntry;
use super::now;
use super::users::{User, new_user_row, note_change, user_audit};
use crate::entities::{user_invites, users};
use crate::{Store, StoreError, TenantScope};

/// A person the identity provider vouched for (ID token verified, email
/// trusted, domain allowed, role mapped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoIdentity {
    /// `<issuer> <sub>`: stable across email changes at the provider.
    pub subject: String,
    /// Their email.
    pub email: Email,
    /// Their name at the provider (the email when it sent none).
    pub name: UserName,
    /// The role their claim maps to.
    pub role: Role,
}

impl SsoIdentity {
    /// As kept on a second-factor challenge until the code is right.
    pub(crate) fn to_pending(&self) -> String {
        json!({"subject": self.subject, "email": self.email.as_str(), "name": self.name.as_str(), "role": self.role})
            .to_string()
    }

    /// Back from [`SsoIdentity::to_pending`]; `None` if unreadable.
    pub(crate) fn from_pending(text: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        Some(Self {
            subject: v["subject"].as_str()?.to_owned(),
            email: Email::parse(v["email"].as_str()?).ok()?,
            name: UserName::parse(v["name"].as_str()?).ok()?,
            role: v["role"].as_str()?.parse().ok()?,
        })
    }
}

/// Who an identity is, before anything is written.
#[derive(Debug, Clone)]
pub enum SsoMatch {
    /// A user of the tenant, linked or to be linked.
    Existing {
        /// The user as stored now.
        user: User,
        /// They have a second factor: apply only after it passes.
        has_mfa: bool,
    },
    /// Nobody yet: [`Store::sso_apply`] provisions them.
    New,
}

/// The user linked to the subject, else the one with the email.
async fn find<C: sea_orm::ConnectionTrait>(
    db: &C,
    scope: &TenantScope,
    identity: &SsoIdentity,
) -> Result<Option<users::Model>, StoreError> {
    let in_tenant = users::Column::TenantId.eq(scope.tenant_id());
    let linked =
        users::Entity::find().filter(in_tenant.clone()).filter(users::Column::SsoSubject.eq(&identity.subject));
    if let Some(u) = linked.one(db).await? {
        return Ok(Some(u));
    }
    Ok(users::Entity::find().filter(in_tenant).filter(users::Column::EmailKey.eq(identity.email.key())).one(db).await?)
}

/// The refusals that apply to an existing user.
async fn refusal<C: sea_orm::ConnectionTrait>(
    db: &C,
    scope: &TenantScope,
    user: &users::Model,
    identity: &SsoIdentity,
) -> Result<Option<SsoRefusal>, StoreError> {
    if user.status == UserStatus::Deactivated {
        return Ok(Some(SsoRefusal::Deactivated));
    }
    if user.sso_subject.as_deref().is_some_and(|s| s != identity.subject) {
        return Ok(Some(SsoRefusal::SubjectMismatch));
    }
    if user.email_key != identity.email.key() {
        let taken = users::Entity::find()
            .filter(users::Column::TenantId.eq(scope.tenant_id()))
            .filter(users::Column::EmailKey.eq(identity.email.key()))
            .count(db)
            .await?;
        if taken > 0 {
            return Ok(Some(SsoRefusal::EmailTaken));
        }
    }
    Ok(None)
}

impl Store {
    /// Who `identity` is in the tenant, reading only. A deactivated user,
    /// an email linked to another subject, or a new email another user has
    /// is refused (`Ok(Err(_))`).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn sso_match(
        &self,
        scope: &TenantScope,
        identity: &SsoIdentity,
    ) -> Result<Result<SsoMatch, SsoRefusal>, StoreError> {
        let Some(found) = find(&self.db, scope, identity).await? else { return Ok(Ok(SsoMatch::New)) };
        if let Some(r) = refusal(&self.db, scope, &found, identity).await? {
            return Ok(Err(r));
        }
        let has_mfa = found.mfa_secret_sealed.is_some();
        Ok(Ok(SsoMatch::Existing { user: found.try_into()?, has_mfa }))
    }

    /// Links, updates or provisions the user `identity` is (the checks of
    /// [`Store::sso_match`] again, inside the transaction), audited.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn sso_apply(
        &self,
        scope: &TenantScope,
        identity: &SsoIdentity,
    ) -> Result<Result<User, SsoRefusal>, StoreError> {
        let txn = self.write_txn().await?;
        let Some(before) = find(&txn, scope, identity).await? else {
            let user = self.provision(&txn, scope, identity).await?;
            txn.commit().await?;
            return Ok(Ok(user));
        };
        if let Some(r) = refusal(&txn, scope, &before, identity).await? {
            return Ok(Err(r));
        }
        let user = self.follow_provider(&txn, scope, before, identity).await?;
        txn.commit().await?;
        Ok(Ok(user))
    }

    /// Brings an existing user in line with the provider (role, name,
    /// email; linked; active), keeping the last active admin an admin.
    async fn follow_provider(
        &self,
        txn: &DatabaseTransaction,
        scope: &TenantScope,
        before: users::Model,
        identity: &SsoIdentity,
    ) -> Result<User, StoreError> {
        let demoted = before.role == Role::Admin.as_str() && identity.role < Role::Admin;
        let keep_admin = demoted && !other_active_admin(txn, scope, &before.id).await?;
        let role = if keep_admin { Role::Admin } else { identity.role };
        let mut changed = serde_json::Map::new();
        note_change(&mut changed, "role", &before.role, role.as_str());
        note_change(&mut changed, "name", &before.name, identity.name.as_str());
        note_change(&mut changed, "email", &before.email, identity.email.as_str());
        let activated = before.status == UserStatus::Invited;
        let linked = before.sso_subject.is_none();
        if changed.is_empty() && !activated && !linked && !keep_admin {
            return before.try_into();
        }
        let id = before.id.clone();
        let mut row: users::ActiveModel = before.into();
        row.role = Set(role.as_str().to_owned());
        row.name = Set(identity.name.as_str().to_owned());
        row.email = Set(identity.email.as_str().to_owned());
        row.email_key = Set(identity.email.key().to_owned());
        row.status = Set(UserStatus::Active);
        row.sso_subject = Set(Some(identity.subject.clone()));
        row.updated_at = Set(now());
        let user = User::try_from(row.update(txn).await?)?;
        if activated {
            user_invites::Entity::delete_many().filter(user_invites::Column::UserId.eq(id.as_str())).exec(txn).await?;
        }
        let mut details = json!({"via": "sso", "changed": changed, "linked": linked, "activated": activated});
        if keep_admin {
            details["role_kept"] =
                json!(format!("the provider maps {}, but this is the last active admin", identity.role));
            tracing::warn!(user_id = id.as_str(), "SSO role mapping would demote the last admin; kept admin");
        }
        self.append_audit(txn, scope, user_audit("user.updated", "sso", &user, details)).await?;
        Ok(user)
    }

    async fn provision(
        &self,
        txn: &DatabaseTransaction,
        scope: &TenantScope,
        identity: &SsoIdentity,
    ) -> Result<User, StoreError> {
        let subject = Some(identity.subject.clone());
        let row =
            new_user_row(scope, &identity.email, &identity.name, identity.role, UserStatus::Active, "sso", subject)
                .insert(txn)
                .await?;
        let user = User::try_from(row)?;
        let details = json!({"email": user.email, "name": user.name, "role": user.role, "via": "sso"});
        self.append_audit(txn, scope, user_audit("user.provisioned", "sso", &user, details)).await?;
        Ok(user)
    }

    /// Audits a refused SSO sign-in (`sso.sign_in_refused`) with its code,
    /// the reason and, when the provider named one, the email.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn audit_sso_refusal(
        &self,
        scope: &TenantScope,
        refusal: &SsoRefusal,
        email: Option<&str>,
        source: Option<&str>,
    ) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let details = json!({"code": refusal.code(), "reason": refusal.to_string(), "email": email, "source": source});
        let entry = AuditEntry::about_tenant("sso.sign_in_refused", "sso".to_owned(), scope, details);
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Whether the tenant has an active admin other than `user_id`.
async fn other_active_admin(txn: &DatabaseTransaction, scope: &TenantScope, user_id: &str) -> Result<bool, StoreError> {
    let n = users::Entity::find()
        .filter(users::Column::TenantId.eq(scope.tenant_id()))
        .filter(users::Column::Role.eq(Role::Admin.as_str()))
        .filter(users::Column::Status.eq(UserStatus::Active))
        .filter(users::Column::Id.ne(user_id))
        .count(txn)
        .await?;
    Ok(n > 0)
}
