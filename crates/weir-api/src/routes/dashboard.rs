//! `GET /api/v1/integration/dashboard` (admin): the tenant's numbers for a
//! range of UTC days (and `/dashboard/export`, the same as a CSV or JSON file), read from day rollups (`weir_store::repos::dashboard`)
//! and decided by one health rule set (`weir_core::health`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_core::connector_health::{Health, HealthInputs, health, success_rate};
use weir_core::{FieldErrors, RollupCounter, RunStatus};
use weir_store::{ConnectorActivity, Counts};

use super::events::parse_bound;
use super::sync_histories::SyncHistoryOut;
use crate::auth::TenantCaller;
use crate::envelope::Data;
use crate::extract::ApiQuery;
use crate::problem::{ApiError, Problem};
use crate::{AppState, download, policy};

/// Default range: the last 7 days, today included (CON-003).
pub const DEFAULT_DAYS: u64 = 7;
/// Longest range.
pub const MAX_DAYS: i64 = 366;
/// How many connectors `top_failing_connectors` lists.
pub const TOP_FAILING: usize = 5;

/// The days the dashboard covers, both included (UTC days).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// First day (a date, or an RFC 3339 time: its UTC day). Default: 6 days before `to`.
    pub from: Option<String>,
    /// Last day, included (a date, or an RFC 3339 time: its UTC day). Default: today.
    pub to: Option<String>,
}

/// The headline numbers.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryOut {
    /// Live connectors.
    pub total_connectors: u64,
    /// Of which in service.
    pub active_connectors: u64,
    /// Of which switched off.
    pub inactive_connectors: u64,
    /// Runs queued or running now.
    pub active_syncs: u64,
    /// Runs finished in the range (cancelled included).
    pub total_syncs: i64,
    /// Runs failed in the range.
    pub failed_syncs: i64,
    /// Successful activities (completed events, succeeded and partial runs) over all finished ones, 0..1 (1 with none).
    pub success_rate: f64,
    /// Errors in the range: refused deliveries, failed events and runs, per-record run errors.
    pub total_errors: i64,
    /// Events stored in the range (not duplicates, not refused requests).
    pub webhooks_received: i64,
    /// Events that failed for good in the range.
    pub webhooks_failed: i64,
}

/// One day of the trend.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrendOut {
    /// The UTC day.
    pub date: NaiveDate,
    /// Runs finished (cancelled included).
    pub total: i64,
    /// Runs succeeded: every record went through (partial runs are in `partial`).
    pub succeeded: i64,
    /// Runs finished with per-record errors.
    pub partial: i64,
    /// Runs failed.
    pub failed: i64,
    /// Records created or updated (runs and events).
    pub records_processed: i64,
}

/// Errors of one type.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorCountOut {
    /// Stable type (`signature_invalid`, `mapping_error`, …).
    pub error_type: String,
    /// How many in the range.
    pub count: i64,
}

/// A connector's health.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectorHealthOut {
    /// The connector it belongs to.
    pub connector_id: String,
    /// The connector's slug.
    pub code: String,
    /// Display name, as given.
    pub name: String,
    /// `healthy`, `degraded`, `failing` or `inactive` (docs/dashboard.md).
    pub status: Health,
    /// Its success rate in the range, 0..1.
    pub success_rate: f64,
    /// Failed activities since its last success.
    pub consecutive_failures: i32,
    /// Its last event outcome or finished run.
    pub last_activity_at: Option<DateTime<Utc>>,
    /// Failed activities in the range.
    pub failures: u64,
}

/// The dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardOut {
    /// First day of the range.
    pub from: NaiveDate,
    /// Last day of the range (included).
    pub to: NaiveDate,
    /// Headline numbers.
    pub summary: SummaryOut,
    /// One entry per day of the range, zero-filled.
    pub sync_trends: Vec<TrendOut>,
    /// Errors by type, most frequent first.
    pub error_breakdown: Vec<ErrorCountOut>,
    /// The 20 newest runs.
    pub recent_syncs: Vec<SyncHistoryOut>,
    /// Every connector's health.
    pub connector_health: Vec<ConnectorHealthOut>,
    /// The connectors with the most failures in the range (up to 5).
    pub top_failing_connectors: Vec<ConnectorHealthOut>,
}

fn day_of(s: &str, upper: bool) -> Option<NaiveDate> {
    // `parse_bound` maps an upper date to the next day's start: step back.
    let t = parse_bound(s, upper)?;
    if upper && NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() {
        return t.date_naive().pred_opt();
    }
    Some(t.date_naive())
}

impl DashboardQuery {
    fn range(&self, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), ApiError> {
        let mut e = FieldErrors::new();
        let to = match self.to.as_deref() {
            None => Some(today),
            Some(s) => day_of(s, true),
        };
        if to.is_none() {
            e.add("to", "must be a date (2026-01-10) or an RFC 3339 time");
        }
        let from = match self.from.as_deref() {
            None => to.and_then(|t| t.checked_sub_days(Days::new(DEFAULT_DAYS - 1))),
            Some(s) => day_of(s, false),
        };
        if from.is_none() {
            e.add("from", "must be a date (2026-01-10) or an RFC 3339 time");
        }
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                e.add("from", "must not be after to");
            } else if (t - f).num_days() + 1 > MAX_DAYS {
                e.add("to", format!("the range is at most {MAX_DAYS} days"));
            }
        }
        e.into_result().map_err(ApiError::Validation)?;
        Ok((from.unwrap_or(today), to.unwrap_or(today)))
    }
}

fn health_of(c: &ConnectorActivity) -> ConnectorHealthOut {
    let (successes, failures) = (c.counts.successes(), c.counts.failures());
    let status = health(HealthInputs {
        is_active: c.is_active,
        successes,
        failures,
        consecutive_failures: u32::try_from(c.consecutive_failures).unwrap_or(0),
        last_activity_failed: c.last_activity_failed,
    });
    ConnectorHealthOut {
        connector_id: c.connector_id.clone(),
        code: c.code.clone(),
        name: c.name.clone(),
        status,
        success_rate: success_rate(successes, failures),
        consecutive_failures: c.consecutive_failures,
        last_activity_at: c.last_activity_at,
        failures,
    }
}

fn trend(date: NaiveDate, c: &Counts) -> TrendOut {
    TrendOut {
        date,
        total: c.syncs_total,
        succeeded: c.syncs_succeeded,
        partial: c.syncs_partial,
        failed: c.syncs_failed,
        records_processed: c.records_processed,
    }
}

/// The tenant's dashboard for a range of days (admin).
#[utoipa::path(get, path = "/api/v1/integration/dashboard", tag = "dashboard", security(("bearer" = [])),
    params(DashboardQuery),
    responses(
        (status = 200, body = Data<DashboardOut>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn dashboard(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(q): ApiQuery<DashboardQuery>,
) -> Result<Json<Data<DashboardOut>>, ApiError> {
    caller.require(policy::dashboard())?;
    let (from, to) = q.range(Utc::now().date_naive())?;
    Ok(Json(Data::new(build(&state, &caller, from, to).await?)))
}

/// Range and file format of a report export.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// First day, as for the dashboard.
    pub from: Option<String>,
    /// Last day, as for the dashboard.
    pub to: Option<String>,
    /// `csv` (default) or `json`.
    #[param(pattern = "^(csv|json)$")]
    pub format: Option<String>,
}

/// The CSV report's columns: one long table, a row per number, so a
/// spreadsheet can pivot it (`section` is summary, trend, error or connector).
const CSV_HEADER: [&str; 5] = ["section", "date", "subject", "metric", "value"];

fn report_rows(d: &DashboardOut) -> Vec<Vec<String>> {
    let row = |section: &str, date: String, subject: &str, metric: &str, value: String| {
        vec![section.to_owned(), date, subject.to_owned(), metric.to_owned(), value]
    };
    let s = &d.summary;
    let range = format!("{}..{}", d.from, d.to);
    let mut rows = vec![CSV_HEADER.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()];
    for (metric, value) in [
        ("total_connectors", s.total_connectors.to_string()),
        ("active_connectors", s.active_connectors.to_string()),
        ("inactive_connectors", s.inactive_connectors.to_string()),
        ("active_syncs", s.active_syncs.to_string()),
        ("total_syncs", s.total_syncs.to_string()),
        ("failed_syncs", s.failed_syncs.to_string()),
        ("success_rate", s.success_rate.to_string()),
        ("total_errors", s.total_errors.to_string()),
        (RollupCounter::WebhooksReceived.as_str(), s.webhooks_received.to_string()),
        (RollupCounter::WebhooksFailed.as_str(), s.webhooks_failed.to_string()),
    ] {
        rows.push(row("summary", range.clone(), "", metric, value));
    }
    for t in &d.sync_trends {
        for (metric, value) in [
            ("total", t.total),
            (RunStatus::Succeeded.as_str(), t.succeeded),
            (RunStatus::Partial.as_str(), t.partial),
            (RunStatus::Failed.as_str(), t.failed),
            (RollupCounter::RecordsProcessed.as_str(), t.records_processed),
        ] {
            rows.push(row("trend", t.date.to_string(), "", metric, value.to_string()));
        }
    }
    for e in &d.error_breakdown {
        rows.push(row("error", range.clone(), &e.error_type, "count", e.count.to_string()));
    }
    for c in &d.connector_health {
        let last = c.last_activity_at.map(|t| t.to_rfc3339()).unwrap_or_default();
        for (metric, value) in [
            ("status", c.status.as_str().to_owned()),
            ("success_rate", c.success_rate.to_string()),
            ("consecutive_failures", c.consecutive_failures.to_string()),
            ("failures", c.failures.to_string()),
            ("last_activity_at", last),
        ] {
            rows.push(row("connector", range.clone(), &c.code, metric, value));
        }
    }
    rows
}

/// The dashboard report for a range as a file (admin): `csv` — one row per
/// number (`section,date,subject,metric,value`) — or `json`, the dashboard
/// document itself.
#[utoipa::path(get, path = "/api/v1/integration/dashboard/export", tag = "dashboard", security(("bearer" = [])),
    params(ExportQuery),
    responses(
        (status = 200, description = "CSV (section, date, subject, metric, value) or the dashboard as JSON, as an attachment",
            content((String = "text/csv"), (DashboardOut = "application/json"))),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn export_dashboard(
    State(state): State<AppState>,
    caller: TenantCaller,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    caller.require(policy::dashboard())?;
    let format = q.format.as_deref().unwrap_or("csv");
    if !matches!(format, "csv" | "json") {
        return Err(ApiError::field("format", "must be csv or json"));
    }
    let (from, to) = DashboardQuery { from: q.from, to: q.to }.range(Utc::now().date_naive())?;
    let report = build(&state, &caller, from, to).await?;
    let filename = format!("weir-dashboard-{from}-{to}.{format}");
    let (content_type, body) = if format == "csv" {
        ("text/csv; charset=utf-8", download::csv_rows(&report_rows(&report)))
    } else {
        let json = serde_json::to_vec(&report).map_err(|e| ApiError::Internal(Box::new(e)))?;
        ("application/json", Bytes::from(json))
    };
    let none = futures::stream::empty();
    Ok(download::attachment(content_type, &filename, body, none, Bytes::new()))
}

/// Reads and shapes the dashboard for `from..=to`.
async fn build(
    state: &AppState,
    caller: &TenantCaller,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<DashboardOut, ApiError> {
    let d = state.store.dashboard(caller.scope(), from, to).await?;
    let mut sync_trends = Vec::new();
    let mut day = from;
    let mut known = d.days.iter().peekable();
    while day <= to {
        let counts = match known.peek() {
            Some((k, c)) if *k == day => {
                known.next();
                *c
            }
            _ => Counts::default(),
        };
        sync_trends.push(trend(day, &counts));
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    let connector_health: Vec<ConnectorHealthOut> = d.connectors.iter().map(health_of).collect();
    let mut top: Vec<ConnectorHealthOut> =
        d.connectors.iter().filter(|c| c.counts.failures() > 0).map(health_of).collect();
    top.sort_by(|a, b| b.failures.cmp(&a.failures).then_with(|| a.code.cmp(&b.code)));
    top.truncate(TOP_FAILING);
    let active = d.connectors.iter().filter(|c| c.is_active).count() as u64;
    let t = d.totals;
    let summary = SummaryOut {
        total_connectors: d.connectors.len() as u64,
        active_connectors: active,
        inactive_connectors: d.connectors.len() as u64 - active,
        active_syncs: d.active_runs,
        total_syncs: t.syncs_total,
        failed_syncs: t.syncs_failed,
        success_rate: success_rate(t.successes(), t.failures()),
        total_errors: d.errors.iter().map(|(_, n)| n).sum(),
        webhooks_received: t.webhooks_received,
        webhooks_failed: t.webhooks_failed,
    };
    Ok(DashboardOut {
        from,
        to,
        summary,
        sync_trends,
        error_breakdown: d.errors.into_iter().map(|(error_type, count)| ErrorCountOut { error_type, count }).collect(),
        recent_syncs: d.recent_runs.into_iter().map(Into::into).collect(),
        connector_health,
        top_failing_connectors: top,
    })
}
