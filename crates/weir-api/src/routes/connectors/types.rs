//! Request and response bodies of the connector routes, and the list
//! filters. Their checks live in [`super::input`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use weir_core::{ConnectorType, Environment};
use weir_store::Connector;

use crate::extract::double_option;
use crate::routes::change_requests::ChangeRequestOut;

/// Body of a connector creation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorIn {
    /// Slug, unique per tenant among live connectors.
    #[schema(pattern = r"^[a-z0-9][a-z0-9_-]{1,62}$")]
    pub code: String,
    /// Display name.
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// `http` or `webhook`.
    #[serde(rename = "type")]
    #[schema(value_type = ConnectorType)]
    pub connector_type: String,
    /// `production` (default; config changes need approval), `staging`, `development`.
    #[schema(value_type = Option<Environment>)]
    pub environment: Option<String>,
    /// Default true.
    pub is_active: Option<bool>,
    /// For `http`: `{"base_url", "health_path", "headers", "timeout_ms", "auth": {"type", "header"}}`.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Write-only secrets for `config.auth.type`.
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Value>,
    /// Receive-endpoint limit for this connector; 0 = unlimited; absent = server default.
    pub rate_limit_per_minute: Option<u32>,
}

/// Body of a connector change; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorPatch {
    /// New name.
    pub name: Option<String>,
    /// New environment.
    #[schema(value_type = Option<Environment>)]
    pub environment: Option<String>,
    /// In or out of service.
    pub is_active: Option<bool>,
    /// New configuration (replaces the whole object).
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// New credentials; `null` clears them.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Option<Value>>,
    /// New limit; `null` returns to the server default.
    #[serde(default, deserialize_with = "double_option")]
    pub rate_limit_per_minute: Option<Option<u32>>,
}

/// A connector (never its credentials).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectorOut {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// Slug, unique per tenant among live connectors.
    pub code: String,
    /// Display name, as given.
    pub name: String,
    /// `http` or `webhook`.
    #[serde(rename = "type")]
    pub connector_type: ConnectorType,
    /// `production` (config changes need approval), `staging` or `development`.
    pub environment: Environment,
    /// In service.
    pub is_active: bool,
    /// Non-secret configuration.
    #[schema(value_type = Object)]
    pub config: Value,
    /// Whether credentials are stored (they are never returned).
    pub has_credentials: bool,
    /// Receive-endpoint limit; null = server default.
    pub rate_limit_per_minute: Option<u32>,
    /// Live webhook receivers.
    pub receivers_count: u64,
    /// Live sync configurations.
    pub sync_configurations_count: u64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Connector> for ConnectorOut {
    fn from(c: Connector) -> Self {
        Self {
            id: c.id,
            code: c.code,
            name: c.name,
            connector_type: c.connector_type,
            environment: c.environment,
            is_active: c.is_active,
            config: c.config,
            has_credentials: c.has_credentials,
            rate_limit_per_minute: c.rate_limit_per_minute,
            receivers_count: c.receivers_count,
            sync_configurations_count: c.sync_configurations_count,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// The answer to a PATCH held for approval.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingChangeOut {
    /// The change request awaiting a second admin.
    pub change_request: ChangeRequestOut,
}

/// Result of a connection test.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionTestOut {
    /// Reached the remote and it answered 2xx.
    pub success: bool,
    /// Time to the answer or failure.
    pub latency_ms: u64,
    /// HTTP status, if one arrived.
    pub status_code: Option<u16>,
    /// Remote API version, if announced.
    pub api_version: Option<String>,
    /// Why it failed (refused, DNS, TLS, timeout, non-2xx).
    pub error: Option<String>,
}

/// List filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConnectorQuery {
    /// `active` or `inactive`.
    #[param(pattern = "^(active|inactive)$")]
    pub status: Option<String>,
    /// `http` or `webhook`.
    #[serde(rename = "type")]
    #[param(rename = "type", pattern = "^(http|webhook)$")]
    pub connector_type: Option<String>,
    /// Case-insensitive substring of code or name.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// 1-based page.
    pub page: Option<u64>,
    /// 1 to 100.
    pub per_page: Option<u64>,
}
