//! PostgreSQL: no planner statistics on the large opaque columns (received
//! bytes, JSON bodies, hashes). No query filters or sorts on them, yet
//! `ANALYZE` sampled them: under ingest load each analysis of a day
//! partition cost 0.4–0.6 s of CPU, three per 20 s run (BENCHMARKS.md,
//! issue 18). Day partitions created later get the same setting
//! (`partitions::unsampled_columns_sql`). A no-op on SQLite.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

use crate::repos::partitions::{UNSAMPLED, unsampled_columns_sql};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        // On the partitioned parent this recurses to every partition.
        for (table, _) in UNSAMPLED {
            db.execute_unprepared(&unsampled_columns_sql(table, table, 0)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for (table, _) in UNSAMPLED {
            db.execute_unprepared(&unsampled_columns_sql(table, table, -1)).await?;
        }
        Ok(())
    }
}
