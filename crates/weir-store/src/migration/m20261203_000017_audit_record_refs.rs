//! Per-record lookups in the audit trail. A sync run audits each page it
//! writes as one `sync.records_written` entry listing every record's key
//! and version; `audit_record_refs` names, for each record key, the entries
//! that list it, so `GET /audit-logs?record=<entity_type>/<external_id>`
//! finds them without reading the details of every entry. Entries about one
//! record (`record.created`, …) are found by a partial index on
//! `audit_logs (tenant_id, resource_id)` over record entries only, so other
//! appends do not pay for it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS audit_record_refs (\
     tenant_id varchar(64) NOT NULL, resource_id varchar(400) NOT NULL, seq bigint NOT NULL, \
     PRIMARY KEY (tenant_id, resource_id, seq))",
    "CREATE INDEX IF NOT EXISTS audit_logs_record_idx ON audit_logs (tenant_id, resource_id) \
     WHERE resource_type = 'record'",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in UP {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS audit_logs_record_idx").await?;
        db.execute_unprepared("DROP TABLE IF EXISTS audit_record_refs").await?;
        Ok(())
    }
}
