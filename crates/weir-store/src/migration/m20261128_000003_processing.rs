//! Processing: a sync configuration's HTTP destination secret (sealed) and
//! ordering field, and the ordering value a record was last written with,
//! so an older event never overwrites a newer record; a sync run's bytes
//! and pages.
//!
//! And queue-friendly indexes. The claim reads two partial indexes in
//! order with `LIMIT` (plain index scans, which skip entries of rows that
//! moved on even before a vacuum), instead of one status index that a
//! bitmap scan walks dead entries of. The records key lookup no longer
//! shares its prefix with the listing index, so the planner cannot pick the
//! listing index for it while a fresh table has no statistics.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let columns = [
            ("sync_configurations", blob_null("destination_secret_sealed")),
            ("sync_configurations", string_len_null("ordering_field", 100)),
            ("records", string_len_null("ordering_value", 200)),
            ("sync_histories", big_integer("bytes_transferred").default(0).take()),
            ("sync_histories", big_integer("pages").default(0).take()),
        ];
        for (table, mut column) in columns {
            manager.alter_table(Table::alter().table(table).add_column(&mut column).take()).await?;
        }
        for sql in INDEXES_UP {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in INDEXES_DOWN {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        let columns = [
            ("sync_configurations", "destination_secret_sealed"),
            ("sync_configurations", "ordering_field"),
            ("records", "ordering_value"),
            ("sync_histories", "bytes_transferred"),
            ("sync_histories", "pages"),
        ];
        for (table, column) in columns {
            manager.alter_table(Table::alter().table(table).drop_column(column).take()).await?;
        }
        Ok(())
    }
}

/// Same SQL on both engines.
const INDEXES_UP: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS webhook_events_pending_idx ON webhook_events (next_attempt_at) WHERE processing_status = 'pending'",
    "CREATE INDEX IF NOT EXISTS webhook_events_leased_idx ON webhook_events (lease_expires_at) WHERE processing_status = 'processing'",
    "DROP INDEX IF EXISTS webhook_events_queue_idx",
    "CREATE INDEX IF NOT EXISTS records_tenant_updated_idx ON records (tenant_id, updated_at, id)",
    "DROP INDEX IF EXISTS records_tenant_entity_updated_idx",
];

const INDEXES_DOWN: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS records_tenant_entity_updated_idx ON records (tenant_id, entity_type, updated_at)",
    "DROP INDEX IF EXISTS records_tenant_updated_idx",
    "CREATE INDEX IF NOT EXISTS webhook_events_queue_idx ON webhook_events (processing_status, next_attempt_at)",
    "DROP INDEX IF EXISTS webhook_events_leased_idx",
    "DROP INDEX IF EXISTS webhook_events_pending_idx",
];
