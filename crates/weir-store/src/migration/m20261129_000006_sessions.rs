//! `sessions`: dashboard sign-ins. A session is bound to the API token it
//! was opened with (revoking the token ends it) and stores only the SHA-256
//! of its cookie secret, like tokens do.

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
                    .table("sessions")
                    .if_not_exists()
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("tenant_id", 36))
                    .col(string_len("token_id", 36))
                    .col(string_len("secret_hash", 64).unique_key())
                    .col(string_len("csrf_token", 64))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("sessions_tenant_fk")
                            .from("sessions", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("sessions_token_fk")
                            .from("sessions", "token_id")
                            .to("api_tokens", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX IF NOT EXISTS sessions_token_idx ON sessions (token_id, expires_at)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("sessions").if_exists().take()).await
    }
}
