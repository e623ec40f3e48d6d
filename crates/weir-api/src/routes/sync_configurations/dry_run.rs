//! `POST /api/v1/integration/sync-configurations/dry-run` (admin): an
//! inbound source tried before it is saved — its first page fetched through
//! the connector, as a run would fetch it, and up to 10 records mapped.
//! Nothing is written. Its credentials go only where a run would send them:
//! the connector's own `base_url` plus the source path.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use weir_core::sync::SourceSpec;
use weir_core::{ConnectorConfig, FieldErrors};
use weir_engine::build_connector;
use weir_engine::sync::dry_run::{DryRun, dry_run};

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::Data;
use crate::extract::ApiJson;
use crate::policy::{SyncAction, sync as policy};
use crate::problem::{ApiError, Problem};
use crate::routes::connectors::{open, stored_config};

/// What to try: the source of an inbound configuration, on a connector,
/// with a mapping.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunIn {
    /// An `http` connector of the tenant.
    pub connector_id: String,
    /// The mapping the records would go through.
    pub field_mapping_id: String,
    /// `{"path", "records_path", "pagination"}`, as a configuration holds it.
    #[schema(value_type = Object)]
    pub source: Value,
}

/// One mapped record.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRecordOut {
    /// Its key.
    pub external_id: String,
    /// What a run would store.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// A record that would fail.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryErrorOut {
    /// Its position on the page, from 1.
    pub item: usize,
    /// Why.
    pub message: String,
}

/// What the first page would do.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunOut {
    /// Records on the page.
    pub items: usize,
    /// The first 10 of them, mapped.
    pub records: Vec<DryRecordOut>,
    /// Those of the first 10 that would fail to map.
    pub errors: Vec<DryErrorOut>,
    /// Whether the source says there is another page.
    pub more_pages: bool,
    /// Why the page could not be read (refused, HTTP error, no list at `records_path`).
    pub failure: Option<String>,
}

impl From<DryRun> for DryRunOut {
    fn from(d: DryRun) -> Self {
        Self {
            items: d.items,
            records: d.records.into_iter().map(|r| DryRecordOut { external_id: r.external_id, data: r.data }).collect(),
            errors: d.errors.into_iter().map(|e| DryErrorOut { item: e.item, message: e.message }).collect(),
            more_pages: d.more_pages,
            failure: d.failure,
        }
    }
}

/// Fetch an inbound source's first page and map it, writing nothing (admin).
#[utoipa::path(post, path = "/api/v1/integration/sync-configurations/dry-run", tag = "sync-configurations",
    security(("bearer" = [])),
    request_body = DryRunIn,
    responses(
        (status = 200, description = "The page was asked for; `failure` says if it could not be read", body = Data<DryRunOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such connector or mapping in the tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn dry_run_source(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<DryRunIn>,
) -> Result<Json<Data<DryRunOut>>, ApiError> {
    caller.require(policy(SyncAction::Manage))?;
    let mut errors = FieldErrors::new();
    let source = match serde_json::from_value::<SourceSpec>(body.source) {
        Ok(s) => {
            s.validate(&mut errors);
            Some(s)
        }
        Err(e) => {
            errors.add("source", e.to_string());
            None
        }
    };
    errors.into_result().map_err(ApiError::Validation)?;
    let Some(source) = source else { return Err(ApiError::field("source", "is required")) };
    let connector = state.store.get_connector(caller.scope(), &body.connector_id).await?;
    let config = stored_config(&connector)?;
    if matches!(config, ConnectorConfig::Webhook) {
        return Err(ApiError::field("connector_id", "a webhook connector has no API to pull from"));
    }
    let m = state.store.get_field_mapping(caller.scope(), &body.field_mapping_id).await?;
    let mapping = crate::routes::field_mappings::stored_mapping(&m)?;
    let sealed = state.store.connector_credentials(caller.scope(), &connector.id).await?;
    let remote = build_connector(&config, open(&state.master_key, sealed.as_ref())?, &state.outbound);
    let run = dry_run(remote.as_ref(), &source, &mapping, &m.key).await;
    Ok(Json(Data::new(run.into())))
}
