//! The one migration set for SQLite and PostgreSQL. Tables are built with
//! sea-query's schema builder (which picks each engine's types); indexes are
//! plain `CREATE INDEX` statements, whose syntax — including partial
//! `WHERE` clauses — both engines share.

use sea_orm_migration::prelude::*;

/// The migration that keyed the audit chain (see `Store::upgrade_audit_chain`).
pub(crate) const AUDIT_KEYING_MIGRATION: &str = "m20261203_000016_audit_anchor";

mod m20261128_000001_initial_schema;
mod m20261128_000002_instance_settings;
mod m20261128_000003_processing;
mod m20261129_000004_connector_health;
mod m20261129_000005_active_runs_index;
mod m20261129_000006_sessions;
mod m20261129_000007_retention;
pub(crate) mod m20261129_000008_event_partitions;
mod m20261202_000009_drop_max_attempts;
mod m20261202_000010_token_principal;
mod m20261202_000015_audit_resource_id;
mod m20261203_000016_audit_anchor;
mod m20261203_000017_audit_record_refs;
mod m20261203_000018_payload_raw;
mod m20261203_000019_unsampled_columns;
mod m20261203_000020_users;
mod m20261203_000021_mfa;
mod m20261203_000022_service_accounts;
mod m20261207_000023_sso;
mod m20261207_000024_audit_pending;
mod m20261208_000025_receiver_names;

/// Every migration, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_initial_schema::Migration),
            Box::new(m20261128_000002_instance_settings::Migration),
            Box::new(m20261128_000003_processing::Migration),
            Box::new(m20261129_000004_connector_health::Migration),
            Box::new(m20261129_000005_active_runs_index::Migration),
            Box::new(m20261129_000006_sessions::Migration),
            Box::new(m20261129_000007_retention::Migration),
            Box::new(m20261129_000008_event_partitions::Migration),
            Box::new(m20261202_000009_drop_max_attempts::Migration),
            Box::new(m20261202_000010_token_principal::Migration),
            Box::new(m20261202_000015_audit_resource_id::Migration),
            Box::new(m20261203_000016_audit_anchor::Migration),
            Box::new(m20261203_000017_audit_record_refs::Migration),
            Box::new(m20261203_000018_payload_raw::Migration),
            Box::new(m20261203_000019_unsampled_columns::Migration),
            Box::new(m20261203_000020_users::Migration),
            Box::new(m20261203_000021_mfa::Migration),
            Box::new(m20261203_000022_service_accounts::Migration),
            Box::new(m20261207_000023_sso::Migration),
            Box::new(m20261207_000024_audit_pending::Migration),
            Box::new(m20261208_000025_receiver_names::Migration),
        ]
    }

    fn migration_table_name() -> DynIden {
        "weir_migrations".into_iden()
    }
}
