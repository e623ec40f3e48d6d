//! Sync configurations: what moves between a connector and the records
//! store, when, and how. This module decides which combinations are valid
//! (direction × trigger × connector type), parses cron schedules, source
//! pagination and HTTP destinations, and matches event types to routes.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::connector::ConnectorType;
use crate::enums::{NotOneOf, string_enum};
use crate::mapping::JsonPath;

string_enum!(
    /// Which way data moves.
    Direction { Inbound = "inbound", Outbound = "outbound" }
);
string_enum!(
    /// What starts a run.
    Trigger { Webhook = "webhook", Schedule = "schedule", Manual = "manual" }
);

/// The event type that matches every event.
pub const ANY_EVENT_TYPE: &str = "*";
/// Most event types one configuration may list.
pub const MAX_EVENT_TYPES: usize = 100;
/// Default HTTP destination timeout.
pub const DEFAULT_DESTINATION_TIMEOUT_MS: u64 = 10_000;

/// True for a valid entity type: 1 to 100 of `a-z`, `0-9`, `_`, `.`, `-`.
pub fn is_entity_type(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
}

/// True when a configuration listing `patterns` takes events of `event_type`
/// (an exact match, or `*`).
pub fn event_type_matches(patterns: &[String], event_type: &str) -> bool {
    patterns.iter().any(|p| p == ANY_EVENT_TYPE || p == event_type)
}

/// Why a combination of settings is refused: `(field, message)`.
pub type Refusal = (&'static str, &'static str);

/// Checks that direction, trigger and connector type go together, and which
/// of `source`, `destination`, `schedule`, `event_types` and a mapping the
/// combination needs. `has_*` say what the request supplied.
pub fn check_shape(
    direction: Direction,
    trigger: Trigger,
    connector_type: ConnectorType,
    has: Supplied,
) -> Vec<Refusal> {
    let mut out = Vec::new();
    match trigger {
        Trigger::Webhook => {
            if direction != Direction::Inbound {
                out.push(("trigger", "a webhook trigger moves data inbound; use direction \"inbound\""));
            }
            if !has.event_types {
                out.push(("event_types", "a webhook configuration lists at least one event type (or \"*\")"));
            }
            if has.source {
                out.push(("source", "a webhook configuration reads the events it receives, not a source"));
            }
        }
        Trigger::Schedule | Trigger::Manual => {
            if connector_type == ConnectorType::Webhook {
                out.push(("connector_id", "a webhook connector has no API to pull from or push to"));
            }
            if has.event_types {
                out.push(("event_types", "only a webhook configuration lists event types"));
            }
            match direction {
                Direction::Inbound if !has.source => {
                    out.push(("source", "an inbound run needs a source {\"path\", …}"));
                }
                Direction::Outbound if !has.destination => {
                    out.push(("destination", "an outbound run needs a destination {\"path\"}"));
                }
                _ => {}
            }
        }
    }
    match (trigger, has.schedule) {
        (Trigger::Schedule, false) => out.push(("schedule", "a scheduled configuration needs a cron schedule")),
        (Trigger::Webhook | Trigger::Manual, true) => {
            out.push(("schedule", "only a configuration with trigger \"schedule\" has a schedule"));
        }
        _ => {}
    }
    if direction == Direction::Inbound && !has.field_mapping {
        out.push(("field_mapping_id", "inbound data is turned into records by a field mapping"));
    }
    out
}

/// What a sync configuration request supplied, for [`check_shape`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Supplied {
    /// Non-empty `event_types`.
    pub event_types: bool,
    /// A `source`.
    pub source: bool,
    /// A `destination`.
    pub destination: bool,
    /// A `schedule`.
    pub schedule: bool,
    /// A `field_mapping_id`.
    pub field_mapping: bool,
}

/// A parsed cron schedule (5 fields, or 6 with seconds), evaluated in UTC.
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    cron: croner::Cron,
}

/// A schedule that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("not a cron schedule: {0}")]
pub struct InvalidSchedule(String);

impl Schedule {
    /// Parses a cron expression such as `*/15 * * * *`.
    pub fn parse(s: &str) -> Result<Self, InvalidSchedule> {
        let text = s.trim();
        if text.is_empty() || text.len() > 200 {
            return Err(InvalidSchedule("must be 1 to 200 characters".to_owned()));
        }
        let cron = croner::Cron::from_str(text).map_err(|e| InvalidSchedule(e.to_string()))?;
        // A pattern that never fires (e.g. 30 February) is refused now rather
        // than silently never running.
        let schedule = Self { text: text.to_owned(), cron };
        if schedule.next_after(Utc::now()).is_none() {
            return Err(InvalidSchedule("never fires".to_owned()));
        }
        Ok(schedule)
    }

    /// The first time strictly after `t` the schedule fires, if any.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&t, false).ok()
    }

    /// The next `n` times strictly after `t` the schedule fires (fewer if
    /// it stops firing): what a form shows as "next runs".
    pub fn upcoming(&self, t: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        std::iter::successors(self.next_after(t), |at| self.next_after(*at)).take(n).collect()
    }

    /// The expression as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// How an inbound run pages through a source (API.md § Sync configurations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pagination {
    /// One request.
    None,
    /// `?page=n` from `start`, until `next_path` is null/absent or a page is empty.
    Page {
        /// Query parameter.
        #[serde(default = "default_page_param")]
        param: String,
        /// First page number.
        #[serde(default = "default_page_start")]
        start: u64,
        /// Where the body says there is a next page.
        #[serde(default)]
        next_path: Option<String>,
    },
    /// `?offset=n&limit=m`.
    Offset {
        /// Offset parameter.
        #[serde(default = "default_offset_param")]
        offset_param: String,
        /// Limit parameter.
        #[serde(default = "default_limit_param")]
        limit_param: String,
        /// Page size.
        #[serde(default = "default_limit")]
        limit: u64,
    },
    /// `?cursor=…` taken from the body at `next_path`.
    Cursor {
        /// Query parameter.
        #[serde(default = "default_cursor_param")]
        param: String,
        /// Where the body holds the next cursor.
        next_path: String,
    },
    /// RFC 8288 `Link: <…>; rel="next"`.
    LinkHeader,
}

fn default_page_param() -> String {
    "page".to_owned()
}
fn default_page_start() -> u64 {
    1
}
fn default_offset_param() -> String {
    "offset".to_owned()
}
fn default_limit_param() -> String {
    "limit".to_owned()
}
fn default_limit() -> u64 {
    100
}
fn default_cursor_param() -> String {
    "cursor".to_owned()
}
fn default_pagination() -> Pagination {
    Pagination::None
}

/// Where an inbound run reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Path under the connector's `base_url`, e.g. `/customers`.
    pub path: String,
    /// Where the records are in a page's body (`data`); absent: the body is the list.
    #[serde(default)]
    pub records_path: Option<String>,
    /// How to page.
    #[serde(default = "default_pagination")]
    pub pagination: Pagination,
}

/// Where mapped records go: the connector's API (`path`, outbound runs) or
/// the business system's endpoint (`url`, records written by webhooks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationSpec {
    /// Path under the connector's `base_url` (outbound runs).
    #[serde(default)]
    pub path: Option<String>,
    /// Absolute `http(s)` URL (webhook configurations).
    #[serde(default)]
    pub url: Option<String>,
    /// Per-request timeout, 100 to 25 000 ms.
    #[serde(default = "default_destination_timeout")]
    pub timeout_ms: u64,
}

fn default_destination_timeout() -> u64 {
    DEFAULT_DESTINATION_TIMEOUT_MS
}

fn is_api_path(p: &str) -> bool {
    p.starts_with('/') && p.len() <= 2000 && !p.chars().any(|c| c.is_control() || c.is_whitespace())
}

fn check_json_path(errors: &mut crate::FieldErrors, field: &str, p: &str) {
    if let Err(e) = JsonPath::parse(p) {
        errors.add(field, e.to_string());
    }
}

impl SourceSpec {
    /// Checks paths and pagination; messages are keyed under `source.*`.
    pub fn validate(&self, errors: &mut crate::FieldErrors) {
        if !is_api_path(&self.path) {
            errors.add("source.path", "must be a path starting with '/', without spaces");
        }
        if let Some(p) = &self.records_path {
            check_json_path(errors, "source.records_path", p);
        }
        match &self.pagination {
            Pagination::Page { param, next_path, .. } => {
                check_param(errors, "source.pagination.param", param);
                if let Some(p) = next_path {
                    check_json_path(errors, "source.pagination.next_path", p);
                }
            }
            Pagination::Offset { offset_param, limit_param, limit } => {
                check_param(errors, "source.pagination.offset_param", offset_param);
                check_param(errors, "source.pagination.limit_param", limit_param);
                if !(1..=10_000).contains(limit) {
                    errors.add("source.pagination.limit", "must be 1 to 10000");
                }
            }
            Pagination::Cursor { param, next_path } => {
                check_param(errors, "source.pagination.param", param);
                check_json_path(errors, "source.pagination.next_path", next_path);
            }
            Pagination::None | Pagination::LinkHeader => {}
        }
    }
}

fn check_param(errors: &mut crate::FieldErrors, field: &str, p: &str) {
    if p.is_empty() || p.len() > 100 || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.[]".contains(&b)) {
        errors.add(field, "must be 1 to 100 of A-Z, a-z, 0-9, '_', '-', '.', '[', ']'");
    }
}

impl DestinationSpec {
    /// Checks the destination for `trigger`: webhook configurations deliver
    /// to an absolute `url`; runs push to a connector `path`.
    pub fn validate(&self, trigger: Trigger, errors: &mut crate::FieldErrors) {
        if !(100..=25_000).contains(&self.timeout_ms) {
            errors.add("destination.timeout_ms", "must be 100 to 25000");
        }
        if trigger == Trigger::Webhook {
            if self.path.is_some() {
                errors.add("destination.path", "a webhook configuration delivers to a `url`");
            }
            match self.url.as_deref().map(url::Url::parse) {
                None => errors.add("destination.url", "is required"),
                Some(Ok(u)) if !u.username().is_empty() || u.password().is_some() => {
                    errors.add("destination.url", "must not carry credentials; the signature authenticates Weir")
                }
                Some(Ok(u)) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                Some(_) => errors.add("destination.url", "must be an absolute http(s) URL"),
            }
        } else {
            if self.url.is_some() {
                errors.add("destination.url", "a run pushes to the connector's `path`");
            }
            match self.path.as_deref() {
                Some(p) if is_api_path(p) => {}
                _ => errors.add("destination.path", "must be a path starting with '/', without spaces"),
            }
        }
    }
}

/// Compares two ordering values (a record's and an incoming one): as
/// instants when both are RFC 3339 times, as numbers when both are numbers,
/// else as text.
pub fn compare_ordering(a: &str, b: &str) -> Ordering {
    if let (Ok(x), Ok(y)) = (DateTime::parse_from_rfc3339(a), DateTime::parse_from_rfc3339(b)) {
        return x.cmp(&y);
    }
    if let (Ok(x), Ok(y)) = (a.parse::<f64>(), b.parse::<f64>())
        && let Some(o) = x.partial_cmp(&y)
    {
        return o;
    }
    a.cmp(b)
}

/// The text of a mapped ordering field's value (strings as they are,
/// numbers and booleans printed); `None` for null, arrays and objects.
pub fn ordering_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.chars().take(200).collect()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FieldErrors;

    #[test]
    fn shapes_are_checked() {
        let webhook = Supplied { event_types: true, field_mapping: true, ..Supplied::default() };
        assert!(check_shape(Direction::Inbound, Trigger::Webhook, ConnectorType::Webhook, webhook).is_empty());
        let refusals = check_shape(Direction::Outbound, Trigger::Webhook, ConnectorType::Webhook, webhook);
        assert_eq!(refusals[0].0, "trigger");
        let pull = Supplied { source: true, schedule: true, field_mapping: true, ..Supplied::default() };
        assert!(check_shape(Direction::Inbound, Trigger::Schedule, ConnectorType::Http, pull).is_empty());
        let fields: Vec<_> = check_shape(Direction::Inbound, Trigger::Schedule, ConnectorType::Webhook, pull)
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(fields, ["connector_id"]);
        let fields: Vec<_> = check_shape(Direction::Inbound, Trigger::Manual, ConnectorType::Http, Supplied::default())
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(fields, ["source", "field_mapping_id"]);
        let push = Supplied { destination: true, ..Supplied::default() };
        assert!(check_shape(Direction::Outbound, Trigger::Manual, ConnectorType::Http, push).is_empty());
    }

    #[test]
    fn event_types_match_exactly_or_by_star() {
        let list = vec!["order.created".to_owned()];
        assert!(event_type_matches(&list, "order.created"));
        assert!(!event_type_matches(&list, "order.updated"));
        assert!(!event_type_matches(&list, "order.created.v2"));
        assert!(event_type_matches(&["*".to_owned()], "anything"));
        assert!(!event_type_matches(&[], "anything"));
    }

    #[test]
    fn schedules_parse_and_fire_in_utc() {
        let s = Schedule::parse("*/15 * * * *").unwrap();
        let t = DateTime::parse_from_rfc3339("2026-01-10T10:07:30Z").unwrap().with_timezone(&Utc);
        assert_eq!(s.next_after(t).unwrap().to_rfc3339(), "2026-01-10T10:15:00+00:00");
        // Strictly after: a due time is not returned again.
        let due = s.next_after(t).unwrap();
        assert_eq!(s.next_after(due).unwrap().to_rfc3339(), "2026-01-10T10:30:00+00:00");
        assert!(Schedule::parse("not cron").is_err());
        assert!(Schedule::parse("").is_err());
        assert!(Schedule::parse("61 * * * *").is_err());
    }

    #[test]
    fn pagination_and_destinations_validate() {
        let src: SourceSpec = serde_json::from_value(serde_json::json!({
            "path": "/customers", "records_path": "data",
            "pagination": {"type": "cursor", "param": "cursor", "next_path": "meta.next_cursor"}
        }))
        .unwrap();
        let mut e = FieldErrors::new();
        src.validate(&mut e);
        assert!(e.is_empty(), "{e:?}");
        let bad: SourceSpec = serde_json::from_value(serde_json::json!({
            "path": "customers", "pagination": {"type": "offset", "limit": 0}
        }))
        .unwrap();
        let mut e = FieldErrors::new();
        bad.validate(&mut e);
        assert!(e.as_map().contains_key("source.path"));
        assert!(e.as_map().contains_key("source.pagination.limit"));
        assert!(serde_json::from_value::<Pagination>(serde_json::json!({"type": "bogus"})).is_err());

        let dest: DestinationSpec = serde_json::from_value(serde_json::json!({"url": "ftp://x"})).unwrap();
        let mut e = FieldErrors::new();
        dest.validate(Trigger::Webhook, &mut e);
        assert!(e.as_map().contains_key("destination.url"));
        let dest: DestinationSpec = serde_json::from_value(serde_json::json!({"url": "http://127.0.0.1:9/x"})).unwrap();
        let mut e = FieldErrors::new();
        dest.validate(Trigger::Webhook, &mut e);
        assert!(e.is_empty());
    }

    #[test]
    fn ordering_compares_times_numbers_and_text() {
        assert_eq!(compare_ordering("2026-01-10T10:00:00Z", "2026-01-10T11:00:00+02:00"), Ordering::Greater);
        assert_eq!(compare_ordering("9", "10"), Ordering::Less);
        assert_eq!(compare_ordering("b", "a"), Ordering::Greater);
        assert_eq!(ordering_text(&serde_json::json!(12)), Some("12".to_owned()));
        assert_eq!(ordering_text(&serde_json::json!(null)), None);
    }

    #[test]
    fn upcoming_runs_are_the_next_firings_strictly_after() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let s = Schedule::parse("*/15 * * * *").unwrap();
        // Exactly on a firing: that one is not "next".
        let next = s.upcoming(at("2026-12-07T10:00:00Z"), 5);
        let want: Vec<_> =
            ["10:15", "10:30", "10:45", "11:00", "11:15"].iter().map(|t| at(&format!("2026-12-07T{t}:00Z"))).collect();
        assert_eq!(next, want);
        // Across a year's end, in UTC.
        let yearly = Schedule::parse("0 3 1 1 *").unwrap();
        assert_eq!(
            yearly.upcoming(at("2026-12-31T23:59:00Z"), 2),
            [at("2027-01-01T03:00:00Z"), at("2028-01-01T03:00:00Z")]
        );
        assert!(s.upcoming(at("2026-12-07T10:00:00Z"), 0).is_empty());
    }
}

#[cfg(test)]
mod props;
