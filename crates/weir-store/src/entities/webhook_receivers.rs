//! `webhook_receivers`: receive endpoints of a connector.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_receivers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub connector_id: String,
    pub receiver_key: String,
    /// Display name.
    pub name: String,
    pub event_type: String,
    pub auth_method: String,
    pub auth_options: Json,
    pub secret_sealed: Option<Vec<u8>>,
    pub previous_secret_sealed: Option<Vec<u8>>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    pub event_schema: Option<Json>,
    pub timestamp_tolerance_secs: i32,
    pub is_active: bool,
    pub last_received_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::connectors::Entity",
        from = "Column::ConnectorId",
        to = "super::connectors::Column::Id"
    )]
    Connector,
}

impl Related<super::connectors::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Connector.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
