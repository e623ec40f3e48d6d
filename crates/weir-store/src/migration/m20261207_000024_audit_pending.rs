//! `audit_pending`: audit entries committed but not yet in the chain.
//!
//! On PostgreSQL a transaction that audits writes its entries here, with no
//! lock, and the sealer (`Store::seal_audit`) moves them into `audit_logs`
//! shortly after commit, assigning `seq` and the keyed hashes under the
//! tenant's chain lock. Before this table every ingest batch, worker batch
//! and sync page held that lock from its audit insert to its commit, which
//! made them run one after another (BENCHMARKS.md, issue 18). `no` keeps the
//! order of a transaction's entries. `record_keys` holds, for an entry that
//! lists records, the keys the sealer indexes in `audit_record_refs`.
//!
//! SQLite seals in the writing transaction (its one write lock already
//! serialises writers), so the table stays empty there; it exists on both
//! so the schema is one.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: &str = "id varchar(36) NOT NULL, tenant_id varchar(36) NOT NULL, action varchar(100) NOT NULL, \
     actor varchar(100) NOT NULL, resource_type varchar(50), resource_id varchar(400), connector_id varchar(36)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let table = match manager.get_database_backend() {
            DbBackend::Postgres => format!(
                "CREATE TABLE IF NOT EXISTS audit_pending (no bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
                 {COLUMNS}, details jsonb NOT NULL, record_keys jsonb, created_at timestamptz NOT NULL)"
            ),
            _ => format!(
                "CREATE TABLE IF NOT EXISTS audit_pending (no integer PRIMARY KEY AUTOINCREMENT, \
                 {COLUMNS}, details json_text NOT NULL, record_keys json_text, created_at timestamp_with_timezone_text NOT NULL)"
            ),
        };
        let db = manager.get_connection();
        db.execute_unprepared(&table).await?;
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS audit_pending_tenant_idx ON audit_pending (tenant_id, no)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP TABLE IF EXISTS audit_pending").await?;
        Ok(())
    }
}
