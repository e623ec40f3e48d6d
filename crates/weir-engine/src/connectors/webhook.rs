//! `webhook` connectors are inbound only: the outside system calls Weir.

use serde_json::Value;

use super::{ConnectionTest, Connector, ConnectorError, FetchedPage, PushOutcome};

/// The message for every outbound operation on a webhook connector.
pub const INBOUND_ONLY: &str = "a webhook connector is inbound only: it has no remote to test, fetch from or push to";

/// A connector that only receives.
pub struct WebhookConnector;

#[async_trait::async_trait]
impl Connector for WebhookConnector {
    async fn test_connection(&self) -> Result<ConnectionTest, ConnectorError> {
        Err(ConnectorError::Unsupported(INBOUND_ONLY))
    }

    async fn fetch_page(&self, _path: &str, _query: &[(String, String)]) -> Result<FetchedPage, ConnectorError> {
        Err(ConnectorError::Unsupported(INBOUND_ONLY))
    }

    async fn push_batch(&self, _path: &str, _records: &[Value]) -> Result<PushOutcome, ConnectorError> {
        Err(ConnectorError::Unsupported(INBOUND_ONLY))
    }
}
