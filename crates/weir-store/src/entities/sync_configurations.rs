//! `sync_configurations`: what to move, when, and how to map it.

use sea_orm::entity::prelude::*;
use weir_core::{Direction, Trigger};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_configurations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub connector_id: String,
    pub name: String,
    pub direction: Direction,
    pub entity_type: String,
    pub field_mapping_id: Option<String>,
    pub trigger_type: Trigger,
    pub event_types: Json,
    pub schedule: Option<String>,
    pub source: Option<Json>,
    pub destination: Option<Json>,
    pub is_active: bool,
    pub next_run_at: Option<DateTimeUtc>,
    pub last_run_at: Option<DateTimeUtc>,
    pub last_success_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    /// The HTTP destination's signing secret, sealed under the master key.
    pub destination_secret_sealed: Option<Vec<u8>>,
    /// The mapped field that orders versions of a record (e.g. `updated_at`).
    pub ordering_field: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
