//! Connectors (TASK-015): tenant-scoped find, list with filters and counts,
//! create, update, soft delete — each write with its audit entry in the same
//! transaction. The types are in [`types`].

mod types;

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{Value, json};
use tracing::instrument;
use weir_core::{PageRequest, Trigger, ids};

pub use types::{Connector, ConnectorChanges, ConnectorFilter, NewConnector, SealedCredentials};

use super::audit::AuditEntry;
use super::{Paged, now};
use crate::entities::{connectors, sync_configurations, webhook_receivers};
use crate::{Store, StoreError, TenantScope};

#[derive(Debug, FromQueryResult)]
struct CountRow {
    connector_id: String,
    n: i64,
}

fn like_pattern(q: &str) -> String {
    let escaped = q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// The tenant's live connectors.
fn live(scope: &TenantScope) -> sea_orm::Select<connectors::Entity> {
    connectors::Entity::find()
        .filter(connectors::Column::TenantId.eq(scope.tenant_id()))
        .filter(connectors::Column::DeletedAt.is_null())
}

impl Store {
    async fn with_counts<C: ConnectionTrait>(
        &self,
        conn: &C,
        mut items: Vec<Connector>,
    ) -> Result<Vec<Connector>, StoreError> {
        if items.is_empty() {
            return Ok(items);
        }
        let ids: Vec<String> = items.iter().map(|c| c.id.clone()).collect();
        let receivers: HashMap<String, i64> = webhook_receivers::Entity::find()
            .select_only()
            .column(webhook_receivers::Column::ConnectorId)
            .column_as(Expr::col(webhook_receivers::Column::Id).count(), "n")
            .filter(webhook_receivers::Column::ConnectorId.is_in(ids.clone()))
            .filter(webhook_receivers::Column::DeletedAt.is_null())
            .group_by(webhook_receivers::Column::ConnectorId)
            .into_model::<CountRow>()
            .all(conn)
            .await?
            .into_iter()
            .map(|r| (r.connector_id, r.n))
            .collect();
        let syncs: HashMap<String, i64> = sync_configurations::Entity::find()
            .select_only()
            .column(sync_configurations::Column::ConnectorId)
            .column_as(Expr::col(sync_configurations::Column::Id).count(), "n")
            .filter(sync_configurations::Column::ConnectorId.is_in(ids))
            .filter(sync_configurations::Column::DeletedAt.is_null())
            .group_by(sync_configurations::Column::ConnectorId)
            .into_model::<CountRow>()
            .all(conn)
            .await?
            .into_iter()
            .map(|r| (r.connector_id, r.n))
            .collect();
        for c in &mut items {
            c.receivers_count = u64::try_from(receivers.get(&c.id).copied().unwrap_or(0)).unwrap_or(0);
            c.sync_configurations_count = u64::try_from(syncs.get(&c.id).copied().unwrap_or(0)).unwrap_or(0);
        }
        Ok(items)
    }

    async fn one_with_counts(&self, model: Option<connectors::Model>) -> Result<Connector, StoreError> {
        let model = model.ok_or(StoreError::NotFound)?;
        let mut v = self.with_counts(&self.db, vec![Connector::try_from(model)?]).await?;
        v.pop().ok_or(StoreError::NotFound)
    }

    /// Creates a connector; a live connector with the same code is
    /// `Conflict(ConnectorCodeTaken)`.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn create_connector(
        &self,
        scope: &TenantScope,
        new: NewConnector,
        actor: &str,
    ) -> Result<Connector, StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        let model = connectors::ActiveModel {
            id: Set(ids::new_id()),
            tenant_id: Set(scope.tenant_id().to_owned()),
            code: Set(new.code.as_str().to_owned()),
            name: Set(new.name),
            connector_type: Set(new.connector_type.as_str().to_owned()),
            environment: Set(new.environment.as_str().to_owned()),
            is_active: Set(new.is_active),
            config: Set(new.config.to_json()),
            credentials_sealed: Set(new.credentials.map(|c| c.0)),
            rate_limit_per_minute: Set(new.rate_limit_per_minute.map(|v| v as i32)),
            created_at: Set(at),
            updated_at: Set(at),
            deleted_at: Set(None),
            consecutive_failures: Set(0),
            last_activity_at: Set(None),
            last_activity_failed: Set(false),
        }
        .insert(&txn)
        .await?;
        let details = json!({
            "code": model.code, "name": model.name, "type": model.connector_type,
            "environment": model.environment, "is_active": model.is_active,
            "has_credentials": model.credentials_sealed.is_some(),
        });
        let entry = AuditEntry {
            action: "connector.created",
            actor: actor.to_owned(),
            resource_type: "connector",
            resource_id: model.id.clone(),
            connector_id: Some(model.id.clone()),
            details,
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Connector::try_from(model)
    }

    /// One live connector by id.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn get_connector(&self, scope: &TenantScope, id: &str) -> Result<Connector, StoreError> {
        let model = live(scope).filter(connectors::Column::Id.eq(id)).one(&self.db).await?;
        self.one_with_counts(model).await
    }

    /// One live connector by code.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn get_connector_by_code(&self, scope: &TenantScope, code: &str) -> Result<Connector, StoreError> {
        let model = live(scope).filter(connectors::Column::Code.eq(code)).one(&self.db).await?;
        self.one_with_counts(model).await
    }

    /// A live connector's sealed credentials (`None` when it has none).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn connector_credentials(
        &self,
        scope: &TenantScope,
        id: &str,
    ) -> Result<Option<SealedCredentials>, StoreError> {
        let model =
            live(scope).filter(connectors::Column::Id.eq(id)).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        Ok(model.credentials_sealed.map(SealedCredentials))
    }

    /// The tenant's live connectors, newest first, with receiver and sync
    /// configuration counts (three queries per page, whatever its size).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn list_connectors(
        &self,
        scope: &TenantScope,
        filter: &ConnectorFilter,
        page: PageRequest,
    ) -> Result<Paged<Connector>, StoreError> {
        let mut query = live(scope);
        if let Some(active) = filter.is_active {
            query = query.filter(connectors::Column::IsActive.eq(active));
        }
        if let Some(t) = filter.connector_type {
            query = query.filter(connectors::Column::ConnectorType.eq(t.as_str()));
        }
        if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
            let pattern = like_pattern(q);
            query = query.filter(
                Condition::any()
                    .add(Func::lower(Expr::col(connectors::Column::Code)).like(LikeExpr::new(&pattern).escape('\\')))
                    .add(Func::lower(Expr::col(connectors::Column::Name)).like(LikeExpr::new(&pattern).escape('\\'))),
            );
        }
        let total = query.clone().count(&self.db).await?;
        let models = query
            .order_by_desc(connectors::Column::CreatedAt)
            .order_by_desc(connectors::Column::Id)
            .offset(page.offset())
            .limit(page.per_page())
            .all(&self.db)
            .await?;
        let items = models.into_iter().map(Connector::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Paged { items: self.with_counts(&self.db, items).await?, total })
    }

    /// Applies `changes` to a live connector now (with its audit entry).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn update_connector(
        &self,
        scope: &TenantScope,
        id: &str,
        changes: ConnectorChanges,
        actor: &str,
    ) -> Result<Connector, StoreError> {
        let txn = self.write_txn().await?;
        let updated = self.apply_connector_changes(&txn, scope, id, &changes, actor, json!({})).await?;
        txn.commit().await?;
        let mut v = self.with_counts(&self.db, vec![updated]).await?;
        v.pop().ok_or(StoreError::NotFound)
    }

    /// Applies changes on `conn` and audits them as `connector.updated`
    /// (with `extra` details merged in).
    pub(crate) async fn apply_connector_changes<C: ConnectionTrait>(
        &self,
        conn: &C,
        scope: &TenantScope,
        id: &str,
        changes: &ConnectorChanges,
        actor: &str,
        extra: Value,
    ) -> Result<Connector, StoreError> {
        let model = live(scope).filter(connectors::Column::Id.eq(id)).one(conn).await?.ok_or(StoreError::NotFound)?;
        let mut am = model.into_active_model();
        if let Some(n) = &changes.name {
            am.name = Set(n.clone());
        }
        if let Some(e) = changes.environment {
            am.environment = Set(e.as_str().to_owned());
        }
        if let Some(a) = changes.is_active {
            am.is_active = Set(a);
        }
        if let Some(c) = &changes.config {
            am.config = Set(c.to_json());
        }
        if let Some(c) = &changes.credentials {
            am.credentials_sealed = Set(c.as_ref().map(|c| c.0.clone()));
        }
        if let Some(r) = changes.rate_limit_per_minute {
            am.rate_limit_per_minute = Set(r.map(|v| v as i32));
        }
        am.updated_at = Set(now());
        let updated = am.update(conn).await?;
        let mut details = changes.audit_details();
        if let (Value::Object(d), Value::Object(x)) = (&mut details, extra) {
            d.extend(x);
        }
        let entry = AuditEntry {
            action: "connector.updated",
            actor: actor.to_owned(),
            resource_type: "connector",
            resource_id: updated.id.clone(),
            connector_id: Some(updated.id.clone()),
            details,
        };
        self.append_audit(conn, scope, entry).await?;
        Connector::try_from(updated)
    }

    /// Soft-deletes a connector (BR-IC-003): refused while an active
    /// scheduled sync configuration uses it; otherwise marks it deleted and
    /// inactive (freeing its code), and takes its receivers and sync
    /// configurations out of service — all in one transaction.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn delete_connector(&self, scope: &TenantScope, id: &str, actor: &str) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let at = now();
        // Write first: on SQLite this takes the write lock before the reads.
        let res = connectors::Entity::update_many()
            .col_expr(connectors::Column::DeletedAt, Expr::value(at))
            .col_expr(connectors::Column::IsActive, Expr::value(false))
            .col_expr(connectors::Column::UpdatedAt, Expr::value(at))
            .filter(connectors::Column::TenantId.eq(scope.tenant_id()))
            .filter(connectors::Column::Id.eq(id))
            .filter(connectors::Column::DeletedAt.is_null())
            .exec(&txn)
            .await?;
        if res.rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        let blocking: Vec<(String, String)> = sync_configurations::Entity::find()
            .filter(sync_configurations::Column::TenantId.eq(scope.tenant_id()))
            .filter(sync_configurations::Column::ConnectorId.eq(id))
            .filter(sync_configurations::Column::DeletedAt.is_null())
            .filter(sync_configurations::Column::IsActive.eq(true))
            .filter(sync_configurations::Column::TriggerType.eq(Trigger::Schedule))
            .order_by_asc(sync_configurations::Column::Name)
            .all(&txn)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        if !blocking.is_empty() {
            txn.rollback().await?;
            return Err(StoreError::ConnectorInUse(blocking));
        }
        let receivers = webhook_receivers::Entity::update_many()
            .col_expr(webhook_receivers::Column::IsActive, Expr::value(false))
            .col_expr(webhook_receivers::Column::UpdatedAt, Expr::value(at))
            .filter(webhook_receivers::Column::TenantId.eq(scope.tenant_id()))
            .filter(webhook_receivers::Column::ConnectorId.eq(id))
            .filter(webhook_receivers::Column::IsActive.eq(true))
            .exec(&txn)
            .await?;
        let syncs = sync_configurations::Entity::update_many()
            .col_expr(sync_configurations::Column::IsActive, Expr::value(false))
            .col_expr(sync_configurations::Column::UpdatedAt, Expr::value(at))
            .filter(sync_configurations::Column::TenantId.eq(scope.tenant_id()))
            .filter(sync_configurations::Column::ConnectorId.eq(id))
            .filter(sync_configurations::Column::IsActive.eq(true))
            .exec(&txn)
            .await?;
        let entry = AuditEntry {
            action: "connector.deleted",
            actor: actor.to_owned(),
            resource_type: "connector",
            resource_id: id.to_owned(),
            connector_id: Some(id.to_owned()),
            details: json!({
                "receivers_deactivated": receivers.rows_affected,
                "sync_configurations_deactivated": syncs.rows_affected,
            }),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Records a connection test in the audit trail: about the connector,
    /// or, for a test of a connector not yet saved, about the tenant.
    pub async fn audit_connection_test(
        &self,
        scope: &TenantScope,
        connector_id: Option<&str>,
        actor: &str,
        details: Value,
    ) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let entry = match connector_id {
            Some(id) => AuditEntry {
                action: "connector.tested",
                actor: actor.to_owned(),
                resource_type: "connector",
                resource_id: id.to_owned(),
                connector_id: Some(id.to_owned()),
                details,
            },
            None => AuditEntry::about_tenant("connector.tested", actor.to_owned(), scope, details),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(())
    }
}
