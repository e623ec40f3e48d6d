//! The whole schema the plan needs, so later work fills in behaviour rather
//! than churning tables. Every tenant-owned table carries `tenant_id`, and
//! every index a query needs leads with it (ready for tenant sharding).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `id` primary key: a UUIDv7 string.
fn pk(name: &'static str) -> ColumnDef {
    string_len(name, 36).primary_key().take()
}

/// A 36-character id column (not null).
fn id_ref(name: &'static str) -> ColumnDef {
    string_len(name, 36)
}

/// A counter that starts at zero.
fn counter(name: &'static str) -> ColumnDef {
    big_integer(name).default(0).take()
}

fn fk(name: &str, from: &'static str, col: &'static str, to: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create().name(name).from(from, col).to(to, "id").take()
}

fn table(name: &'static str) -> TableCreateStatement {
    Table::create().table(name).if_not_exists().take()
}

/// Indexes, identical SQL on both engines. Unique names are the ones
/// `crate::error::CONSTRAINTS` maps to client-facing conflicts.
const INDEXES: &[&str] = &[
    "CREATE UNIQUE INDEX IF NOT EXISTS tenants_slug_key ON tenants (slug)",
    "CREATE UNIQUE INDEX IF NOT EXISTS system_tokens_hash_key ON system_tokens (token_hash)",
    "CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_hash_key ON api_tokens (token_hash)",
    "CREATE INDEX IF NOT EXISTS api_tokens_tenant_idx ON api_tokens (tenant_id, created_at)",
    // Connector codes are unique per tenant among live (not soft-deleted) rows.
    "CREATE UNIQUE INDEX IF NOT EXISTS connectors_tenant_code_key ON connectors (tenant_id, code) WHERE deleted_at IS NULL",
    "CREATE INDEX IF NOT EXISTS connectors_tenant_active_idx ON connectors (tenant_id, is_active, created_at)",
    "CREATE INDEX IF NOT EXISTS connector_change_requests_tenant_idx ON connector_change_requests (tenant_id, status, created_at)",
    "CREATE INDEX IF NOT EXISTS connector_change_requests_connector_idx ON connector_change_requests (connector_id)",
    // TASK-001: receivers by tenant and connector; the key is global.
    "CREATE UNIQUE INDEX IF NOT EXISTS webhook_receivers_key_key ON webhook_receivers (receiver_key)",
    "CREATE INDEX IF NOT EXISTS webhook_receivers_tenant_idx ON webhook_receivers (tenant_id, created_at)",
    "CREATE INDEX IF NOT EXISTS webhook_receivers_connector_idx ON webhook_receivers (connector_id)",
    // TASK-002: events by tenant, receiver, status and time; the queue claim;
    // one event per provider event id per receiver.
    "CREATE UNIQUE INDEX IF NOT EXISTS webhook_events_receiver_provider_event_key ON webhook_events (receiver_id, provider_event_id)",
    "CREATE INDEX IF NOT EXISTS webhook_events_tenant_received_idx ON webhook_events (tenant_id, received_at)",
    "CREATE INDEX IF NOT EXISTS webhook_events_tenant_status_idx ON webhook_events (tenant_id, processing_status, received_at)",
    "CREATE INDEX IF NOT EXISTS webhook_events_receiver_idx ON webhook_events (receiver_id, received_at)",
    "CREATE INDEX IF NOT EXISTS webhook_events_connector_idx ON webhook_events (connector_id, received_at)",
    "CREATE INDEX IF NOT EXISTS webhook_events_queue_idx ON webhook_events (processing_status, next_attempt_at)",
    "CREATE UNIQUE INDEX IF NOT EXISTS field_mappings_tenant_name_key ON field_mappings (tenant_id, name)",
    "CREATE INDEX IF NOT EXISTS sync_configurations_tenant_idx ON sync_configurations (tenant_id, created_at)",
    "CREATE INDEX IF NOT EXISTS sync_configurations_connector_idx ON sync_configurations (connector_id)",
    "CREATE INDEX IF NOT EXISTS sync_configurations_due_idx ON sync_configurations (is_active, next_run_at)",
    // At most one queued or running run per configuration.
    "CREATE UNIQUE INDEX IF NOT EXISTS sync_histories_one_active_key ON sync_histories (sync_configuration_id) WHERE status IN ('queued', 'running')",
    "CREATE INDEX IF NOT EXISTS sync_histories_tenant_idx ON sync_histories (tenant_id, queued_at)",
    "CREATE INDEX IF NOT EXISTS sync_histories_configuration_idx ON sync_histories (sync_configuration_id, queued_at)",
    "CREATE INDEX IF NOT EXISTS sync_histories_connector_idx ON sync_histories (connector_id, queued_at)",
    "CREATE INDEX IF NOT EXISTS sync_histories_queue_idx ON sync_histories (status, queued_at)",
    "CREATE INDEX IF NOT EXISTS sync_errors_history_idx ON sync_errors (sync_history_id, created_at)",
    "CREATE INDEX IF NOT EXISTS sync_errors_tenant_idx ON sync_errors (tenant_id, created_at)",
    "CREATE UNIQUE INDEX IF NOT EXISTS records_tenant_entity_external_key ON records (tenant_id, entity_type, external_id)",
    "CREATE INDEX IF NOT EXISTS records_tenant_entity_updated_idx ON records (tenant_id, entity_type, updated_at)",
    "CREATE UNIQUE INDEX IF NOT EXISTS audit_logs_tenant_seq_key ON audit_logs (tenant_id, seq)",
    "CREATE INDEX IF NOT EXISTS audit_logs_tenant_created_idx ON audit_logs (tenant_id, created_at)",
    "CREATE INDEX IF NOT EXISTS audit_logs_tenant_action_idx ON audit_logs (tenant_id, action, created_at)",
    "CREATE INDEX IF NOT EXISTS daily_rollups_tenant_day_idx ON daily_rollups (tenant_id, day)",
    "CREATE INDEX IF NOT EXISTS daily_error_rollups_tenant_day_idx ON daily_error_rollups (tenant_id, day)",
];

/// The tables, parents before children. One long declaration on purpose:
/// it is the shipped first schema, read as a table of columns, and a
/// migration that has run must never change.
fn tables() -> Vec<TableCreateStatement> {
    vec![
        table("tenants")
            .col(pk("id"))
            .col(string_len("slug", 63))
            .col(string_len("name", 200))
            .col(boolean("is_active").default(true))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .take(),
        // The installation's system token(s): manage tenants, nothing else.
        table("system_tokens")
            .col(pk("id"))
            .col(string_len("name", 100))
            .col(string_len("token_hash", 64))
            .col(string_len("token_hint", 32))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone_null("last_used_at"))
            .col(timestamp_with_time_zone_null("revoked_at"))
            .take(),
        table("api_tokens")
            .col(pk("id"))
            .col(id_ref("tenant_id"))
            .col(string_len("name", 100))
            .col(string_len("role", 16))
            .col(string_len("token_hash", 64))
            .col(string_len("token_hint", 32))
            .col(string_len_null("created_by", 64))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone_null("last_used_at"))
            .col(timestamp_with_time_zone_null("expires_at"))
            .col(timestamp_with_time_zone_null("revoked_at"))
            .foreign_key(&mut fk("api_tokens_tenant_fk", "api_tokens", "tenant_id", "tenants"))
            .take(),
        table("connectors")
            .col(pk("id"))
            .col(id_ref("tenant_id"))
            .col(string_len("code", 63))
            .col(string_len("name", 200))
            .col(string_len("connector_type", 32))
            .col(string_len("environment", 16))
            .col(boolean("is_active").default(true))
            .col(json_binary("config"))
            // AES-256-GCM sealed credentials (nonce || ciphertext).
            .col(blob_null("credentials_sealed"))
            .col(integer_null("rate_limit_per_minute"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .foreign_key(&mut fk("connectors_tenant_fk", "connectors", "tenant_id", "tenants"))
            .take(),
        // Production config/credential changes wait here for a second admin.
        table("connector_change_requests")
            .col(pk("id"))
            .col(id_ref("tenant_id"))
            .col(id_ref("connector_id"))
            .col(string_len("status", 16))
            .col(string_len("requested_by", 64))
            .col(json_binary("changes"))
            .col(blob_null("credentials_sealed"))
            .col(string_len_null("decided_by", 64))
            .col(timestamp_with_time_zone_null("decided_at"))
            .col(text_null("decision_note"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .foreign_key(&mut fk("ccr_tenant_fk", "connector_change_requests", "tenant_id", "tenants"))
            .foreign_key(&mut fk("ccr_connector_fk", "connector_change_requests", "connector_id", "connectors"))
            .take(),
        table("webhook_receivers")
            .col(pk("id"))
            .col(id_ref("tenant_id"))
            .col(id_ref("connector_id"))
            .col(string_len("receiver_key", 64))
            .col(string_len("event_type", 200))
            .col(string_len("auth_method", 32))
            .col(json_binary("auth_options"))
            .col(blob_null("secret_sealed"))
            .col(blob_null("previous_secret_sealed"))
            .col(timestamp_with_time_zone_null("previous_secret_expires_at"))
            .col(json_binary_null("event_schema"))
            .col(integer("timestamp_tolerance_secs").default(300))
            .col(boolean("is_active").default(true))
            .col(timestamp_with_time_zone_null("last_received_at"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .foreign_key(&mut fk("webhook_receivers_tenant_fk", "webhook_receivers", "tenant_id", "tenants"))
            .foreign_key(&mut fk("webhook_receivers_connector_fk", "webhook_receivers", "connector_id", "connectors"))
            .take(),
        // The queue (transactional outbox): pending → processing →
        // completed | failed, with attempts, backoff and an expiring lease.
        table("webhook_events")
            .col(pk("id"))
            .col(id_ref("tenant_id"))
            .col(id_ref("receiver_id"))
            .col(id_ref("connector_id"))
            .col(string_len("event_type", 200))
            .col(string_len_null("provider_event_id", 255))
            // NULL once retention has removed the payload; hash and size stay.
            .col(json_binary_null("payload"))
            .col(string_len("payload_sha256", 64))
            .col(big_integer("payload_size"))
            .col(json_binary_null("headers"))
            .col(string_len("processing_status", 16))
            .col(integer("attempts").default(0))
            .col(integer("max_attempts").default(3))
            .col(timestamp_with_time_zone("next_attempt_at"))
            .col(string_len_null("lease_owner", 64))
            .col(timestamp_with_time_zone_null("lease_expires_at"))
            .col(string_len_null("error_type", 64))
            .col(text_null("error_message"))
            .col(json_binary_null("result"))
            .col(json_binary_null("attempt_log"))
            .col(timestamp_with_time_zone("received_at"))
            .col(timestamp_with_time_zone_null("processed_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .foreign_key(&mut fk("webhook_events_tenant_fk", "webhook_events", "tenant_id", "tenants"))
            .foreign_key(&mut fk("webhook_events_receiver_fk", "webhook_events", "receiver_id", "webhook_receivers"))
            .foreign_key(&mut fk("webhook_events_connector_fk", "webhook_events", "connector_id", "connectors"))
            .take(),
        table("field_mappings")
            .col(pk("id"))
            .col(id_ref("tenant_id"))
            .col(string_len("name", 200))
            .col(string_len("entity_type", 100))
            .col(string_len("key_field", 200))
            .col(json_binary("rules"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .foreign_key(&mut fk("field_mappings_tenant_fk", "field_mappings", "tenant_id", "tenants"))
            .take(),
        table("sync_configurations")
            .col(pk("id"))
            .col(id_ref("tenant_id"))
            .col(id_ref("connector_id"))
            .col(string_len("name", 200))
            .col(string_len("direction", 16))
            .col(string_len("entity_type", 100))
            .col(string_len_null("field_mapping_id", 36))
            .col(string_len("trigger_type", 16))
            .col(json_binary("event_types"))
            .col(string_len_null("schedule", 200))
            .col(json_binary_null("source"))
            .col(json_binary_null("destination"))
            .col(boolean("is_active").default(true))
            .col(timestamp_with_time_zone_null("next_run_at"))
            .col(timestamp_with_time_zone_null("last_run_at"))
            .col(timestamp_with_time_zone_null("last_success_at"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .col(timestamp_with_time_zone_null("deleted_at"))
            .foreign_key(&mut fk("sync_configurations_tenant_fk", "sync_configurations", "tenant_id", "tenants"))
            .foreign_key(&mut fk(
                "sync_configurations_connector_fk",
                "sync_configurations",
                "connector_id",
                "connectors",
            ))
            .foreign_key(&mut fk(
                "sync_configurations_mapping_fk",
                "sync_configurations",
                "field_mapping_id",
                "field_mappings",
            ))
            .take(),
        // One row per run; queued runs are claimed like events.
        table("sync_histories")
            .col(pk("id"))
            .col(id_ref("tenant_id"))
            .col(id_ref("sync_configuration_id"))
            .col(id_ref("connector_id"))
            .col(string_len("trigger_type", 16))
            .col(string_len("status", 16))
            .col(timestamp_with_time_zone("queued_at"))
            .col(timestamp_with_time_zone_null("started_at"))
            .col(timestamp_with_time_zone_null("finished_at"))
            .col(big_integer_null("duration_ms"))
            .col(counter("records_read"))
            .col(counter("records_created"))
            .col(counter("records_updated"))
            .col(counter("records_failed"))
            .col(string_len_null("error_type", 64))
            .col(text_null("error_message"))
            .col(string_len_null("lease_owner", 64))
            .col(timestamp_with_time_zone_null("lease_expires_at"))
            .col(boolean("cancel_requested").default(false))
            .col(json_binary_null("progress"))
            .foreign_key(&mut fk("sync_histories_tenant_fk", "sync_histories", "tenant_id", "tenants"))
            .foreign_key(&mut fk(
                "sync_histories_configuration_fk",
                "sync_histories",
                "sync_configuration_id",
                "sync_configurations",
            ))
            .foreign_key(&mut fk("sync_histories_connector_fk", "sync_histories", "connector_id", "connectors"))
            .take(),
        table("sync_errors")
            .col(pk("id"))
            .col(id_ref("tenant_id"))
            .col(id_ref("sync_history_id"))
            .col(string_len_null("record_ref", 255))
            .col(string_len("error_type", 64))
            .col(text("message"))
            .col(text_null("excerpt"))
            .col(timestamp_with_time_zone("created_at"))
            .foreign_key(&mut fk("sync_errors_tenant_fk", "sync_errors", "tenant_id", "tenants"))
            .foreign_key(&mut fk("sync_errors_history_fk", "sync_errors", "sync_history_id", "sync_histories"))
            .take(),
        // The business system's side: one versioned row per entity.
        table("records")
            .col(pk("id"))
            .col(id_ref("tenant_id"))
            .col(string_len("entity_type", 100))
            .col(string_len("external_id", 255))
            .col(json_binary("data"))
            .col(big_integer("version").default(1))
            .col(string_len_null("source_connector_id", 36))
            .col(string_len_null("last_event_id", 36))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .foreign_key(&mut fk("records_tenant_fk", "records", "tenant_id", "tenants"))
            .take(),
        // Append-only, hash-chained per tenant (`seq`, `prev_hash`, `entry_hash`).
        table("audit_logs")
            .col(pk("id"))
            .col(id_ref("tenant_id"))
            .col(big_integer("seq"))
            .col(string_len("action", 100))
            .col(string_len("actor", 100))
            .col(string_len_null("resource_type", 50))
            .col(string_len_null("resource_id", 64))
            .col(string_len_null("connector_id", 36))
            .col(json_binary("details"))
            .col(string_len("prev_hash", 64))
            .col(string_len("entry_hash", 64))
            .col(timestamp_with_time_zone("created_at"))
            .foreign_key(&mut fk("audit_logs_tenant_fk", "audit_logs", "tenant_id", "tenants"))
            .take(),
        // Per tenant, connector and UTC day, written in the same transaction
        // as the facts they count.
        table("daily_rollups")
            .col(id_ref("tenant_id"))
            .col(id_ref("connector_id"))
            .col(date("day"))
            .col(counter("webhooks_received"))
            .col(counter("webhooks_duplicate"))
            .col(counter("webhooks_rejected"))
            .col(counter("webhooks_failed"))
            .col(counter("webhooks_completed"))
            .col(counter("syncs_total"))
            .col(counter("syncs_succeeded"))
            .col(counter("syncs_partial"))
            .col(counter("syncs_failed"))
            .col(counter("records_processed"))
            .col(timestamp_with_time_zone("updated_at"))
            .primary_key(Index::create().col("tenant_id").col("connector_id").col("day"))
            .foreign_key(&mut fk("daily_rollups_tenant_fk", "daily_rollups", "tenant_id", "tenants"))
            .take(),
        table("daily_error_rollups")
            .col(id_ref("tenant_id"))
            .col(id_ref("connector_id"))
            .col(date("day"))
            .col(string_len("error_type", 64))
            .col(counter("error_count"))
            .primary_key(Index::create().col("tenant_id").col("connector_id").col("day").col("error_type"))
            .foreign_key(&mut fk("daily_error_rollups_tenant_fk", "daily_error_rollups", "tenant_id", "tenants"))
            .take(),
    ]
}

/// Table names, for `down` (children before parents).
pub(crate) const TABLES: &[&str] = &[
    "daily_error_rollups",
    "daily_rollups",
    "audit_logs",
    "records",
    "sync_errors",
    "sync_histories",
    "sync_configurations",
    "field_mappings",
    "webhook_events",
    "webhook_receivers",
    "connector_change_requests",
    "connectors",
    "api_tokens",
    "system_tokens",
    "tenants",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in tables() {
            manager.create_table(t).await?;
        }
        let db = manager.get_connection();
        for sql in INDEXES {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in TABLES {
            manager.drop_table(Table::drop().table(*t).if_exists().take()).await?;
        }
        Ok(())
    }
}
