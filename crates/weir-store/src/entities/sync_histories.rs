//! `sync_histories`: one row per sync run; queued runs are claimed like events.

use sea_orm::entity::prelude::*;
use weir_core::{RunStatus, Trigger};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_histories")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub sync_configuration_id: String,
    pub connector_id: String,
    pub trigger_type: Trigger,
    pub status: RunStatus,
    pub queued_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub duration_ms: Option<i64>,
    pub records_read: i64,
    pub records_created: i64,
    pub records_updated: i64,
    pub records_failed: i64,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub cancel_requested: bool,
    pub progress: Option<Json>,
    /// Response bytes read (inbound) or sent (outbound).
    pub bytes_transferred: i64,
    /// Pages fetched or batches pushed.
    pub pages: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
