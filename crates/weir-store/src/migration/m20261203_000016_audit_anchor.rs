//! The audit chain becomes keyed (HMAC under a key derived from the master
//! key) and refusal entries can be pruned by retention: a pruned entry keeps
//! its header and `body_digest`, the SHA-256 of the body its hash covered.
//! The re-keying of existing chains happens at start-up, where the key is
//! known (`Store::upgrade_audit_chain`), not here.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    BodyDigest,
    PrunedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(AuditLogs::Table)
                    .add_column(ColumnDef::new(AuditLogs::BodyDigest).string_len(64).null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditLogs::Table)
                    .add_column(ColumnDef::new(AuditLogs::PrunedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        // Retention's candidates: refusal entries not pruned yet, by id
        // (time-ordered). Queried with these literals, so both engines can
        // use the partial index.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS audit_logs_unpruned_refusals_idx ON audit_logs (id) \
                 WHERE action = 'webhook.rejected' AND pruned_at IS NULL",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX IF EXISTS audit_logs_unpruned_refusals_idx").await?;
        manager.alter_table(Table::alter().table(AuditLogs::Table).drop_column(AuditLogs::PrunedAt).to_owned()).await?;
        manager.alter_table(Table::alter().table(AuditLogs::Table).drop_column(AuditLogs::BodyDigest).to_owned()).await
    }
}
