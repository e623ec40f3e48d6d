//! `POST /api/v1/integration/connectors/test-connection` (admin): a
//! connection test of settings not saved yet — a new connector, or changes
//! to one — which the console's forms offer before Save. It writes nothing
//! but its audit entry.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use weir_core::{ConnectorConfig, ConnectorType, Credentials, FieldErrors};

use super::input::{open, stored_config};
use super::types::ConnectionTestOut;
use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::Data;
use crate::extract::ApiJson;
use crate::policy::{ConnectorAction, connector as policy};
use crate::problem::{ApiError, Problem};

/// Settings to test, as a create body carries them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionProbeIn {
    /// `http` (a `webhook` connector has no remote: 422).
    #[serde(rename = "type")]
    #[schema(value_type = weir_core::ConnectorType)]
    pub connector_type: String,
    /// As on create: `{"base_url", "health_path", "headers", "timeout_ms", "auth"}`.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Write-only secrets for `config.auth.type`. Leave out, with
    /// `connector_id`, to use that connector's stored ones.
    #[schema(value_type = Option<Object>)]
    pub credentials: Option<Value>,
    /// The saved connector these settings would change. Its stored
    /// credentials are used only with its own `base_url`: they are never
    /// sent to another address without a saved (and, in production,
    /// approved) change.
    pub connector_id: Option<String>,
}

/// Test connector settings before saving them (admin). Answers as the
/// saved connector's test does.
#[utoipa::path(post, path = "/api/v1/integration/connectors/test-connection", tag = "connectors",
    security(("bearer" = [])),
    request_body = ConnectionProbeIn,
    responses(
        (status = 200, body = Data<ConnectionTestOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`connector_id` names no connector of the tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn probe_connection(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<ConnectionProbeIn>,
) -> Result<Json<Data<ConnectionTestOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Create))?;
    let connector_id = body.connector_id.clone();
    let (config, credentials) = body.parse(&state, &caller).await?;
    let details = json!({"unsaved": true});
    super::run_test(&state, &caller, &config, credentials, connector_id.as_deref(), details).await
}

impl ConnectionProbeIn {
    async fn parse(self, state: &AppState, caller: &TenantCaller) -> Result<(ConnectorConfig, Credentials), ApiError> {
        let kind = self
            .connector_type
            .parse::<ConnectorType>()
            .map_err(|e| ApiError::Validation(FieldErrors::single("type", e.to_string())))?;
        let config = ConnectorConfig::parse(kind, self.config.as_ref()).map_err(ApiError::Validation)?;
        let ConnectorConfig::Http(http) = &config else {
            return Err(ApiError::Unprocessable("a webhook connector has no remote to test".into()));
        };
        let auth = config.auth_type();
        let credentials = match (self.credentials, self.connector_id) {
            (Some(raw), _) => Credentials::parse(auth, Some(&raw)).map_err(ApiError::Validation)?,
            (None, Some(id)) => {
                let saved = state.store.get_connector(caller.scope(), &id).await?;
                let same_address = match stored_config(&saved)? {
                    ConnectorConfig::Http(s) => s.base_url == http.base_url,
                    ConnectorConfig::Webhook => false,
                };
                if !same_address {
                    return Err(ApiError::Validation(FieldErrors::single(
                        "credentials",
                        "enter the credentials to test another base_url: stored ones are only sent to the connector's own",
                    )));
                }
                let sealed = state.store.connector_credentials(caller.scope(), &id).await?;
                let stored = open(&state.master_key, sealed.as_ref())?;
                if stored.auth_type() != auth {
                    let needs = format!("auth type {auth} needs credentials");
                    return Err(ApiError::Validation(FieldErrors::single("credentials", needs)));
                }
                stored
            }
            (None, None) => Credentials::parse(auth, None).map_err(ApiError::Validation)?,
        };
        Ok((config, credentials))
    }
}
