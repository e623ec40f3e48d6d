//! `webhook_events`: received deliveries; also the processing queue.

use sea_orm::entity::prelude::*;
use weir_core::EventStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub receiver_id: String,
    pub connector_id: String,
    pub event_type: String,
    pub provider_event_id: Option<String>,
    pub payload: Option<Json>,
    /// The body exactly as received (events stored since migration
    /// 000018; `payload` is then NULL).
    pub payload_raw: Option<String>,
    pub payload_sha256: String,
    pub payload_size: i64,
    pub headers: Option<Json>,
    pub processing_status: EventStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub result: Option<Json>,
    pub attempt_log: Option<Json>,
    pub received_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
