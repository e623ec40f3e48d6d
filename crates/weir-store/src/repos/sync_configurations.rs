//! Sync configurations: tenant-scoped CRUD (soft delete), and the routing
//! lookup the workers use — a connector's active `webhook` configurations
//! with their mappings.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};
use tracing::instrument;
use weir_core::{Direction, PageRequest, Trigger, ids};

use super::audit::AuditEntry;
use super::{Paged, now, paged};
use crate::entities::{field_mappings as fm, sync_configurations as sc};
use crate::{Store, StoreError, TenantScope};

/// A sync configuration as the API shows it (the destination secret never).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncConfiguration {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// The connector it belongs to.
    pub connector_id: String,
    /// Display name, as given.
    pub name: String,
    /// Which way records move.
    pub direction: Direction,
    /// Record type.
    pub entity_type: String,
    /// Mapping applied to each payload or record.
    pub field_mapping_id: Option<String>,
    /// What starts a run.
    pub trigger: Trigger,
    /// Event types routed here (`webhook` trigger).
    pub event_types: Vec<String>,
    /// Cron schedule (`schedule` trigger).
    pub schedule: Option<String>,
    /// Where inbound runs read.
    pub source: Option<Value>,
    /// Where records go.
    pub destination: Option<Value>,
    /// Whether the destination has a signing secret.
    pub has_destination_secret: bool,
    /// Mapped field ordering a record's versions.
    pub ordering_field: Option<String>,
    /// Whether it runs.
    pub is_active: bool,
    /// Next scheduled run.
    pub next_run_at: Option<DateTime<Utc>>,
    /// Last run start.
    pub last_run_at: Option<DateTime<Utc>>,
    /// Last successful run.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

fn event_types_of(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

impl From<sc::Model> for SyncConfiguration {
    fn from(m: sc::Model) -> Self {
        Self {
            event_types: event_types_of(&m.event_types),
            id: m.id,
            connector_id: m.connector_id,
            name: m.name,
            direction: m.direction,
            entity_type: m.entity_type,
            field_mapping_id: m.field_mapping_id,
            trigger: m.trigger_type,
            schedule: m.schedule,
            source: m.source,
            destination: m.destination,
            has_destination_secret: m.destination_secret_sealed.is_some(),
            ordering_field: m.ordering_field,
            is_active: m.is_active,
            next_run_at: m.next_run_at,
            last_run_at: m.last_run_at,
            last_success_at: m.last_success_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A validated configuration to create, or to replace one with.
#[derive(Debug, Clone)]
pub struct SyncConfigurationSpec {
    /// Connector (checked to be the tenant's by the caller).
    pub connector_id: String,
    /// Display name, as given.
    pub name: String,
    /// Which way records move.
    pub direction: Direction,
    /// Record type.
    pub entity_type: String,
    /// Mapping (checked to be the tenant's by the caller).
    pub field_mapping_id: Option<String>,
    /// What starts a run.
    pub trigger: Trigger,
    /// Event types.
    pub event_types: Vec<String>,
    /// Cron schedule.
    pub schedule: Option<String>,
    /// First due time of the schedule.
    pub next_run_at: Option<DateTime<Utc>>,
    /// Inbound: where and how pages are fetched (JSON, as validated by the API).
    pub source: Option<Value>,
    /// Outbound or forwarding: where records are pushed (JSON; never its secret).
    pub destination: Option<Value>,
    /// A new sealed destination secret; `None` keeps the current one
    /// (and on create, means none).
    pub destination_secret_sealed: Option<Vec<u8>>,
    /// Ordering field.
    pub ordering_field: Option<String>,
    /// `false` pauses its schedule and webhook routing.
    pub is_active: bool,
}

/// Where a connector's webhook events of some types go: a configuration,
/// its mapping and its destination, as the workers need them.
#[derive(Debug, Clone)]
pub struct WebhookRoute {
    /// Configuration id.
    pub sync_configuration_id: String,
    /// Event types it takes.
    pub event_types: Vec<String>,
    /// Record type written.
    pub entity_type: String,
    /// The mapping's rules, as stored.
    pub rules: Value,
    /// The mapping's key target.
    pub key: String,
    /// Ordering field.
    pub ordering_field: Option<String>,
    /// HTTP destination (`{"url", "timeout_ms"}`), if any.
    pub destination: Option<Value>,
    /// Its sealed signing secret.
    pub destination_secret_sealed: Option<Vec<u8>>,
}

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct SyncConfigurationFilter {
    /// Only those of this connector.
    pub connector_id: Option<String>,
    /// Only configurations started this way.
    pub trigger: Option<Trigger>,
    /// Active or not.
    pub is_active: Option<bool>,
}

fn live(scope: &TenantScope) -> sea_orm::Select<sc::Entity> {
    sc::Entity::find().filter(sc::Column::TenantId.eq(scope.tenant_id())).filter(sc::Column::DeletedAt.is_null())
}

fn audit(action: &'static str, actor: &str, m: &sc::Model) -> AuditEntry {
    AuditEntry {
        action,
        actor: actor.to_owned(),
        resource_type: "sync_configuration",
        resource_id: m.id.clone(),
        connector_id: Some(m.connector_id.clone()),
        details: json!({
            "name": m.name, "direction": m.direction, "trigger": m.trigger_type,
            "entity_type": m.entity_type, "field_mapping_id": m.field_mapping_id,
            "event_types": m.event_types, "schedule": m.schedule, "is_active": m.is_active,
            "destination": m.destination,
        }),
    }
}

impl Store {
    /// Creates a configuration.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn create_sync_configuration(
        &self,
        scope: &TenantScope,
        spec: SyncConfigurationSpec,
        actor: &str,
    ) -> Result<SyncConfiguration, StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        let m = sc::ActiveModel {
            id: Set(ids::new_id()),
            tenant_id: Set(scope.tenant_id().to_owned()),
            connector_id: Set(spec.connector_id),
            name: Set(spec.name),
            direction: Set(spec.direction),
            entity_type: Set(spec.entity_type),
            field_mapping_id: Set(spec.field_mapping_id),
            trigger_type: Set(spec.trigger),
            event_types: Set(json!(spec.event_types)),
            schedule: Set(spec.schedule),
            source: Set(spec.source),
            destination: Set(spec.destination),
            is_active: Set(spec.is_active),
            next_run_at: Set(spec.next_run_at),
            last_run_at: Set(None),
            last_success_at: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
            deleted_at: Set(None),
            destination_secret_sealed: Set(spec.destination_secret_sealed),
            ordering_field: Set(spec.ordering_field),
        }
        .insert(&txn)
        .await?;
        self.append_audit(&txn, scope, audit("sync_configuration.created", actor, &m)).await?;
        txn.commit().await?;
        Ok(m.into())
    }

    /// One live configuration.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn get_sync_configuration(&self, scope: &TenantScope, id: &str) -> Result<SyncConfiguration, StoreError> {
        live(scope).filter(sc::Column::Id.eq(id)).one(&self.db).await?.map(Into::into).ok_or(StoreError::NotFound)
    }

    /// The tenant's live configurations, oldest first.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn list_sync_configurations(
        &self,
        scope: &TenantScope,
        filter: &SyncConfigurationFilter,
        page: PageRequest,
    ) -> Result<Paged<SyncConfiguration>, StoreError> {
        let mut q = live(scope);
        if let Some(c) = &filter.connector_id {
            q = q.filter(sc::Column::ConnectorId.eq(c.as_str()));
        }
        if let Some(t) = &filter.trigger {
            q = q.filter(sc::Column::TriggerType.eq(*t));
        }
        if let Some(a) = filter.is_active {
            q = q.filter(sc::Column::IsActive.eq(a));
        }
        paged(&self.db, q.order_by_asc(sc::Column::CreatedAt).order_by_asc(sc::Column::Id), page).await
    }

    /// Replaces a configuration's settings (the secret only if a new one is given).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn update_sync_configuration(
        &self,
        scope: &TenantScope,
        id: &str,
        spec: SyncConfigurationSpec,
        actor: &str,
    ) -> Result<SyncConfiguration, StoreError> {
        let txn = self.write_txn().await?;
        let m = live(scope).filter(sc::Column::Id.eq(id)).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let mut am = m.into_active_model();
        am.connector_id = Set(spec.connector_id);
        am.name = Set(spec.name);
        am.direction = Set(spec.direction);
        am.entity_type = Set(spec.entity_type);
        am.field_mapping_id = Set(spec.field_mapping_id);
        am.trigger_type = Set(spec.trigger);
        am.event_types = Set(json!(spec.event_types));
        am.schedule = Set(spec.schedule);
        am.next_run_at = Set(spec.next_run_at);
        am.source = Set(spec.source);
        if spec.destination.is_none() {
            am.destination_secret_sealed = Set(None);
        } else if let Some(sealed) = spec.destination_secret_sealed {
            am.destination_secret_sealed = Set(Some(sealed));
        }
        am.destination = Set(spec.destination);
        am.ordering_field = Set(spec.ordering_field);
        am.is_active = Set(spec.is_active);
        am.updated_at = Set(now());
        let m = am.update(&txn).await?;
        self.append_audit(&txn, scope, audit("sync_configuration.updated", actor, &m)).await?;
        txn.commit().await?;
        Ok(m.into())
    }

    /// Soft-deletes a configuration: it stops routing and running at once.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn delete_sync_configuration(
        &self,
        scope: &TenantScope,
        id: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let m = live(scope).filter(sc::Column::Id.eq(id)).one(&txn).await?.ok_or(StoreError::NotFound)?;
        let at = now();
        let mut am = m.into_active_model();
        am.is_active = Set(false);
        am.deleted_at = Set(Some(at));
        am.updated_at = Set(at);
        let m = am.update(&txn).await?;
        self.append_audit(&txn, scope, audit("sync_configuration.deleted", actor, &m)).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The active, live `webhook` configurations of a connector, with their
    /// mappings (the workers' routing table).
    pub async fn webhook_routes(
        &self,
        scope: &TenantScope,
        connector_id: &str,
    ) -> Result<Vec<WebhookRoute>, StoreError> {
        self.webhook_routes_on(&self.db, scope, connector_id).await
    }

    /// [`Store::webhook_routes`] on `conn` (one query each for
    /// configurations and mappings).
    pub async fn webhook_routes_on<C: ConnectionTrait>(
        &self,
        conn: &C,
        scope: &TenantScope,
        connector_id: &str,
    ) -> Result<Vec<WebhookRoute>, StoreError> {
        let configs = live(scope)
            .filter(sc::Column::ConnectorId.eq(connector_id))
            .filter(sc::Column::TriggerType.eq(Trigger::Webhook))
            .filter(sc::Column::IsActive.eq(true))
            .order_by_asc(sc::Column::CreatedAt)
            .all(conn)
            .await?;
        let mapping_ids: Vec<String> = configs.iter().filter_map(|c| c.field_mapping_id.clone()).collect();
        let mappings = if mapping_ids.is_empty() {
            Vec::new()
        } else {
            fm::Entity::find()
                .filter(fm::Column::TenantId.eq(scope.tenant_id()))
                .filter(fm::Column::Id.is_in(mapping_ids))
                .all(conn)
                .await?
        };
        Ok(configs
            .into_iter()
            .filter_map(|c| {
                let mapping = mappings.iter().find(|m| Some(&m.id) == c.field_mapping_id.as_ref())?;
                Some(WebhookRoute {
                    event_types: event_types_of(&c.event_types),
                    sync_configuration_id: c.id,
                    entity_type: c.entity_type,
                    rules: mapping.rules.clone(),
                    key: mapping.key_field.clone(),
                    ordering_field: c.ordering_field,
                    destination: c.destination,
                    destination_secret_sealed: c.destination_secret_sealed,
                })
            })
            .collect())
    }
}
