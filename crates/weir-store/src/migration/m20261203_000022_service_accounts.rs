//! `service_accounts`: named, non-human owners of API tokens (a CI job, a
//! partner integration). A token minted for one has `principal_id`
//! `service_account:<id>` and never acts above the account's role;
//! deactivating the account revokes its tokens.

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
                    .table("service_accounts")
                    .if_not_exists()
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("tenant_id", 36))
                    .col(string_len("name", 100))
                    .col(string_len("role", 16))
                    .col(string_len_null("created_by", 100))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .col(timestamp_with_time_zone_null("deactivated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("service_accounts_tenant_fk")
                            .from("service_accounts", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS service_accounts_name_idx ON service_accounts (tenant_id, name)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("service_accounts").if_exists().take()).await
    }
}
