//! Tenants: created and listed by the system token only.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, Set};
use tracing::instrument;
use weir_core::{PageRequest, TenantName, TenantSlug, ids};

use super::{Paged, now, paged};
use crate::entities::tenants;
use crate::{Store, StoreError, SystemScope, TenantScope};

/// A tenant as callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Row id.
    pub id: String,
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Inactive tenants' tokens are refused.
    pub is_active: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<tenants::Model> for Tenant {
    fn from(m: tenants::Model) -> Self {
        Self { id: m.id, slug: m.slug, name: m.name, is_active: m.is_active, created_at: m.created_at }
    }
}

/// A validated request to create a tenant.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// Unique slug.
    pub slug: TenantSlug,
    /// Display name.
    pub name: TenantName,
}

impl Store {
    /// Creates a tenant; a taken slug is `Conflict(TenantSlugTaken)`.
    #[instrument(skip_all, fields(slug = %new.slug))]
    pub async fn create_tenant(&self, _cap: &SystemScope, new: NewTenant) -> Result<Tenant, StoreError> {
        let at = now();
        let model = tenants::ActiveModel {
            id: Set(ids::new_id()),
            slug: Set(new.slug.as_str().to_owned()),
            name: Set(new.name.as_str().to_owned()),
            is_active: Set(true),
            created_at: Set(at),
            updated_at: Set(at),
            mfa_required_for_admins: Set(false),
        }
        .insert(&self.db)
        .await?;
        Ok(model.into())
    }

    /// Lists tenants, newest first.
    #[instrument(skip_all)]
    pub async fn list_tenants(&self, _cap: &SystemScope, page: PageRequest) -> Result<Paged<Tenant>, StoreError> {
        let query = tenants::Entity::find();
        paged(&self.db, query.order_by_desc(tenants::Column::CreatedAt).order_by_desc(tenants::Column::Id), page).await
    }

    /// One tenant by id.
    #[instrument(skip_all)]
    pub async fn get_tenant(&self, _cap: &SystemScope, id: &str) -> Result<Tenant, StoreError> {
        tenants::Entity::find_by_id(id.to_owned()).one(&self.db).await?.map(Tenant::from).ok_or(StoreError::NotFound)
    }

    /// One tenant by slug.
    #[instrument(skip_all)]
    pub async fn get_tenant_by_slug(&self, _cap: &SystemScope, slug: &str) -> Result<Tenant, StoreError> {
        use sea_orm::{ColumnTrait, QueryFilter};
        tenants::Entity::find()
            .filter(tenants::Column::Slug.eq(slug))
            .one(&self.db)
            .await?
            .map(Tenant::from)
            .ok_or(StoreError::NotFound)
    }

    /// The system token's way into one tenant: a scope for an existing
    /// tenant (e.g. to issue its first admin token).
    pub async fn tenant_scope(&self, cap: &SystemScope, tenant_id: &str) -> Result<TenantScope, StoreError> {
        let tenant = self.get_tenant(cap, tenant_id).await?;
        Ok(TenantScope::new(tenant.id))
    }

    /// The caller's own tenant.
    pub async fn own_tenant(&self, scope: &TenantScope) -> Result<Tenant, StoreError> {
        tenants::Entity::find_by_id(scope.tenant_id())
            .one(&self.db)
            .await?
            .map(Tenant::from)
            .ok_or(StoreError::NotFound)
    }
}
