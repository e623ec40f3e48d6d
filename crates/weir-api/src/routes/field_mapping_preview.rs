//! `POST /api/v1/integration/field-mappings/preview` (viewer): rules that
//! are not saved yet, applied to a pasted sample or to a stored event's
//! payload — the console's mapping editor previews every keystroke with it.
//! Writes nothing.

use axum::Json;
use axum::extract::State;
use serde_json::Value;
use utoipa::ToSchema;
use weir_core::FieldErrors;
use weir_core::mapping::Mapping;

use super::field_mappings::{PreviewOut, preview_of, rules_of};
use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::Data;
use crate::extract::{ApiJson, refuse_unknown, take_field};
use crate::policy::{ConnectorAction, connector as policy};
use crate::problem::{ApiError, Problem};

/// Rules to try, and what to try them on: `sample` or `event_id`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // The schema of the body, which is read field by field.
pub struct DraftPreviewIn {
    /// The record key's target.
    key: String,
    /// Rules, as a mapping holds them.
    #[schema(value_type = Vec<Object>)]
    rules: Vec<Value>,
    /// A payload to map.
    #[schema(value_type = Option<Object>)]
    sample: Option<Value>,
    /// Or a stored event of the tenant, whose payload (as received) is mapped.
    event_id: Option<String>,
}

/// Apply unsaved rules to a sample or a stored event (viewer); writes
/// nothing. Bad rules are 422 naming each (`rules[1].source`), as saving
/// would be.
#[utoipa::path(post, path = "/api/v1/integration/field-mappings/preview", tag = "field-mappings",
    security(("bearer" = [])),
    request_body = DraftPreviewIn,
    responses(
        (status = 200, body = Data<PreviewOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`event_id` names no event of the tenant", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn preview_draft(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Data<PreviewOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Read))?;
    let Value::Object(mut body) = body else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    let mut errors = FieldErrors::new();
    refuse_unknown(&body, &["key", "rules", "sample", "event_id"], &mut errors);
    let key = take_field::<String>(&mut body, "key", &mut errors);
    let rules = take_field::<Vec<Value>>(&mut body, "rules", &mut errors).map(|r| rules_of(r, &mut errors));
    let sample = body.remove("sample").filter(|v| !v.is_null());
    let event_id = match body.contains_key("event_id") {
        true => take_field::<Option<String>>(&mut body, "event_id", &mut errors).flatten(),
        false => None,
    };
    if sample.is_some() == event_id.is_some() {
        errors.add("sample", "give either a sample or an event_id");
    }
    let mapping = match rules.map(Mapping::parse) {
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => {
            errors.merge(e);
            None
        }
        None => None,
    };
    let (Some(key), Some(mapping)) = (key, mapping) else { return Err(ApiError::Validation(errors)) };
    errors.into_result().map_err(ApiError::Validation)?;
    let sample = match (sample, event_id) {
        (Some(s), _) => s,
        (None, Some(id)) => event_payload(&state, &caller, &id).await?,
        (None, None) => return Err(ApiError::field("sample", "give either a sample or an event_id")),
    };
    Ok(Json(Data::new(preview_of(&mapping, &key, &sample))))
}

/// A stored event's payload, parsed as processing parses it.
async fn event_payload(state: &AppState, caller: &TenantCaller, id: &str) -> Result<Value, ApiError> {
    let event = state.store.get_event(caller.scope(), id).await?;
    let Some(payload) = event.payload else {
        return Err(ApiError::Unprocessable("this event's payload is gone (retention)".into()));
    };
    serde_json::from_str(&payload.text())
        .map_err(|_| ApiError::Unprocessable("this event's payload is not JSON".into()))
}
