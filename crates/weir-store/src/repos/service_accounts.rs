//! Service accounts: named, non-human owners of API tokens. Created,
//! renamed, re-roled and deactivated by admins (deactivating revokes every
//! token of the account in the same transaction); each change audited.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::json;
use tracing::instrument;
use weir_core::{ApiTokenName, PageRequest, Role, ids};

use super::audit::AuditEntry;
use super::users::{note_change, parse_role};
use super::{Paged, now};
use crate::entities::{api_tokens, service_accounts as sa};
use crate::{Store, StoreError, TenantScope};

/// The `principal_id` of a service account's tokens.
pub fn service_account_principal(id: &str) -> String {
    format!("service_account:{id}")
}

/// A service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Row id.
    pub id: String,
    /// Unique in the tenant.
    pub name: String,
    /// The most its tokens may do.
    pub role: Role,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was deactivated (its tokens revoked); `None` while active.
    pub deactivated_at: Option<DateTime<Utc>>,
}

impl TryFrom<sa::Model> for ServiceAccount {
    type Error = StoreError;

    fn try_from(m: sa::Model) -> Result<Self, StoreError> {
        Ok(Self {
            role: parse_role(&m.role)?,
            id: m.id,
            name: m.name,
            created_at: m.created_at,
            deactivated_at: m.deactivated_at,
        })
    }
}

fn sa_audit(action: &'static str, actor: &str, id: &str, details: serde_json::Value) -> AuditEntry {
    AuditEntry {
        action,
        actor: actor.to_owned(),
        resource_type: "service_account",
        resource_id: id.to_owned(),
        connector_id: None,
        details,
    }
}

impl Store {
    /// Creates a service account; a taken name is
    /// `Conflict(ServiceAccountNameTaken)`.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn create_service_account(
        &self,
        scope: &TenantScope,
        name: ApiTokenName,
        role: Role,
        actor: &str,
    ) -> Result<ServiceAccount, StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        let row = sa::ActiveModel {
            id: Set(ids::new_id()),
            tenant_id: Set(scope.tenant_id().to_owned()),
            name: Set(name.as_str().to_owned()),
            role: Set(role.as_str().to_owned()),
            created_by: Set(Some(actor.to_owned())),
            created_at: Set(at),
            updated_at: Set(at),
            deactivated_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let account = ServiceAccount::try_from(row)?;
        let details = json!({"name": account.name, "role": account.role});
        self.append_audit(&txn, scope, sa_audit("service_account.created", actor, &account.id, details)).await?;
        txn.commit().await?;
        Ok(account)
    }

    /// The tenant's service accounts, by name.
    pub async fn list_service_accounts(
        &self,
        scope: &TenantScope,
        page: PageRequest,
    ) -> Result<Paged<ServiceAccount>, StoreError> {
        let query = sa::Entity::find().filter(sa::Column::TenantId.eq(scope.tenant_id()));
        let total = query.clone().count(&self.db).await?;
        let items = query
            .order_by_asc(sa::Column::Name)
            .offset(page.offset())
            .limit(page.per_page())
            .all(&self.db)
            .await?
            .into_iter()
            .map(ServiceAccount::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Paged { items, total })
    }

    /// One of the tenant's service accounts; another tenant's is `NotFound`.
    pub async fn get_service_account(&self, scope: &TenantScope, id: &str) -> Result<ServiceAccount, StoreError> {
        sa::Entity::find_by_id(id)
            .filter(sa::Column::TenantId.eq(scope.tenant_id()))
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?
            .try_into()
    }

    /// Renames or re-roles an active account (its tokens follow the role
    /// from their next request).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn update_service_account(
        &self,
        scope: &TenantScope,
        id: &str,
        name: Option<ApiTokenName>,
        role: Option<Role>,
        actor: &str,
    ) -> Result<ServiceAccount, StoreError> {
        let txn = self.write_txn().await?;
        let before = sa::Entity::find_by_id(id)
            .filter(sa::Column::TenantId.eq(scope.tenant_id()))
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        if before.deactivated_at.is_some() {
            return Err(StoreError::StateConflict("a deactivated service account cannot be changed"));
        }
        let mut row: sa::ActiveModel = before.clone().into();
        let mut changed = serde_json::Map::new();
        if let Some(name) = name.filter(|n| note_change(&mut changed, "name", &before.name, n.as_str())) {
            row.name = Set(name.as_str().to_owned());
        }
        if let Some(role) = role.filter(|r| note_change(&mut changed, "role", &before.role, r.as_str())) {
            row.role = Set(role.as_str().to_owned());
        }
        if changed.is_empty() {
            txn.commit().await?;
            return before.try_into();
        }
        row.updated_at = Set(now());
        let account = ServiceAccount::try_from(row.update(&txn).await?)?;
        self.append_audit(&txn, scope, sa_audit("service_account.updated", actor, id, changed.into())).await?;
        txn.commit().await?;
        Ok(account)
    }

    /// Deactivates an account and revokes its tokens (idempotent).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn deactivate_service_account(
        &self,
        scope: &TenantScope,
        id: &str,
        actor: &str,
    ) -> Result<ServiceAccount, StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        let before = sa::Entity::find_by_id(id)
            .filter(sa::Column::TenantId.eq(scope.tenant_id()))
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        if before.deactivated_at.is_some() {
            txn.commit().await?;
            return before.try_into();
        }
        let mut row: sa::ActiveModel = before.into();
        row.deactivated_at = Set(Some(at));
        row.updated_at = Set(at);
        let account = ServiceAccount::try_from(row.update(&txn).await?)?;
        let revoked = api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::RevokedAt, Expr::value(at))
            .filter(api_tokens::Column::TenantId.eq(scope.tenant_id()))
            .filter(api_tokens::Column::PrincipalId.eq(service_account_principal(id)))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        let details = json!({"tokens_revoked": revoked.rows_affected});
        self.append_audit(&txn, scope, sa_audit("service_account.deactivated", actor, id, details)).await?;
        txn.commit().await?;
        Ok(account)
    }
}

/// The active account behind `principal_id` (`service_account:<id>`) in
/// `tenant_id`, if that is what it names.
pub(crate) async fn active_account<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    principal_id: &str,
) -> Result<Option<Option<sa::Model>>, StoreError> {
    let Some(id) = principal_id.strip_prefix("service_account:") else { return Ok(None) };
    let found = sa::Entity::find_by_id(id).filter(sa::Column::TenantId.eq(tenant_id)).one(db).await?;
    Ok(Some(found.filter(|a| a.deactivated_at.is_none())))
}
