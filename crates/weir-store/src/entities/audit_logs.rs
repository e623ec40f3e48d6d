//! `audit_logs`: append-only, hash-chained per tenant (keyed: see
//! `weir_core::audit::chain`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_logs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub seq: i64,
    pub action: String,
    pub actor: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub connector_id: Option<String>,
    pub details: Json,
    pub prev_hash: String,
    pub entry_hash: String,
    pub created_at: DateTimeUtc,
    /// Set when retention dropped the body: the SHA-256 of the body that
    /// was hashed, so the chain still verifies.
    pub body_digest: Option<String>,
    /// When retention dropped the body.
    pub pruned_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
