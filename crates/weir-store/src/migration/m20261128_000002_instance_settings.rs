//! `instance_settings`: installation-wide values. Holds the master key
//! check (a known value sealed under the key) so a start with the wrong key
//! fails clearly instead of producing garbage.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("instance_settings")
                    .if_not_exists()
                    .col(string_len("name", 100).primary_key())
                    .col(blob("value"))
                    .col(timestamp_with_time_zone("created_at"))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("instance_settings").if_exists().take()).await
    }
}
