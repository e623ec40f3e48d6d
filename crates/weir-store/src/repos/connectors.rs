//! Connectors (TASK-015): tenant-scoped find, list with filters and counts,
//! create, update, soft delete — each write with its audit entry in the same
//! transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{Value, json};
use tracing::instrument;
use weir_core::{ConnectorCode, ConnectorConfig, ConnectorType, Environment, PageRequest, Trigger, ids};

use super::audit::AuditEntry;
use super::{Paged, now};
use crate::entities::{connectors, sync_configurations, webhook_receivers};
use crate::{Store, StoreError, TenantScope};

/// A connector as callers see it (never its credentials).
#[derive(Debug, Clone, PartialEq)]
pub struct Connector {
    /// Row id.
    pub id: String,
    /// Unique (per tenant, among live connectors) code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// `http` or `webhook`.
    pub connector_type: ConnectorType,
    /// Where it runs.
    pub environment: Environment,
    /// Whether it is in service.
    pub is_active: bool,
    /// Non-secret configuration.
    pub config: Value,
    /// Whether sealed credentials are stored.
    pub has_credentials: bool,
    /// Receive-endpoint limit; `None` = server default.
    pub rate_limit_per_minute: Option<u32>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Live webhook receivers.
    pub receivers_count: u64,
    /// Live sync configurations.
    pub sync_configurations_count: u64,
}

/// A connector's sealed credentials, for the code that talks to it.
#[derive(Clone)]
pub struct SealedCredentials(pub Vec<u8>);

impl std::fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedCredentials(<sealed>)")
    }
}

fn parse_enum<T: std::str::FromStr>(column: &str, v: &str) -> Result<T, StoreError> {
    v.parse().map_err(|_| StoreError::Database(sea_orm::DbErr::Type(format!("bad {column} {v:?} in connectors"))))
}

impl TryFrom<connectors::Model> for Connector {
    type Error = StoreError;

    fn try_from(m: connectors::Model) -> Result<Self, StoreError> {
        Ok(Self {
            connector_type: parse_enum("connector_type", &m.connector_type)?,
            environment: parse_enum("environment", &m.environment)?,
            id: m.id,
            code: m.code,
            name: m.name,
            is_active: m.is_active,
            config: m.config,
            has_credentials: m.credentials_sealed.is_some(),
            rate_limit_per_minute: m.rate_limit_per_minute.and_then(|v| u32::try_from(v).ok()),
            created_at: m.created_at,
            updated_at: m.updated_at,
            receivers_count: 0,
            sync_configurations_count: 0,
        })
    }
}

/// A validated connector to create.
#[derive(Debug, Clone)]
pub struct NewConnector {
    /// Code.
    pub code: ConnectorCode,
    /// Display name, as given.
    pub name: String,
    /// Type.
    pub connector_type: ConnectorType,
    /// Environment.
    pub environment: Environment,
    /// In service.
    pub is_active: bool,
    /// Configuration.
    pub config: ConnectorConfig,
    /// Sealed credentials, if any.
    pub credentials: Option<SealedCredentials>,
    /// Receive limit.
    pub rate_limit_per_minute: Option<u32>,
}

/// A validated change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ConnectorChanges {
    /// New name.
    pub name: Option<String>,
    /// New environment.
    pub environment: Option<Environment>,
    /// New state.
    pub is_active: Option<bool>,
    /// New configuration.
    pub config: Option<ConnectorConfig>,
    /// `Some(None)` clears the credentials; `Some(Some(_))` replaces them.
    pub credentials: Option<Option<SealedCredentials>>,
    /// `Some(None)` returns to the server default.
    pub rate_limit_per_minute: Option<Option<u32>>,
}

impl ConnectorChanges {
    /// Names of the fields this change touches (for audit and messages).
    pub fn fields(&self) -> Vec<&'static str> {
        let mut f = Vec::new();
        if self.name.is_some() {
            f.push("name");
        }
        if self.environment.is_some() {
            f.push("environment");
        }
        if self.is_active.is_some() {
            f.push("is_active");
        }
        if self.config.is_some() {
            f.push("config");
        }
        if self.credentials.is_some() {
            f.push("credentials");
        }
        if self.rate_limit_per_minute.is_some() {
            f.push("rate_limit_per_minute");
        }
        f
    }

    /// The form a change request stores: plain fields and `config` with
    /// their new values, credentials only as `"replaced"`/`"cleared"` (the
    /// sealed bytes travel separately).
    pub fn to_request_json(&self) -> Value {
        let mut d = serde_json::Map::new();
        if let Some(n) = &self.name {
            d.insert("name".into(), json!(n));
        }
        if let Some(e) = self.environment {
            d.insert("environment".into(), json!(e.as_str()));
        }
        if let Some(a) = self.is_active {
            d.insert("is_active".into(), json!(a));
        }
        if let Some(c) = &self.config {
            d.insert("config".into(), c.to_json());
        }
        if let Some(c) = &self.credentials {
            d.insert("credentials".into(), json!(if c.is_some() { "replaced" } else { "cleared" }));
        }
        if let Some(r) = self.rate_limit_per_minute {
            d.insert("rate_limit_per_minute".into(), json!(r));
        }
        Value::Object(d)
    }

    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.fields().is_empty()
    }

    /// The non-secret part for an audit entry: field names and the new
    /// values of plain fields (the request form without `config`, whose
    /// headers may be long; credentials only as `"replaced"`/`"cleared"`).
    pub fn audit_details(&self) -> Value {
        let mut d = match self.to_request_json() {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        d.remove("config");
        d.insert("changed".into(), json!(self.fields()));
        Value::Object(d)
    }
}

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct ConnectorFilter {
    /// `Some(true)` active only, `Some(false)` inactive only.
    pub is_active: Option<bool>,
    /// Only this type.
    pub connector_type: Option<ConnectorType>,
    /// Case-insensitive substring of code or name.
    pub q: Option<String>,
}

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

    /// Records a connection test in the audit trail.
    pub async fn audit_connection_test(
        &self,
        scope: &TenantScope,
        connector_id: &str,
        actor: &str,
        details: Value,
    ) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let entry = AuditEntry {
            action: "connector.tested",
            actor: actor.to_owned(),
            resource_type: "connector",
            resource_id: connector_id.to_owned(),
            connector_id: Some(connector_id.to_owned()),
            details,
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(())
    }
}
