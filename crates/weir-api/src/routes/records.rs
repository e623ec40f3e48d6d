//! `/api/v1/integration/records`: the business system's side, read-only
//! here (processing and syncs write records).

use axum::Json;
use axum::extract::{Path, State};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use weir_core::{FieldErrors, ids};
use weir_store::Record;

use super::events::parse_bound;
use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::{Data, List};
use crate::extract::{ApiQuery, PageParams};
use crate::policy::{EventAction, event as policy};
use crate::problem::{ApiError, Problem};

/// A record.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordOut {
    /// Entity type.
    pub entity_type: String,
    /// The outside system's id.
    pub external_id: String,
    /// Its fields as last written (after the field mapping).
    #[schema(value_type = Object)]
    pub data: Value,
    /// 1 on creation, +1 per change.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Record> for RecordOut {
    fn from(r: Record) -> Self {
        Self {
            entity_type: r.entity_type,
            external_id: r.external_id,
            data: r.data,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Record list filters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecordQuery {
    /// Only this entity type.
    pub entity_type: Option<String>,
    /// Only records changed after this time (RFC 3339 or a date).
    pub updated_after: Option<String>,
    /// Continue after the previous page (`meta.next_cursor`); with a cursor
    /// `page` is not used. Cursor pages follow `(updated_at, id)` order, so a
    /// sync client neither skips nor repeats rows.
    pub cursor: Option<String>,
    /// 1-based page.
    pub page: Option<u64>,
    /// 1 to 100.
    pub per_page: Option<u64>,
}

/// List records (viewer), oldest change first.
#[utoipa::path(get, path = "/api/v1/integration/records", tag = "records", security(("bearer" = [])),
    params(RecordQuery),
    responses(
        (status = 200, body = List<RecordOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_records(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(q): ApiQuery<RecordQuery>,
) -> Result<Json<List<RecordOut>>, ApiError> {
    caller.require(policy(EventAction::Read))?;
    let mut errors = FieldErrors::new();
    let updated_after = match q.updated_after.as_deref() {
        None => None,
        Some(s) => match parse_bound(s, false) {
            Some(t) => Some(t),
            None => {
                errors.add("updated_after", "must be a date (2026-01-10) or an RFC 3339 time");
                None
            }
        },
    };
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => {
            if q.page.is_some_and(|p| p != 1) {
                errors.add("page", "is not used with a cursor");
            }
            let parsed = decode_cursor(c);
            if parsed.is_none() {
                errors.add("cursor", "is not a cursor from meta.next_cursor");
            }
            parsed
        }
    };
    errors.into_result().map_err(ApiError::Validation)?;
    let page = PageParams { page: q.page, per_page: q.per_page }.parse()?;
    let cursor_paging = q.cursor.is_some();
    let paged = state.store.list_records(caller.scope(), q.entity_type.as_deref(), updated_after, after, page).await?;
    let next = (paged.items.len() as u64 == page.per_page()).then(|| paged.items.last().map(encode_cursor)).flatten();
    let items = paged.items.into_iter().map(RecordOut::from).collect();
    let list = List::new(items, page, paged.total);
    // Offset pages carry a cursor too, so a client can switch to it.
    Ok(Json(if cursor_paging || next.is_some() { list.with_next_cursor(next) } else { list }))
}

/// `base64url("<updated_at RFC 3339 µs>|<id>")`: opaque to clients.
fn encode_cursor(r: &Record) -> String {
    let raw = format!("{}|{}", r.updated_at.to_rfc3339_opts(SecondsFormat::Micros, true), r.id);
    URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(c: &str) -> Option<(DateTime<Utc>, String)> {
    if c.len() > 200 {
        return None;
    }
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
    let (t, id) = raw.split_once('|')?;
    let t = DateTime::parse_from_rfc3339(t).ok()?.with_timezone(&Utc);
    ids::is_valid_id(id).then(|| (t, id.to_owned()))
}

/// Show a record (viewer).
#[utoipa::path(get, path = "/api/v1/integration/records/{entity_type}/{external_id}", tag = "records",
    security(("bearer" = [])),
    params(
        ("entity_type" = String, Path, description = "Entity type"),
        ("external_id" = String, Path, description = "External id"),
    ),
    responses(
        (status = 200, body = Data<RecordOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_record(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path((entity_type, external_id)): Path<(String, String)>,
) -> Result<Json<Data<RecordOut>>, ApiError> {
    caller.require(policy(EventAction::Read))?;
    if entity_type.len() > 100 || external_id.len() > 255 {
        return Err(ApiError::NotFound);
    }
    Ok(Json(Data::new(state.store.get_record(caller.scope(), &entity_type, &external_id).await?.into())))
}
