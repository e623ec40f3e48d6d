//! `connectors`: a tenant's outside systems (soft-deleted via `deleted_at`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "connectors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub code: String,
    pub name: String,
    pub connector_type: String,
    pub environment: String,
    pub is_active: bool,
    pub config: Json,
    pub credentials_sealed: Option<Vec<u8>>,
    pub rate_limit_per_minute: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    /// Failed activities (event outcomes, runs) since the last success.
    pub consecutive_failures: i32,
    /// The last event outcome or finished run.
    pub last_activity_at: Option<DateTimeUtc>,
    /// Whether that last activity failed.
    pub last_activity_failed: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
