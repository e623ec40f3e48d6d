//! Repositories: one module per resource. Each is a thin borrow of the
//! [`Store`](crate::Store) whose methods take the capability they need
//! ([`TenantScope`](crate::TenantScope) or [`SystemScope`](crate::SystemScope)).

pub mod audit;
pub mod audit_append;
pub mod audit_chain;
pub mod change_requests;
pub mod connector_health;
pub mod connectors;
pub mod dashboard;
pub(crate) mod event_keys;
pub mod events;
pub mod field_mappings;
pub(crate) mod ingest;
pub mod instance;
pub mod mfa;
pub mod own_access;
pub mod partitions;
pub mod people;
pub mod queue;
pub mod rebuild;
pub mod receivers;
pub mod records;
pub(crate) mod records_audit;
pub mod retention;
pub(crate) mod rollups;
pub mod service_accounts;
pub mod sessions;
pub mod sign_in;
pub mod sso;
pub mod sso_users;
pub mod sync_configurations;
pub mod sync_runs;
pub mod tenants;
pub mod tokens;
pub mod users;

use chrono::{DateTime, SubsecRound, Utc};

/// The current time at microsecond precision: what both engines store
/// losslessly, so a value read back equals the value written.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// When a lease taken at `at` for `lease` runs out (event and sync-run
/// leases alike). A lease too long for a timestamp, which no configured one
/// is (they are at most an hour), counts as 60 seconds.
pub(crate) fn lease_end(at: DateTime<Utc>, lease: std::time::Duration) -> DateTime<Utc> {
    at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60))
}

/// One page of an ordered query and the query's total count, its rows
/// turned into `T`.
pub(crate) async fn paged<E, T>(
    db: &sea_orm::DatabaseConnection,
    query: sea_orm::Select<E>,
    page: weir_core::PageRequest,
) -> Result<Paged<T>, crate::StoreError>
where
    E: sea_orm::EntityTrait,
    E::Model: Send + Sync,
    T: From<E::Model>,
{
    use sea_orm::{PaginatorTrait, QuerySelect};
    let total = query.clone().count(db).await?;
    let items = query.offset(page.offset()).limit(page.per_page()).all(db).await?.into_iter().map(T::from).collect();
    Ok(Paged { items, total })
}

/// A page of rows and the total count of the unpaged query.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Rows across all pages.
    pub total: u64,
}
