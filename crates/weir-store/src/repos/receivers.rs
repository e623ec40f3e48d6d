//! Webhook receivers: tenant-scoped management, and the unscoped lookup by
//! key that intake uses (the key names the receiver; its method then
//! authenticates the delivery).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use serde_json::{Value, json};
use tracing::instrument;
use weir_core::{PageRequest, ids};

use super::audit::AuditEntry;
use super::{Paged, now};
use crate::entities::{connectors, webhook_receivers as wr};
use crate::{Store, StoreError, TenantScope};

/// A receiver as callers see it (never its secrets).
#[derive(Debug, Clone, PartialEq)]
pub struct Receiver {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// Owning connector.
    pub connector_id: String,
    /// The connector's code (part of the receive URL).
    pub connector_code: String,
    /// The random key in the receive URL.
    pub key: String,
    /// Display name (e.g. "Shopify orders").
    pub name: String,
    /// Event type, or `*`.
    pub event_type: String,
    /// `{"method", …options}`.
    pub auth: Value,
    /// JSON Schema the payload must satisfy.
    pub schema: Option<Value>,
    /// Accepted clock skew of timestamped methods, seconds.
    pub timestamp_tolerance_secs: i32,
    /// In service.
    pub is_active: bool,
    /// Last accepted delivery (updated once per ingest batch).
    pub last_received_at: Option<DateTime<Utc>>,
    /// Whether a previous secret is still accepted, and until when.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change (also the cache key of its compiled schema).
    pub updated_at: DateTime<Utc>,
}

/// A receiver found by its key, with what intake needs to authenticate.
#[derive(Clone)]
pub struct KeyedReceiver {
    /// The receiver.
    pub receiver: Receiver,
    /// Its tenant. Use it only after the delivery is verified.
    pub scope: TenantScope,
    /// Whether its connector is live and active.
    pub connector_active: bool,
    /// The connector's own limit (None = server default).
    pub connector_rate_limit: Option<u32>,
    /// Sealed current secret.
    pub secret_sealed: Option<Vec<u8>>,
    /// Sealed previous secret, if still within its grace period.
    pub previous_secret_sealed: Option<Vec<u8>>,
}

impl std::fmt::Debug for KeyedReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedReceiver").field("receiver", &self.receiver.id).finish_non_exhaustive()
    }
}

fn to_receiver(m: wr::Model, code: String) -> Receiver {
    Receiver {
        id: m.id,
        connector_id: m.connector_id,
        connector_code: code,
        key: m.receiver_key,
        name: m.name,
        event_type: m.event_type,
        auth: m.auth_options,
        schema: m.event_schema,
        timestamp_tolerance_secs: m.timestamp_tolerance_secs,
        is_active: m.is_active,
        last_received_at: m.last_received_at,
        previous_secret_expires_at: m.previous_secret_expires_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// A validated receiver to create.
#[derive(Debug, Clone)]
pub struct NewReceiver {
    /// Display name.
    pub name: String,
    /// Event type or `*`.
    pub event_type: String,
    /// `{"method", …}` as parsed.
    pub auth: Value,
    /// Sealed secret.
    pub secret_sealed: Vec<u8>,
    /// Optional JSON Schema (already compiled once to check it).
    pub schema: Option<Value>,
    /// Tolerance, seconds.
    pub timestamp_tolerance_secs: i32,
    /// In service.
    pub is_active: bool,
}

/// A validated change.
#[derive(Debug, Clone, Default)]
pub struct ReceiverChanges {
    /// New display name.
    pub name: Option<String>,
    /// New event type.
    pub event_type: Option<String>,
    /// New method/options (with a new sealed secret when the method changes).
    pub auth: Option<(Value, Option<Vec<u8>>)>,
    /// New schema; `Some(None)` removes it.
    pub schema: Option<Option<Value>>,
    /// New tolerance.
    pub timestamp_tolerance_secs: Option<i32>,
    /// In or out of service.
    pub is_active: Option<bool>,
}

fn live(scope: &TenantScope) -> sea_orm::Select<wr::Entity> {
    wr::Entity::find().filter(wr::Column::TenantId.eq(scope.tenant_id())).filter(wr::Column::DeletedAt.is_null())
}

impl Store {
    async fn connector_code(&self, scope: &TenantScope, connector_id: &str) -> Result<String, StoreError> {
        Ok(self.get_connector(scope, connector_id).await?.code)
    }

    /// Creates a receiver on a live connector of the scope (else NotFound).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn create_receiver(
        &self,
        scope: &TenantScope,
        connector_id: &str,
        new: NewReceiver,
        actor: &str,
    ) -> Result<Receiver, StoreError> {
        let code = self.connector_code(scope, connector_id).await?;
        let at = now();
        let txn = self.write_txn().await?;
        let model = wr::ActiveModel {
            id: Set(ids::new_id()),
            tenant_id: Set(scope.tenant_id().to_owned()),
            connector_id: Set(connector_id.to_owned()),
            receiver_key: Set(ids::random_key(24)),
            name: Set(new.name),
            event_type: Set(new.event_type),
            auth_method: Set(new.auth["method"].as_str().unwrap_or_default().to_owned()),
            auth_options: Set(new.auth),
            secret_sealed: Set(Some(new.secret_sealed)),
            previous_secret_sealed: Set(None),
            previous_secret_expires_at: Set(None),
            event_schema: Set(new.schema),
            timestamp_tolerance_secs: Set(new.timestamp_tolerance_secs),
            is_active: Set(new.is_active),
            last_received_at: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
            deleted_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let entry = AuditEntry {
            action: "receiver.created",
            actor: actor.to_owned(),
            resource_type: "webhook_receiver",
            resource_id: model.id.clone(),
            connector_id: Some(connector_id.to_owned()),
            details: json!({"name": model.name, "event_type": model.event_type, "method": model.auth_method}),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(to_receiver(model, code))
    }

    /// One live receiver.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn get_receiver(&self, scope: &TenantScope, id: &str) -> Result<Receiver, StoreError> {
        let m = live(scope).filter(wr::Column::Id.eq(id)).one(&self.db).await?.ok_or(StoreError::NotFound)?;
        let code = connectors::Entity::find_by_id(m.connector_id.clone())
            .one(&self.db)
            .await?
            .map(|c| c.code)
            .unwrap_or_default();
        Ok(to_receiver(m, code))
    }

    /// The tenant's live receivers, newest first (optionally of one connector).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn list_receivers(
        &self,
        scope: &TenantScope,
        connector_id: Option<&str>,
        page: PageRequest,
    ) -> Result<Paged<Receiver>, StoreError> {
        let mut q = live(scope);
        if let Some(c) = connector_id {
            q = q.filter(wr::Column::ConnectorId.eq(c));
        }
        let total = q.clone().count(&self.db).await?;
        let rows = q
            .order_by_desc(wr::Column::CreatedAt)
            .order_by_desc(wr::Column::Id)
            .offset(page.offset())
            .limit(page.per_page())
            .find_also_related(connectors::Entity)
            .all(&self.db)
            .await?;
        let items = rows.into_iter().map(|(r, c)| to_receiver(r, c.map(|c| c.code).unwrap_or_default())).collect();
        Ok(Paged { items, total })
    }

    /// Applies changes (audited).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn update_receiver(
        &self,
        scope: &TenantScope,
        id: &str,
        changes: ReceiverChanges,
        actor: &str,
    ) -> Result<Receiver, StoreError> {
        let txn = self.write_txn().await?;
        let m = live(scope).filter(wr::Column::Id.eq(id)).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let connector_id = m.connector_id.clone();
        let mut am = m.into_active_model();
        let mut changed = Vec::new();
        if let Some(n) = changes.name {
            am.name = Set(n);
            changed.push("name");
        }
        if let Some(t) = changes.event_type {
            am.event_type = Set(t);
            changed.push("event_type");
        }
        if let Some((auth, secret)) = changes.auth {
            am.auth_method = Set(auth["method"].as_str().unwrap_or_default().to_owned());
            am.auth_options = Set(auth);
            if let Some(s) = secret {
                am.secret_sealed = Set(Some(s));
                am.previous_secret_sealed = Set(None);
                am.previous_secret_expires_at = Set(None);
            }
            changed.push("auth");
        }
        if let Some(s) = changes.schema {
            am.event_schema = Set(s);
            changed.push("schema");
        }
        if let Some(t) = changes.timestamp_tolerance_secs {
            am.timestamp_tolerance_secs = Set(t);
            changed.push("timestamp_tolerance_secs");
        }
        if let Some(a) = changes.is_active {
            am.is_active = Set(a);
            changed.push("is_active");
        }
        am.updated_at = Set(now());
        let updated = am.update(&txn).await?;
        let entry = AuditEntry {
            action: "receiver.updated",
            actor: actor.to_owned(),
            resource_type: "webhook_receiver",
            resource_id: id.to_owned(),
            connector_id: Some(connector_id.clone()),
            details: json!({"changed": changed}),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        let code = self.connector_code(scope, &connector_id).await.unwrap_or_default();
        Ok(to_receiver(updated, code))
    }

    /// Replaces the secret; the old one stays valid until `old_valid_until`
    /// (None: at once).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn rotate_receiver_secret(
        &self,
        scope: &TenantScope,
        id: &str,
        new_sealed: Vec<u8>,
        old_valid_until: Option<DateTime<Utc>>,
        actor: &str,
    ) -> Result<Receiver, StoreError> {
        let txn = self.write_txn().await?;
        let m = live(scope).filter(wr::Column::Id.eq(id)).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let connector_id = m.connector_id.clone();
        let old = m.secret_sealed.clone();
        let mut am = m.into_active_model();
        am.secret_sealed = Set(Some(new_sealed));
        am.previous_secret_sealed = Set(old_valid_until.and(old));
        am.previous_secret_expires_at = Set(old_valid_until);
        am.updated_at = Set(now());
        let updated = am.update(&txn).await?;
        let entry = AuditEntry {
            action: "receiver.secret_rotated",
            actor: actor.to_owned(),
            resource_type: "webhook_receiver",
            resource_id: id.to_owned(),
            connector_id: Some(connector_id.clone()),
            details: json!({"old_secret_valid_until": old_valid_until}),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        let code = self.connector_code(scope, &connector_id).await.unwrap_or_default();
        Ok(to_receiver(updated, code))
    }

    /// Soft-deletes a receiver (its URL then answers 404).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn delete_receiver(&self, scope: &TenantScope, id: &str, actor: &str) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let at = now();
        let m = live(scope).filter(wr::Column::Id.eq(id)).one(&txn).await?.ok_or(StoreError::NotFound)?;
        wr::Entity::update_many()
            .col_expr(wr::Column::DeletedAt, Expr::value(at))
            .col_expr(wr::Column::IsActive, Expr::value(false))
            .col_expr(wr::Column::UpdatedAt, Expr::value(at))
            .filter(wr::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        let entry = AuditEntry {
            action: "receiver.deleted",
            actor: actor.to_owned(),
            resource_type: "webhook_receiver",
            resource_id: id.to_owned(),
            connector_id: Some(m.connector_id),
            details: json!({}),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Intake's lookup: a live (not deleted) receiver by key, with its
    /// connector's state and its sealed secrets.
    #[instrument(skip_all)]
    pub async fn receiver_by_key(&self, key: &str) -> Result<Option<KeyedReceiver>, StoreError> {
        let Some((m, c)) = wr::Entity::find()
            .filter(wr::Column::ReceiverKey.eq(key))
            .filter(wr::Column::DeletedAt.is_null())
            .find_also_related(connectors::Entity)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let Some(c) = c else { return Ok(None) };
        let at = now();
        let previous = match (m.previous_secret_sealed.clone(), m.previous_secret_expires_at) {
            (Some(s), Some(until)) if until > at => Some(s),
            _ => None,
        };
        Ok(Some(KeyedReceiver {
            scope: TenantScope::new(m.tenant_id.clone()),
            connector_active: c.is_active && c.deleted_at.is_none(),
            connector_rate_limit: c.rate_limit_per_minute.and_then(|v| u32::try_from(v).ok()),
            secret_sealed: m.secret_sealed.clone(),
            previous_secret_sealed: previous,
            receiver: to_receiver(m, c.code),
        }))
    }
}
