//! Single sign-on with OpenID Connect: a tenant's provider settings
//! (`tenant_sso`; the client secret sealed with the master key); the
//! `state`s of sign-ins that came back (`sso_logins`: SHA-256 only, kept
//! until the sign-in would have expired, so each state works once; the
//! sign-in under way itself lives sealed in the browser's cookie); the
//! provider's subject a user is linked to (`users.sso_subject`, `<issuer>
//! <sub>`); and, on a second-factor challenge, what it followed
//! (`first_factor`: `password` or `sso`) and, after SSO, the identity to
//! apply once the code is right (`pending_sso`, JSON).

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
                    .table("tenant_sso")
                    .if_not_exists()
                    .col(string_len("tenant_id", 36).primary_key())
                    .col(text("issuer_url"))
                    .col(string_len("client_id", 255))
                    .col(binary("client_secret_sealed"))
                    .col(text("allowed_domains"))
                    .col(text("scopes"))
                    .col(string_len("role_claim", 255))
                    .col(text("role_mapping"))
                    .col(string_len_null("default_role", 16))
                    .col(boolean("sso_only"))
                    .col(boolean("trust_unverified_email"))
                    .col(text("required_claims"))
                    .col(string_len_null("updated_by", 100))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("tenant_sso_tenant_fk")
                            .from("tenant_sso", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("sso_logins")
                    .if_not_exists()
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("tenant_id", 36))
                    .col(string_len("state_hash", 64).unique_key())
                    .col(timestamp_with_time_zone("used_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("sso_logins_tenant_fk")
                            .from("sso_logins", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table("users").add_column(ColumnDef::new("sso_subject").text().null()).take())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("mfa_challenges")
                    .add_column(ColumnDef::new("first_factor").string_len(16).not_null().default("password"))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table("mfa_challenges").add_column(ColumnDef::new("pending_sso").text().null()).take(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS users_sso_subject_idx ON users (tenant_id, sso_subject)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX IF EXISTS users_sso_subject_idx").await?;
        manager.alter_table(Table::alter().table("users").drop_column("sso_subject").take()).await?;
        for column in ["first_factor", "pending_sso"] {
            manager.alter_table(Table::alter().table("mfa_challenges").drop_column(column).take()).await?;
        }
        for table in ["sso_logins", "tenant_sso"] {
            manager.drop_table(Table::drop().table(table).if_exists().take()).await?;
        }
        Ok(())
    }
}
