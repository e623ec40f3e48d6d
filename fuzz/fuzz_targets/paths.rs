//! Fuzzes Weir's small text parsers with one arbitrary string each run:
//! mapping source paths (`JsonPath`, also `records_path` / `next_path` of a
//! sync source), `template` placeholders and `concat` sources, `to_datetime`
//! formats, cron `Schedule`s, event-type matching and extraction, sync
//! source/destination specs (when the input is JSON), and the name parsers
//! with a `Display` (tenant slug, connector code, role, method, direction,
//! trigger). See fuzz/README.md.
//!
//! Checked: no panic; a parsed path is non-empty, prints back (keys joined
//! by `.`, indexes as `[n]`) to text that parses to the same segments, and
//! reads back the leaf of a value built along it; a template without braces
//! renders to itself; a schedule prints to text that parses again, fires
//! strictly later, and is deterministic; `event_type_matches` is exactly
//! "listed or `*`"; names round-trip through `Display`/`as_str`.

#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use weir_core::mapping::{JsonPath, Segment, Transform};
use weir_core::sync::{DestinationSpec, Direction, Schedule, SourceSpec, Trigger, event_type_matches};
use weir_core::webhook::{ReceiverMethod, event_type_of};
use weir_core::{ConnectorCode, FieldErrors, Role, TenantSlug};

/// The path as text again: keys joined by `.`, indexes as `[n]`.
fn render(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        match s {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A value with `leaf` at `segments`, or `None` when an index is too large
/// to build.
fn build(segments: &[Segment], leaf: Value) -> Option<Value> {
    segments.iter().rev().try_fold(leaf, |inner, s| match s {
        Segment::Key(k) => Some(json!({ k.as_str(): inner })),
        Segment::Index(i) if *i <= 64 => {
            let mut items = vec![Value::Null; *i];
            items.push(inner);
            Some(Value::Array(items))
        }
        Segment::Index(_) => None,
    })
}

fn check_path(s: &str) {
    let Ok(path) = JsonPath::parse(s) else { return };
    assert!(!path.segments().is_empty(), "{s:?} parsed to no segments");
    let text = render(path.segments());
    assert!(text.len() <= s.len(), "{s:?} printed longer as {text:?}");
    let again = JsonPath::parse(&text).unwrap_or_else(|e| panic!("{s:?} printed as {text:?}, which fails: {e}"));
    assert_eq!(again.segments(), path.segments(), "{s:?} -> {text:?}");
    if let Some(v) = build(path.segments(), json!("leaf")) {
        assert_eq!(path.get(&v), Some(&json!("leaf")), "{s:?} does not read back");
    }
    // Also what a sync source's records_path / next_path is checked with.
    let spec: SourceSpec = serde_json::from_value(
        json!({"path": "/items", "records_path": s, "pagination": {"type": "cursor", "next_path": s}}),
    )
    .expect("a source spec");
    let mut errors = FieldErrors::new();
    spec.validate(&mut errors);
    assert!(errors.is_empty(), "{s:?} parses as a path but not as records_path: {errors:?}");
}

fn check_transforms(s: &str) {
    let root = json!({"a": "x", "b": {"c": [1, 2.5, true, null, {"d": "e"}]}, "data": {"first": "Ada", "last": "L"}});
    let template = Transform::Template { template: s.to_owned() };
    if template.check().is_ok() {
        let out = template.apply(None, &root);
        if !s.contains(['{', '}']) {
            assert_eq!(out, Ok(Some(Value::String(s.to_owned()))), "a template without placeholders");
        }
    }
    let concat = Transform::Concat { sources: s.split('|').map(str::to_owned).collect(), separator: "-".into() };
    if concat.check().is_ok() {
        let _ = concat.apply(None, &root);
    }
    let (format, value) = s.split_once('\u{1}').unwrap_or((s, "2026-01-10 10:07:30"));
    let dt = Transform::ToDatetime { format: Some(format.to_owned()) };
    if dt.check().is_ok()
        && let Ok(Some(Value::String(t))) = dt.apply(Some(json!(value)), &root)
    {
        assert!(DateTime::parse_from_rfc3339(&t).is_ok(), "to_datetime gave {t:?}");
    }
}

fn check_schedule(s: &str) {
    let Ok(schedule) = Schedule::parse(s) else { return };
    let text = schedule.to_string();
    assert_eq!(text, s.trim());
    let again = Schedule::parse(&text).unwrap_or_else(|e| panic!("{s:?} printed as {text:?}, which fails: {e}"));
    assert_eq!(again.as_str(), text);
    let t: DateTime<Utc> = DateTime::from_timestamp(1_768_039_650, 0).expect("a time"); // 2026-01-10T10:07:30Z
    let next = schedule.next_after(t);
    if let Some(n) = next {
        assert!(n > t, "{s:?}: next_after({t}) = {n}");
    }
    assert_eq!(again.next_after(t), next, "{s:?} is not deterministic");
}

fn check_event_types(s: &str) {
    let mut parts = s.split('\n');
    let event = parts.next().unwrap_or_default();
    let patterns: Vec<String> = parts.map(str::to_owned).collect();
    let expected = patterns.iter().any(|p| p == "*" || p == event);
    assert_eq!(event_type_matches(&patterns, event), expected, "{patterns:?} vs {event:?}");
    assert!(event_type_matches(&["*".to_owned()], event));
    assert!(!event_type_matches(&[], event));
    let headers = [("x-event-type", event)];
    if let Some(t) = event_type_of("*", &headers, &Value::Null) {
        assert_eq!(t, event.trim(), "event type from a header");
    }
    if let Some(t) = event_type_of("*", &[("a", "b")], &json!({ "type": event })) {
        assert_eq!(t, event.trim(), "event type from the body");
    }
}

fn check_names(s: &str) {
    if let Ok(slug) = TenantSlug::parse(s) {
        assert_eq!(TenantSlug::parse(&slug.to_string()).ok(), Some(slug.clone()));
    }
    if let Ok(code) = ConnectorCode::parse(s) {
        assert_eq!(
            ConnectorCode::parse(code.as_str()).ok().map(|c| c.as_str().to_owned()),
            Some(code.as_str().to_owned())
        );
    }
    if let Ok(role) = s.parse::<Role>() {
        assert_eq!(role.to_string().parse::<Role>().ok(), Some(role));
    }
    if let Ok(m) = s.parse::<ReceiverMethod>() {
        assert_eq!(m.as_str(), s);
    }
    if let Ok(d) = s.parse::<Direction>() {
        assert_eq!(d.to_string(), s);
    }
    if let Ok(t) = s.parse::<Trigger>() {
        assert_eq!(t.to_string(), s);
    }
}

fn check_specs(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else { return };
    if let Ok(spec) = serde_json::from_value::<SourceSpec>(v.clone()) {
        spec.validate(&mut FieldErrors::new());
    }
    if let Ok(dest) = serde_json::from_value::<DestinationSpec>(v) {
        for trigger in [Trigger::Webhook, Trigger::Schedule, Trigger::Manual] {
            dest.validate(trigger, &mut FieldErrors::new());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 4096 {
        return;
    }
    let s = String::from_utf8_lossy(data);
    check_path(&s);
    check_transforms(&s);
    check_schedule(&s);
    check_event_types(&s);
    check_names(&s);
    check_specs(data);
});
