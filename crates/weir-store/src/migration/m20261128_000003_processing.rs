//! Processing: a sync configuration's HTTP destination secret (sealed) and
//! ordering field, and the ordering value a record was last written with,
//! so an older event never overwrites a newer record.

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
        ];
        for (table, mut column) in columns {
            manager.alter_table(Table::alter().table(table).add_column(&mut column).take()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            ("sync_configurations", "destination_secret_sealed"),
            ("sync_configurations", "ordering_field"),
            ("records", "ordering_value"),
        ];
        for (table, column) in columns {
            manager.alter_table(Table::alter().table(table).drop_column(column).take()).await?;
        }
        Ok(())
    }
}
