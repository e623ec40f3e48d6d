//! `webhook_events.payload_raw`: the body exactly as received. `payload`
//! (`jsonb` on PostgreSQL) re-serialised it: key order, duplicate keys and
//! the digits of numbers beyond a double's precision were lost, while the
//! audited SHA-256 is of the raw bytes. New events store the bytes here and
//! leave `payload` NULL; older events keep their `payload` as it was (the
//! bytes they came as are gone).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    PayloadRaw,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // On PostgreSQL the column is added to every day partition too.
        manager
            .alter_table(
                Table::alter()
                    .table(WebhookEvents::Table)
                    .add_column(ColumnDef::new(WebhookEvents::PayloadRaw).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(WebhookEvents::Table).drop_column(WebhookEvents::PayloadRaw).to_owned())
            .await
    }
}
