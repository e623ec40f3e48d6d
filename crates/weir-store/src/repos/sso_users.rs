//! Who a person the identity provider vouched for is in Weir (just-in-time
//! provisioning): the user linked to their provider subject; else the
//! tenant's user with their email, linked now (an invited one becomes
//! active); else a new active user. Their role and name follow the
//! provider on every sign-in. Each change is audited; so is every refused
//! SSO sign-in.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use tracing::instrument;
use weir_core::sso::SsoRefusal;
use weir_core::user::{Email, UserName};
use weir_core::{Role, UserStatus, ids};

use super::audit::AuditEntry;
use super::now;
use super::users::{User, note_change};
use crate::entities::{user_invites, users};
use crate::{Store, StoreError, TenantScope};

/// A person the identity provider vouched for (ID token verified, domain
/// allowed, role mapped).
#[derive(Debug, Clone)]
pub struct SsoIdentity {
    /// `<issuer> <sub>`: stable across email changes at the provider.
    pub subject: String,
    /// Their verified email.
    pub email: Email,
    /// Their name at the provider (the email when it sent none).
    pub name: UserName,
    /// The role their claim maps to.
    pub role: Role,
}

/// The Weir user an identity signs in as.
#[derive(Debug, Clone)]
pub struct SsoUser {
    /// The user, as now stored.
    pub user: User,
    /// They have a second factor (the TOTP step follows).
    pub has_mfa: bool,
}

fn audit(action: &'static str, actor: String, user_id: &str, details: serde_json::Value) -> AuditEntry {
    AuditEntry { action, actor, resource_type: "user", resource_id: user_id.to_owned(), connector_id: None, details }
}

impl Store {
    /// Finds, links or creates the user `identity` signs in as (see the
    /// module). A deactivated user, or an email already linked to another
    /// subject, is refused (`Ok(Err(_))`); nothing is written then.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn sso_user(
        &self,
        scope: &TenantScope,
        identity: &SsoIdentity,
    ) -> Result<Result<SsoUser, SsoRefusal>, StoreError> {
        let txn = self.write_txn().await?;
        let in_tenant = users::Column::TenantId.eq(scope.tenant_id());
        let linked =
            users::Entity::find().filter(in_tenant.clone()).filter(users::Column::SsoSubject.eq(&identity.subject));
        let existing = match linked.one(&txn).await? {
            Some(u) => Some(u),
            None => {
                users::Entity::find()
                    .filter(in_tenant)
                    .filter(users::Column::EmailKey.eq(identity.email.key()))
                    .one(&txn)
                    .await?
            }
        };
        let Some(before) = existing else {
            let user = self.provision(&txn, scope, identity).await?;
            txn.commit().await?;
            return Ok(Ok(SsoUser { user, has_mfa: false }));
        };
        if before.status == UserStatus::Deactivated {
            return Ok(Err(SsoRefusal::Deactivated));
        }
        if before.sso_subject.as_deref().is_some_and(|s| s != identity.subject) {
            return Ok(Err(SsoRefusal::SubjectMismatch));
        }
        let has_mfa = before.mfa_secret_sealed.is_some();
        let mut changed = serde_json::Map::new();
        let role_changed = note_change(&mut changed, "role", &before.role, identity.role.as_str());
        note_change(&mut changed, "name", &before.name, identity.name.as_str());
        note_change(&mut changed, "email", &before.email, identity.email.as_str());
        let activated = before.status == UserStatus::Invited;
        let linked_now = before.sso_subject.is_none();
        let id = before.id.clone();
        let mut row: users::ActiveModel = before.into();
        row.role = Set(identity.role.as_str().to_owned());
        row.name = Set(identity.name.as_str().to_owned());
        row.email = Set(identity.email.as_str().to_owned());
        row.status = Set(UserStatus::Active);
        row.sso_subject = Set(Some(identity.subject.clone()));
        let user = if changed.is_empty() && !activated && !linked_now {
            User::try_from(users::Entity::find_by_id(id.as_str()).one(&txn).await?.ok_or(StoreError::NotFound)?)?
        } else {
            row.updated_at = Set(now());
            User::try_from(row.update(&txn).await?)?
        };
        if activated {
            user_invites::Entity::delete_many().filter(user_invites::Column::UserId.eq(id.as_str())).exec(&txn).await?;
        }
        if !changed.is_empty() || activated || linked_now {
            let details = json!({"via": "sso", "changed": changed, "linked": linked_now, "activated": activated});
            self.append_audit(&txn, scope, audit("user.updated", "sso".to_owned(), &id, details)).await?;
        }
        if role_changed {
            // Their tokens never act above the new role: checked on every use.
            tracing::info!(
                user_id = id.as_str(),
                role = identity.role.as_str(),
                "role changed by the identity provider"
            );
        }
        txn.commit().await?;
        Ok(Ok(SsoUser { user, has_mfa }))
    }

    async fn provision(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        scope: &TenantScope,
        identity: &SsoIdentity,
    ) -> Result<User, StoreError> {
        let at = now();
        let row = users::ActiveModel {
            id: Set(ids::new_id()),
            tenant_id: Set(scope.tenant_id().to_owned()),
            email: Set(identity.email.as_str().to_owned()),
            email_key: Set(identity.email.key().to_owned()),
            name: Set(identity.name.as_str().to_owned()),
            role: Set(identity.role.as_str().to_owned()),
            status: Set(UserStatus::Active),
            password_hash: Set(None),
            password_changed_at: Set(None),
            last_sign_in_at: Set(None),
            created_by: Set(Some("sso".to_owned())),
            created_at: Set(at),
            updated_at: Set(at),
            mfa_secret_sealed: Set(None),
            mfa_pending_sealed: Set(None),
            mfa_enabled_at: Set(None),
            mfa_last_step: Set(None),
            sso_subject: Set(Some(identity.subject.clone())),
        }
        .insert(txn)
        .await?;
        let user = User::try_from(row)?;
        let details = json!({"email": user.email, "name": user.name, "role": user.role, "via": "sso"});
        self.append_audit(txn, scope, audit("user.provisioned", "sso".to_owned(), &user.id, details)).await?;
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
        let entry = AuditEntry {
            action: "sso.sign_in_refused",
            actor: "sso".to_owned(),
            resource_type: "tenant",
            resource_id: scope.tenant_id().to_owned(),
            connector_id: None,
            details,
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(())
    }
}
