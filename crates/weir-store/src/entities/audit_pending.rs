//! `audit_pending`: committed audit entries the sealer has not yet chained
//! (PostgreSQL; see `Store::seal_audit`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_pending")]
pub struct Model {
    /// Append order: a transaction's entries are chained in this order.
    #[sea_orm(primary_key)]
    pub no: i64,
    /// The entry's id, kept when it is chained.
    pub id: String,
    pub tenant_id: String,
    pub action: String,
    pub actor: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub connector_id: Option<String>,
    pub details: Json,
    /// Record keys (`entity_type/external_id`) the entry lists, indexed in
    /// `audit_record_refs` when it is chained.
    pub record_keys: Option<Json>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
