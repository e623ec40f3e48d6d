//! People: `users` (per tenant, email unique case-insensitively through
//! `email_key`), their single-use `user_invites` (only the SHA-256 of the
//! link's secret is stored), the `sign_in_throttle` counters that slow
//! repeated wrong passwords per account and per source address, and
//! `api_tokens.kind`: a signed-in user's session acts through a token of
//! kind `session` owned by the user (its `principal_id`), so revoking the
//! user's tokens ends their sessions and streams too.

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
                    .table("users")
                    .if_not_exists()
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("tenant_id", 36))
                    .col(string_len("email", 320))
                    .col(string_len("email_key", 320))
                    .col(string_len("name", 200))
                    .col(string_len("role", 16))
                    .col(string_len("status", 16))
                    .col(text_null("password_hash"))
                    .col(timestamp_with_time_zone_null("password_changed_at"))
                    .col(timestamp_with_time_zone_null("last_sign_in_at"))
                    .col(string_len_null("created_by", 100))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("users_tenant_fk")
                            .from("users", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("user_invites")
                    .if_not_exists()
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("tenant_id", 36))
                    .col(string_len("user_id", 36))
                    .col(string_len("token_hash", 64).unique_key())
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("user_invites_user_fk")
                            .from("user_invites", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("sign_in_throttle")
                    .if_not_exists()
                    .col(string_len("key", 400).primary_key())
                    .col(integer("failures"))
                    .col(timestamp_with_time_zone("last_failure_at"))
                    .col(timestamp_with_time_zone_null("blocked_until"))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("api_tokens")
                    .add_column(ColumnDef::new("kind").string_len(16).not_null().default("api"))
                    .take(),
            )
            .await?;
        let db = manager.get_connection();
        for sql in [
            "CREATE UNIQUE INDEX IF NOT EXISTS users_email_idx ON users (tenant_id, email_key)",
            "CREATE INDEX IF NOT EXISTS user_invites_user_idx ON user_invites (user_id)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("api_tokens").drop_column("kind").take()).await?;
        for table in ["sign_in_throttle", "user_invites", "users"] {
            manager.drop_table(Table::drop().table(table).if_exists().take()).await?;
        }
        Ok(())
    }
}
