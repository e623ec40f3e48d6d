//! `audit_logs.resource_id` was `varchar(64)`, but a record's entry holds
//! `entity_type/external_id` — up to 100 + 1 + 255 characters — so on
//! PostgreSQL an event writing a record with a long key failed
//! `database_error` on every attempt. It becomes `varchar(400)`. SQLite does
//! not enforce `varchar` lengths; nothing changes there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE audit_logs ALTER COLUMN resource_id TYPE varchar(400)")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE audit_logs ALTER COLUMN resource_id TYPE varchar(64)")
                .await?;
        }
        Ok(())
    }
}
