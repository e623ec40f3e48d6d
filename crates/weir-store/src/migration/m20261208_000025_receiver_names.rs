//! Receivers get a display `name` (issue 20: people read names, not ids).
//! Existing receivers are named after what they receive: their event type,
//! or "All events" for `*`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE webhook_receivers ADD COLUMN name varchar(200) NOT NULL DEFAULT ''").await?;
        db.execute_unprepared(
            "UPDATE webhook_receivers SET name = CASE WHEN event_type = '*' THEN 'All events' ELSE event_type END",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("ALTER TABLE webhook_receivers DROP COLUMN name").await?;
        Ok(())
    }
}
