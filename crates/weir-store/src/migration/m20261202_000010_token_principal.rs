//! `api_tokens.principal_id`: whose token it is — the root of its issuing
//! chain. A token issued from outside the tenant (the system API, the CLI,
//! the demo) is its own principal; a token issued by another token acts for
//! that token's principal. The production approval compares principals, so
//! a chain of minted tokens is still one person.
//!
//! Existing rows are filled from `created_by`, one chain level per pass,
//! until a pass changes nothing (chains are short; the pass count is capped
//! so a corrupt cycle cannot loop). A token whose issuer row is missing
//! becomes the principal of the chain below it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// More passes than any real chain is deep; a cycle stops here.
const MAX_PASSES: usize = 64;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("api_tokens"))
                    .add_column(ColumnDef::new(Alias::new("principal_id")).string_len(64).null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Roots: issued from outside the tenant, or by a token that is gone.
        db.execute_unprepared(
            "UPDATE api_tokens SET principal_id = id WHERE created_by IS NULL \
             OR NOT EXISTS (SELECT 1 FROM api_tokens p WHERE p.id = api_tokens.created_by)",
        )
        .await?;
        for _ in 0..MAX_PASSES {
            let filled = db
                .execute_unprepared(
                    "UPDATE api_tokens SET principal_id = (SELECT p.principal_id FROM api_tokens p \
                     WHERE p.id = api_tokens.created_by) WHERE principal_id IS NULL AND EXISTS \
                     (SELECT 1 FROM api_tokens p WHERE p.id = api_tokens.created_by AND p.principal_id IS NOT NULL)",
                )
                .await?;
            if filled.rows_affected() == 0 {
                break;
            }
        }
        // Whatever is left is a cycle: each its own principal.
        db.execute_unprepared("UPDATE api_tokens SET principal_id = id WHERE principal_id IS NULL").await?;
        db.execute_unprepared("CREATE INDEX idx_api_tokens_principal ON api_tokens (tenant_id, principal_id)").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS idx_api_tokens_principal").await?;
        db.execute_unprepared("ALTER TABLE api_tokens DROP COLUMN principal_id").await?;
        Ok(())
    }
}
