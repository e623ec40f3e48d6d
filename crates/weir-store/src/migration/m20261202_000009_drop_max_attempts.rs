//! `webhook_events.max_attempts` was written as 3 for every event and never
//! read: the attempt budget is the processor's (`WEIR_MAX_ATTEMPTS`), applied
//! when an attempt fails. The column goes, so the table says only what is
//! true. On PostgreSQL the drop reaches every day partition; on SQLite
//! (3.35+, bundled) it rewrites the table.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("ALTER TABLE webhook_events DROP COLUMN max_attempts").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE webhook_events ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 3")
            .await?;
        Ok(())
    }
}
