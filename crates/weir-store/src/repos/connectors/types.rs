//! The connector types callers see and hand in: the connector (never its
//! credentials), sealed credentials, a new connector, a change of one (and
//! how it is audited and held for approval), and list filters.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use weir_core::{ConnectorCode, ConnectorConfig, ConnectorType, Environment};

use crate::StoreError;
use crate::entities::connectors;

/// A connector as callers see it (never its credentials).
#[derive(Debug, Clone, PartialEq)]
pub struct Connector {
    /// Row id.
    pub id: String,
    /// Unique (per tenant, among live connectors) code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// `http` or `webhook`.
    pub connector_type: ConnectorType,
    /// Where it runs.
    pub environment: Environment,
    /// Whether it is in service.
    pub is_active: bool,
    /// Non-secret configuration.
    pub config: Value,
    /// Whether sealed credentials are stored.
    pub has_credentials: bool,
    /// Receive-endpoint limit; `None` = server default.
    pub rate_limit_per_minute: Option<u32>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Live webhook receivers.
    pub receivers_count: u64,
    /// Live sync configurations.
    pub sync_configurations_count: u64,
}

/// A connector's sealed credentials, for the code that talks to it.
#[derive(Clone)]
pub struct SealedCredentials(pub Vec<u8>);

impl std::fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedCredentials(<sealed>)")
    }
}

fn parse_enum<T: std::str::FromStr>(column: &str, v: &str) -> Result<T, StoreError> {
    v.parse().map_err(|_| StoreError::Database(sea_orm::DbErr::Type(format!("bad {column} {v:?} in connectors"))))
}

impl TryFrom<connectors::Model> for Connector {
    type Error = StoreError;

    fn try_from(m: connectors::Model) -> Result<Self, StoreError> {
        Ok(Self {
            connector_type: parse_enum("connector_type", &m.connector_type)?,
            environment: parse_enum("environment", &m.environment)?,
            id: m.id,
            code: m.code,
            name: m.name,
            is_active: m.is_active,
            config: m.config,
            has_credentials: m.credentials_sealed.is_some(),
            rate_limit_per_minute: m.rate_limit_per_minute.and_then(|v| u32::try_from(v).ok()),
            created_at: m.created_at,
            updated_at: m.updated_at,
            receivers_count: 0,
            sync_configurations_count: 0,
        })
    }
}

/// A validated connector to create.
#[derive(Debug, Clone)]
pub struct NewConnector {
    /// Unique among the tenant's live connectors; part of receive URLs.
    pub code: ConnectorCode,
    /// Display name, as given.
    pub name: String,
    /// `http` (has a remote) or `webhook` (receives only); fixed once created.
    pub connector_type: ConnectorType,
    /// `production` puts config and credential changes behind approval.
    pub environment: Environment,
    /// In service.
    pub is_active: bool,
    /// The validated configuration of its type.
    pub config: ConnectorConfig,
    /// Sealed credentials, if any.
    pub credentials: Option<SealedCredentials>,
    /// Receive limit.
    pub rate_limit_per_minute: Option<u32>,
}

/// A validated change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ConnectorChanges {
    /// New name.
    pub name: Option<String>,
    /// New environment.
    pub environment: Option<Environment>,
    /// New state.
    pub is_active: Option<bool>,
    /// New configuration.
    pub config: Option<ConnectorConfig>,
    /// `Some(None)` clears the credentials; `Some(Some(_))` replaces them.
    pub credentials: Option<Option<SealedCredentials>>,
    /// `Some(None)` returns to the server default.
    pub rate_limit_per_minute: Option<Option<u32>>,
}

impl ConnectorChanges {
    /// Names of the fields this change touches (for audit and messages).
    pub fn fields(&self) -> Vec<&'static str> {
        let mut f = Vec::new();
        if self.name.is_some() {
            f.push("name");
        }
        if self.environment.is_some() {
            f.push("environment");
        }
        if self.is_active.is_some() {
            f.push("is_active");
        }
        if self.config.is_some() {
            f.push("config");
        }
        if self.credentials.is_some() {
            f.push("credentials");
        }
        if self.rate_limit_per_minute.is_some() {
            f.push("rate_limit_per_minute");
        }
        f
    }

    /// The form a change request stores: plain fields and `config` with
    /// their new values, credentials only as `"replaced"`/`"cleared"` (the
    /// sealed bytes travel separately).
    pub fn to_request_json(&self) -> Value {
        let mut d = serde_json::Map::new();
        if let Some(n) = &self.name {
            d.insert("name".into(), json!(n));
        }
        if let Some(e) = self.environment {
            d.insert("environment".into(), json!(e.as_str()));
        }
        if let Some(a) = self.is_active {
            d.insert("is_active".into(), json!(a));
        }
        if let Some(c) = &self.config {
            d.insert("config".into(), c.to_json());
        }
        if let Some(c) = &self.credentials {
            d.insert("credentials".into(), json!(if c.is_some() { "replaced" } else { "cleared" }));
        }
        if let Some(r) = self.rate_limit_per_minute {
            d.insert("rate_limit_per_minute".into(), json!(r));
        }
        Value::Object(d)
    }

    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.fields().is_empty()
    }

    /// The non-secret part for an audit entry: field names and the new
    /// values of plain fields (the request form without `config`, whose
    /// headers may be long; credentials only as `"replaced"`/`"cleared"`).
    pub fn audit_details(&self) -> Value {
        let mut d = match self.to_request_json() {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        d.remove("config");
        d.insert("changed".into(), json!(self.fields()));
        Value::Object(d)
    }
}

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct ConnectorFilter {
    /// `Some(true)` active only, `Some(false)` inactive only.
    pub is_active: Option<bool>,
    /// Only this type.
    pub connector_type: Option<ConnectorType>,
    /// Case-insensitive substring of code or name.
    pub q: Option<String>,
}
