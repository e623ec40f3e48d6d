//! `records`: the business system's side — one versioned row per entity.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub entity_type: String,
    pub external_id: String,
    pub data: Json,
    pub version: i64,
    pub source_connector_id: Option<String>,
    pub last_event_id: Option<String>,
    /// The ordering value (e.g. the source's `updated_at`) of the data held.
    pub ordering_value: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
