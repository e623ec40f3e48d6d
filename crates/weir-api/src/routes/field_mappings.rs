//! `/api/v1/integration/field-mappings`: named rule sets that turn payloads
//! into records. Rules are validated when saved (unknown op, bad path →
//! 422); `POST /{id}/preview` applies them to a sample and writes nothing.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use weir_core::FieldErrors;
use weir_core::mapping::{Mapping, Rule, RuleError};
use weir_core::tenant::parse_display_name;
use weir_store::{FieldMapping, MappingSpec};

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiJson, ApiQuery, Id, PageParams, refuse_unknown, take_field};
use crate::policy::{ConnectorAction, connector as policy};
use crate::problem::{ApiError, Problem};

/// Body of a field mapping (create, or full replacement with PATCH).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldMappingIn {
    /// Unique name in the tenant.
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// The record type produced, e.g. `customer`.
    #[schema(pattern = r"^[a-z0-9_.-]{1,100}$")]
    pub entity_type: String,
    /// The target field that identifies a record (one of the rules' targets).
    pub key: String,
    /// `[{"source", "target", "transforms": [{"op", …}], "default", "required"}]`.
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<Rule>,
}

/// A field mapping.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldMappingOut {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// Display name, as given.
    pub name: String,
    /// Record type.
    pub entity_type: String,
    /// Key target.
    pub key: String,
    /// `[{"source", "target", "transforms": [{"op", …}], "default", "required"}]`, applied in order.
    #[schema(value_type = Vec<Object>)]
    pub rules: Value,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<FieldMapping> for FieldMappingOut {
    fn from(m: FieldMapping) -> Self {
        Self {
            id: m.id,
            name: m.name,
            entity_type: m.entity_type,
            key: m.key,
            rules: m.rules,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// Body of a preview.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewIn {
    /// A payload to map.
    #[schema(value_type = Object)]
    pub sample: Value,
}

/// One rule's failure.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleErrorOut {
    /// The rule's target.
    pub target: String,
    /// What went wrong.
    pub message: String,
}

/// The result of a preview.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewOut {
    /// The record the sample maps to.
    #[schema(value_type = Object)]
    pub output: Map<String, Value>,
    /// Every rule that failed.
    pub errors: Vec<RuleErrorOut>,
}

/// List filter.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FieldMappingQuery {
    /// Only this record type.
    pub entity_type: Option<String>,
    /// 1-based page.
    pub page: Option<u64>,
    /// 1 to 100.
    pub per_page: Option<u64>,
}

/// Each rule read on its own, so a 422 names every bad one (`rules[2]…`).
pub(crate) fn rules_of(rules: Vec<Value>, errors: &mut FieldErrors) -> Vec<Rule> {
    let mut parsed = Vec::with_capacity(rules.len());
    for (i, rule) in rules.into_iter().enumerate() {
        let mut holder = serde_json::Map::from_iter([(format!("rules[{i}]"), rule)]);
        parsed.extend(take_field::<Rule>(&mut holder, &format!("rules[{i}]"), errors));
    }
    parsed
}

/// The result of applying `mapping` (keyed by `key`) to `sample`: the
/// record and every rule's error, the missing key included.
pub(crate) fn preview_of(mapping: &Mapping, key: &str, sample: &Value) -> PreviewOut {
    let result = mapping.apply(sample);
    let mut errors: Vec<RuleErrorOut> =
        result.errors.into_iter().map(|RuleError { target, message }| RuleErrorOut { target, message }).collect();
    if !result.output.contains_key(key) && !errors.iter().any(|e| e.target == key) {
        errors.push(RuleErrorOut { target: key.to_owned(), message: "the record key is missing".to_owned() });
    }
    PreviewOut { output: result.output, errors }
}

impl FieldMappingIn {
    /// The body, field by field and rule by rule, so a 422 names every bad
    /// field and every bad rule at once (`rules[2].transforms[0]`), not
    /// only the first one serde meets.
    fn from_json(body: Value) -> Result<Self, ApiError> {
        let Value::Object(mut body) = body else {
            return Err(ApiError::field("body", "must be a JSON object"));
        };
        let mut errors = FieldErrors::new();
        refuse_unknown(&body, &["name", "entity_type", "key", "rules"], &mut errors);
        let name = take_field::<String>(&mut body, "name", &mut errors);
        let entity_type = take_field::<String>(&mut body, "entity_type", &mut errors);
        let key = take_field::<String>(&mut body, "key", &mut errors);
        let rules = take_field::<Vec<Value>>(&mut body, "rules", &mut errors).map(|r| rules_of(r, &mut errors));
        match (name, entity_type, key, rules) {
            (Some(name), Some(entity_type), Some(key), Some(rules)) if errors.is_empty() => {
                Ok(Self { name, entity_type, key, rules })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }

    fn parse(self) -> Result<MappingSpec, ApiError> {
        let mut errors = FieldErrors::new();
        let name = errors.check("name", parse_display_name(&self.name, 200));
        if !weir_core::sync::is_entity_type(&self.entity_type) {
            errors.add("entity_type", "must be 1 to 100 of a-z, 0-9, '_', '.', '-'");
        }
        if !self.rules.iter().any(|r| r.target == self.key) {
            errors.add("key", "must be the target of one of the rules");
        }
        let rules_json = serde_json::to_value(&self.rules).map_err(|e| ApiError::Internal(Box::new(e)))?;
        if let Err(e) = Mapping::parse(self.rules) {
            errors.merge(e);
        }
        errors.into_result().map_err(ApiError::Validation)?;
        Ok(MappingSpec {
            name: name.unwrap_or_default(),
            entity_type: self.entity_type,
            key: self.key,
            rules: rules_json,
        })
    }
}

/// List field mappings (viewer).
#[utoipa::path(get, path = "/api/v1/integration/field-mappings", tag = "field-mappings", security(("bearer" = [])),
    params(FieldMappingQuery),
    responses(
        (status = 200, body = List<FieldMappingOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_field_mappings(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(q): ApiQuery<FieldMappingQuery>,
) -> Result<Json<List<FieldMappingOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Read))?;
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let paged = state.store.list_field_mappings(caller.scope(), q.entity_type.as_deref(), page).await?;
    Ok(Json(List::new(paged.items.into_iter().map(FieldMappingOut::from).collect(), page, paged.total)))
}

/// Create a field mapping (admin).
#[utoipa::path(post, path = "/api/v1/integration/field-mappings", tag = "field-mappings", security(("bearer" = [])),
    request_body = FieldMappingIn,
    responses(
        (status = 201, body = Data<FieldMappingOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_field_mapping(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Data<FieldMappingOut>>), ApiError> {
    caller.require(policy(ConnectorAction::Create))?;
    let spec = FieldMappingIn::from_json(body)?.parse()?;
    let m = state.store.create_field_mapping(caller.scope(), spec, &caller.actor()).await?;
    Ok((StatusCode::CREATED, Json(Data::new(m.into()))))
}

/// Show a field mapping (viewer).
#[utoipa::path(get, path = "/api/v1/integration/field-mappings/{id}", tag = "field-mappings", security(("bearer" = [])),
    params(("id" = String, Path, description = "Field mapping id")),
    responses(
        (status = 200, body = Data<FieldMappingOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_field_mapping(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<Json<Data<FieldMappingOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Read))?;
    Ok(Json(Data::new(state.store.get_field_mapping(caller.scope(), &id).await?.into())))
}

/// Replace a field mapping (admin); the body is a whole mapping.
#[utoipa::path(patch, path = "/api/v1/integration/field-mappings/{id}", tag = "field-mappings", security(("bearer" = [])),
    params(("id" = String, Path, description = "Field mapping id")),
    request_body = FieldMappingIn,
    responses(
        (status = 200, body = Data<FieldMappingOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_field_mapping(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Data<FieldMappingOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Update))?;
    let spec = FieldMappingIn::from_json(body)?.parse()?;
    let m = state.store.update_field_mapping(caller.scope(), &id, spec, &caller.actor()).await?;
    Ok(Json(Data::new(m.into())))
}

/// Delete a field mapping (admin); 409 while a sync configuration uses it.
#[utoipa::path(delete, path = "/api/v1/integration/field-mappings/{id}", tag = "field-mappings", security(("bearer" = [])),
    params(("id" = String, Path, description = "Field mapping id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_field_mapping(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    caller.require(policy(ConnectorAction::Delete))?;
    state.store.delete_field_mapping(caller.scope(), &id, &caller.actor()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Map a sample payload with a stored mapping (viewer); writes nothing.
#[utoipa::path(post, path = "/api/v1/integration/field-mappings/{id}/preview", tag = "field-mappings",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Field mapping id")),
    request_body = PreviewIn,
    responses(
        (status = 200, body = Data<PreviewOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn preview_field_mapping(
    State(state): State<AppState>,
    caller: TenantCaller,
    Id(id): Id,
    ApiJson(body): ApiJson<PreviewIn>,
) -> Result<Json<Data<PreviewOut>>, ApiError> {
    caller.require(policy(ConnectorAction::Read))?;
    let m = state.store.get_field_mapping(caller.scope(), &id).await?;
    let mapping = stored_mapping(&m)?;
    Ok(Json(Data::new(preview_of(&mapping, &m.key, &body.sample))))
}

/// A stored mapping's rules, ready to apply (they were valid when saved,
/// so a failure here is the server's, not the caller's).
pub(crate) fn stored_mapping(m: &FieldMapping) -> Result<Mapping, ApiError> {
    let rules: Vec<Rule> = serde_json::from_value(m.rules.clone())
        .map_err(|e| ApiError::Internal(format!("stored rules of mapping {} are invalid: {e}", m.id).into()))?;
    Mapping::parse(rules)
        .map_err(|e| ApiError::Internal(format!("stored rules of mapping {} are invalid: {e:?}", m.id).into()))
}
