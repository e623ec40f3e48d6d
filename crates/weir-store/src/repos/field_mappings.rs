//! Field mappings: tenant-scoped CRUD (rules are validated by the caller
//! with `weir_core::mapping::Mapping::parse` before they get here).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};
use tracing::instrument;
use weir_core::{PageRequest, ids};

use super::audit::AuditEntry;
use super::{Paged, now, paged};
use crate::entities::{field_mappings as fm, sync_configurations as sc};
use crate::{Store, StoreError, TenantScope};

/// A field mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMapping {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// Unique (per tenant) name.
    pub name: String,
    /// The record type it produces.
    pub entity_type: String,
    /// The target field that identifies a record.
    pub key: String,
    /// The rules, as stored.
    pub rules: Value,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<fm::Model> for FieldMapping {
    fn from(m: fm::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            entity_type: m.entity_type,
            key: m.key_field,
            rules: m.rules,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A validated mapping to create or to replace one with.
#[derive(Debug, Clone)]
pub struct MappingSpec {
    /// Display name, as given.
    pub name: String,
    /// Record type.
    pub entity_type: String,
    /// Key target.
    pub key: String,
    /// Validated rules.
    pub rules: Value,
}

fn of(scope: &TenantScope) -> sea_orm::Select<fm::Entity> {
    fm::Entity::find().filter(fm::Column::TenantId.eq(scope.tenant_id()))
}

impl Store {
    /// Creates a mapping; a taken name is `Conflict(FieldMappingNameTaken)`.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn create_field_mapping(
        &self,
        scope: &TenantScope,
        spec: MappingSpec,
        actor: &str,
    ) -> Result<FieldMapping, StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        let m = fm::ActiveModel {
            id: Set(ids::new_id()),
            tenant_id: Set(scope.tenant_id().to_owned()),
            name: Set(spec.name),
            entity_type: Set(spec.entity_type),
            key_field: Set(spec.key),
            rules: Set(spec.rules),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(&txn)
        .await?;
        let entry = AuditEntry {
            action: "field_mapping.created",
            actor: actor.to_owned(),
            resource_type: "field_mapping",
            resource_id: m.id.clone(),
            connector_id: None,
            details: json!({"name": m.name, "entity_type": m.entity_type}),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(m.into())
    }

    /// One mapping.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn get_field_mapping(&self, scope: &TenantScope, id: &str) -> Result<FieldMapping, StoreError> {
        of(scope).filter(fm::Column::Id.eq(id)).one(&self.db).await?.map(FieldMapping::from).ok_or(StoreError::NotFound)
    }

    /// The tenant's mappings by name (optionally of one entity type).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn list_field_mappings(
        &self,
        scope: &TenantScope,
        entity_type: Option<&str>,
        page: PageRequest,
    ) -> Result<Paged<FieldMapping>, StoreError> {
        let mut q = of(scope);
        if let Some(t) = entity_type {
            q = q.filter(fm::Column::EntityType.eq(t));
        }
        paged(&self.db, q.order_by_asc(fm::Column::Name), page).await
    }

    /// Replaces a mapping's name, entity type, key and rules.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn update_field_mapping(
        &self,
        scope: &TenantScope,
        id: &str,
        spec: MappingSpec,
        actor: &str,
    ) -> Result<FieldMapping, StoreError> {
        let txn = self.write_txn().await?;
        let m = of(scope).filter(fm::Column::Id.eq(id)).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let mut am = m.into_active_model();
        am.name = Set(spec.name);
        am.entity_type = Set(spec.entity_type);
        am.key_field = Set(spec.key);
        am.rules = Set(spec.rules);
        am.updated_at = Set(now());
        let m = am.update(&txn).await?;
        let entry = AuditEntry {
            action: "field_mapping.updated",
            actor: actor.to_owned(),
            resource_type: "field_mapping",
            resource_id: m.id.clone(),
            connector_id: None,
            details: json!({"name": m.name, "entity_type": m.entity_type}),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(m.into())
    }

    /// Deletes a mapping no live sync configuration uses
    /// (`StateConflict` otherwise).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn delete_field_mapping(&self, scope: &TenantScope, id: &str, actor: &str) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let m = of(scope).filter(fm::Column::Id.eq(id)).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let used = sc::Entity::find()
            .filter(sc::Column::TenantId.eq(scope.tenant_id()))
            .filter(sc::Column::FieldMappingId.eq(id))
            .filter(sc::Column::DeletedAt.is_null())
            .count(&txn)
            .await?;
        if used > 0 {
            return Err(StoreError::StateConflict("a sync configuration uses this field mapping"));
        }
        // Deleted configurations keep their row (audit, history) but let go
        // of the mapping, so the foreign key allows the delete.
        sc::Entity::update_many()
            .col_expr(sc::Column::FieldMappingId, Expr::value(Option::<String>::None))
            .filter(sc::Column::TenantId.eq(scope.tenant_id()))
            .filter(sc::Column::FieldMappingId.eq(id))
            .filter(sc::Column::DeletedAt.is_not_null())
            .exec(&txn)
            .await?;
        fm::Entity::delete_by_id(m.id.clone()).exec(&txn).await?;
        let entry = AuditEntry {
            action: "field_mapping.deleted",
            actor: actor.to_owned(),
            resource_type: "field_mapping",
            resource_id: m.id,
            connector_id: None,
            details: json!({"name": m.name}),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(())
    }
}
