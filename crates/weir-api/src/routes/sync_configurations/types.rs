//! The request and response types of `/api/v1/integration/sync-configurations`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use weir_core::RunStatus;
use weir_core::sync::{Direction, SourceSpec, Trigger};
use weir_store::SyncConfiguration;

/// An HTTP destination as written.
#[derive(Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationIn {
    /// Connector API path (outbound runs).
    pub path: Option<String>,
    /// Absolute URL (webhook configurations' record deliveries).
    pub url: Option<String>,
    /// 100 to 25 000 ms (default 10 000).
    pub timeout_ms: Option<u64>,
    /// Your own Standard Webhooks secret (`whsec_…`); generated when a
    /// destination `url` is first set. Write-only.
    #[serde(skip_serializing)]
    pub secret: Option<String>,
}

/// Body of a sync configuration (create; PATCH takes any subset).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncConfigurationIn {
    /// The connector (of the caller's tenant).
    pub connector_id: String,
    /// Display name, at most 200 characters.
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// `inbound` or `outbound`.
    pub direction: Direction,
    /// The record type, e.g. `customer`.
    #[schema(pattern = r"^[a-z0-9_.-]{1,100}$")]
    pub entity_type: String,
    /// The mapping applied (required inbound; its entity type must match).
    pub field_mapping_id: Option<String>,
    /// `webhook`, `schedule` or `manual`.
    pub trigger: Trigger,
    /// For `webhook`: event types routed here (exact, or `*`).
    #[serde(default)]
    pub event_types: Vec<String>,
    /// For `schedule`: a cron expression, evaluated in UTC.
    pub schedule: Option<String>,
    /// Inbound runs: `{"path", "records_path", "pagination"}`.
    pub source: Option<SourceSpec>,
    /// `{"url"}` (webhook deliveries) or `{"path"}` (outbound runs).
    pub destination: Option<DestinationIn>,
    /// A mapped field ordering versions of a record (e.g. `updated_at`): an
    /// older event never overwrites a newer record.
    pub ordering_field: Option<String>,
    /// Default true.
    #[serde(default = "yes")]
    pub is_active: bool,
}

impl std::fmt::Debug for DestinationIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DestinationIn")
            .field("path", &self.path)
            .field("url", &self.url)
            .field("timeout_ms", &self.timeout_ms)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn yes() -> bool {
    true
}

/// The last run.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastRunOut {
    /// When it started.
    pub at: DateTime<Utc>,
    /// Whether it succeeded.
    pub succeeded: bool,
}

/// A sync configuration.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncConfigurationOut {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// The connector it belongs to.
    pub connector_id: String,
    /// Display name, as given.
    pub name: String,
    /// Which way records move.
    pub direction: Direction,
    /// Record type.
    pub entity_type: String,
    /// The field mapping applied to every record, if any.
    pub field_mapping_id: Option<String>,
    /// What starts a run.
    pub trigger: Trigger,
    /// Event types.
    pub event_types: Vec<String>,
    /// Cron schedule.
    pub schedule: Option<String>,
    /// Inbound runs: `{"path", "records_path", "pagination"}`.
    #[schema(value_type = Option<Object>)]
    pub source: Option<Value>,
    /// Destination (its secret never; see `has_secret`).
    #[schema(value_type = Option<Object>)]
    pub destination: Option<Value>,
    /// The destination's signing secret: only in the answer that set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_secret: Option<String>,
    /// Ordering field.
    pub ordering_field: Option<String>,
    /// Whether it runs.
    pub is_active: bool,
    /// Next scheduled run (UTC).
    pub next_run_at: Option<DateTime<Utc>>,
    /// The last run, if any.
    pub last_run: Option<LastRunOut>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<SyncConfiguration> for SyncConfigurationOut {
    fn from(c: SyncConfiguration) -> Self {
        let destination = c.destination.map(|mut d| {
            if let Some(o) = d.as_object_mut()
                && o.contains_key("url")
            {
                o.insert("has_secret".to_owned(), json!(c.has_destination_secret));
            }
            d
        });
        Self {
            last_run: c.last_run_at.map(|at| LastRunOut { at, succeeded: c.last_success_at == Some(at) }),
            id: c.id,
            connector_id: c.connector_id,
            name: c.name,
            direction: c.direction,
            entity_type: c.entity_type,
            field_mapping_id: c.field_mapping_id,
            trigger: c.trigger,
            event_types: c.event_types,
            schedule: c.schedule,
            source: c.source,
            destination,
            destination_secret: None,
            ordering_field: c.ordering_field,
            is_active: c.is_active,
            next_run_at: c.next_run_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// List filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SyncConfigurationQuery {
    /// Connector id.
    pub connector_id: Option<String>,
    /// `webhook`, `schedule` or `manual`.
    #[param(pattern = "^(webhook|schedule|manual)$")]
    pub trigger: Option<String>,
    /// Active or not.
    pub is_active: Option<bool>,
    /// 1-based page.
    pub page: Option<u64>,
    /// 1 to 100.
    pub per_page: Option<u64>,
}

/// The answer to an execute.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExecuteOut {
    /// The queued run.
    pub sync_history_id: String,
    /// `queued`.
    pub status: RunStatus,
}
