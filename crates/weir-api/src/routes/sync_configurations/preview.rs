//! `GET /api/v1/integration/sync-configurations/schedule-preview` (viewer):
//! the next times a cron schedule fires, in UTC, as the scheduler computes
//! them — what the console's schedule field shows while one types.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weir_core::FieldErrors;
use weir_core::sync::Schedule;

use crate::AppState;
use crate::auth::TenantCaller;
use crate::envelope::Data;
use crate::extract::ApiQuery;
use crate::policy::{SyncAction, sync as policy};
use crate::problem::{ApiError, Problem};

/// Most firings one preview lists.
const MAX_COUNT: usize = 20;

/// A schedule to preview.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SchedulePreviewQuery {
    /// A cron expression, evaluated in UTC (as a configuration's `schedule`).
    pub schedule: String,
    /// How many firings, 1 to 20 (default 5).
    pub count: Option<usize>,
}

/// The next firings of a schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchedulePreviewOut {
    /// The expression, trimmed.
    pub schedule: String,
    /// The next firings strictly after now, oldest first, in UTC.
    pub next_runs: Vec<DateTime<Utc>>,
}

/// The next times a schedule fires (viewer); 422 names a schedule that
/// does not parse or never fires.
#[utoipa::path(get, path = "/api/v1/integration/sync-configurations/schedule-preview", tag = "sync-configurations",
    security(("bearer" = [])),
    params(SchedulePreviewQuery),
    responses(
        (status = 200, body = Data<SchedulePreviewOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn schedule_preview(
    State(_state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(query): ApiQuery<SchedulePreviewQuery>,
) -> Result<Json<Data<SchedulePreviewOut>>, ApiError> {
    caller.require(policy(SyncAction::Read))?;
    let mut errors = FieldErrors::new();
    let schedule = errors.check("schedule", Schedule::parse(&query.schedule)); // not a state: the field name
    let count = query.count.unwrap_or(5);
    if !(1..=MAX_COUNT).contains(&count) {
        errors.add("count", format!("must be between 1 and {MAX_COUNT}"));
    }
    match schedule {
        Some(s) if errors.is_empty() => Ok(Json(Data::new(SchedulePreviewOut {
            schedule: s.as_str().to_owned(),
            next_runs: s.upcoming(Utc::now(), count),
        }))),
        _ => Err(ApiError::Validation(errors)),
    }
}
