//! The connector framework: one [`Connector`] trait (test the connection,
//! fetch a page of records, push a batch of records) and
//! [`build_connector`], the factory from a connector's type to its
//! implementation. Sync runs and webhook processing hang off this.

mod http;
mod webhook;

use std::collections::BTreeMap;

use serde_json::Value;
use weir_core::{ConnectorConfig, Credentials};

use crate::Outbound;

/// The outcome of a connection test (API.md § Connectors).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectionTest {
    /// Reached the remote and it answered 2xx.
    pub success: bool,
    /// Time until the answer (or the failure).
    pub latency_ms: u64,
    /// HTTP status, when one arrived.
    pub status_code: Option<u16>,
    /// From `api-version`/`x-api-version`, or the body's `version`.
    pub api_version: Option<String>,
    /// A readable reason when `success` is false.
    pub error: Option<String>,
}

/// One page fetched from a remote: the JSON body and the headers a
/// paginator needs (`link`, rate-limit headers).
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedPage {
    /// HTTP status.
    pub status: u16,
    /// Response headers, lowercase names (last value wins).
    pub headers: BTreeMap<String, String>,
    /// The decoded JSON body.
    pub body: Value,
    /// The body's size in bytes.
    pub bytes: u64,
}

/// What a push answered.
#[derive(Debug, Clone, PartialEq)]
pub struct PushOutcome {
    /// HTTP status.
    pub status: u16,
    /// The decoded body (`Null` if empty or not JSON).
    pub body: Value,
}

/// Why a connector operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The operation does not exist for this connector type.
    #[error("{0}")]
    Unsupported(&'static str),
    /// The remote could not be reached (refused, DNS, TLS, blocked).
    #[error("{0}")]
    Connection(String),
    /// The remote did not answer in time.
    #[error("timed out after {0} ms")]
    Timeout(u64),
    /// The remote answered with a non-2xx status.
    #[error("HTTP {status}")]
    Status {
        /// The status.
        status: u16,
        /// Seconds from `Retry-After`, when given.
        retry_after_secs: Option<u64>,
    },
    /// The remote answered 2xx with a body that is not JSON.
    #[error("response is not JSON: {0}")]
    InvalidBody(String),
    /// The remote's body is longer than `WEIR_MAX_RESPONSE_BYTES`; it was
    /// not read past the cap.
    #[error("the response is larger than {limit} bytes (WEIR_MAX_RESPONSE_BYTES); not read further")]
    TooLarge {
        /// The cap in force.
        limit: usize,
    },
    /// The stored credentials do not fit the configured auth.
    #[error("{0}")]
    Misconfigured(&'static str),
}

/// An outside system Weir talks to.
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    /// Probes the remote (`base_url + health_path`).
    async fn test_connection(&self) -> Result<ConnectionTest, ConnectorError>;

    /// GETs `path` with `query` and returns the JSON page.
    async fn fetch_page(&self, path: &str, query: &[(String, String)]) -> Result<FetchedPage, ConnectorError>;

    /// GETs a page by URL (a `Link: rel="next"` target). Only URLs on the
    /// connector's own origin are followed: its credentials go nowhere else.
    async fn fetch_url(&self, url: &str) -> Result<FetchedPage, ConnectorError> {
        let _ = url;
        Err(ConnectorError::Unsupported("this connector has no pages to fetch"))
    }

    /// POSTs `records` as a JSON array to `path`.
    async fn push_batch(&self, path: &str, records: &[Value]) -> Result<PushOutcome, ConnectorError>;
}

/// The implementation for a connector's configuration.
pub fn build_connector(config: &ConnectorConfig, credentials: Credentials, outbound: &Outbound) -> Box<dyn Connector> {
    match config {
        ConnectorConfig::Http(c) => Box::new(http::HttpConnector::new(c.clone(), credentials, outbound.clone())),
        ConnectorConfig::Webhook => Box::new(webhook::WebhookConnector),
    }
}
