//! Connector health inputs, kept current in the same transactions as the
//! facts (event outcomes, finished runs), so the dashboard reads them
//! instead of scanning history: consecutive failures and the last activity.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let columns = [
            integer("consecutive_failures").default(0).take(),
            timestamp_with_time_zone_null("last_activity_at"),
            boolean("last_activity_failed").default(false).take(),
        ];
        for mut column in columns {
            manager.alter_table(Table::alter().table("connectors").add_column(&mut column).take()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["consecutive_failures", "last_activity_at", "last_activity_failed"] {
            manager.alter_table(Table::alter().table("connectors").drop_column(column).take()).await?;
        }
        Ok(())
    }
}
