//! Multi-factor sign-in: a user's TOTP key (sealed with the master key;
//! `mfa_pending_sealed` while enrolment awaits its first code), when MFA
//! was turned on, the last TOTP step accepted (a code works once); their
//! single-use recovery codes (SHA-256 only); the short-lived challenges
//! between a correct password and the second factor; and the tenant
//! setting that makes MFA mandatory for admins.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ColumnDef::new("mfa_secret_sealed").binary().null().take(),
            ColumnDef::new("mfa_pending_sealed").binary().null().take(),
            ColumnDef::new("mfa_enabled_at").timestamp_with_time_zone().null().take(),
            ColumnDef::new("mfa_last_step").big_integer().null().take(),
        ] {
            let mut column = column;
            manager.alter_table(Table::alter().table("users").add_column(&mut column).take()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("tenants")
                    .add_column(ColumnDef::new("mfa_required_for_admins").boolean().not_null().default(false))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("user_recovery_codes")
                    .if_not_exists()
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("user_id", 36))
                    .col(string_len("code_hash", 64).unique_key())
                    .col(timestamp_with_time_zone_null("used_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("user_recovery_codes_user_fk")
                            .from("user_recovery_codes", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("mfa_challenges")
                    .if_not_exists()
                    .col(string_len("id", 36).primary_key())
                    .col(string_len("user_id", 36))
                    .col(string_len("token_hash", 64).unique_key())
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("mfa_challenges_user_fk")
                            .from("mfa_challenges", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS user_recovery_codes_user_idx ON user_recovery_codes (user_id)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["mfa_challenges", "user_recovery_codes"] {
            manager.drop_table(Table::drop().table(table).if_exists().take()).await?;
        }
        manager.alter_table(Table::alter().table("tenants").drop_column("mfa_required_for_admins").take()).await?;
        for column in ["mfa_last_step", "mfa_enabled_at", "mfa_pending_sealed", "mfa_secret_sealed"] {
            manager.alter_table(Table::alter().table("users").drop_column(column).take()).await?;
        }
        Ok(())
    }
}
