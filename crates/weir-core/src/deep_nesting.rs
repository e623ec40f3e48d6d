//! Deeply nested JSON against every weir-core function that takes client
//! JSON. Two facts make it safe:
//!
//! 1. Every `Value` that reaches weir-core from outside was parsed by
//!    serde_json with its default recursion limit (request bodies through
//!    `ApiJson` and `routes/receive.rs`, remote pages through reqwest,
//!    stored JSON through sqlx; nothing in the workspace enables
//!    `unbounded_depth` or calls `disable_recursion_limit`), which refuses
//!    anything nested past 127 levels, cheaply, at any depth of input.
//! 2. The one place weir-core builds deeper JSON than it was given, the
//!    mapping engine writing a value under a dotted target, is capped at
//!    `MAX_RECORD_DEPTH` (and the engine walks payloads iteratively).
//!
//! So the recursive walks (`json::contains_nul`, `audit::canonical_json`,
//! `ConnectorConfig::parse` and `Credentials::parse` via `from_value`, and
//! serde_json's own clone, print and drop) never see more than 127 levels.

use std::mem::ManuallyDrop;

use serde_json::{Value, json};

use crate::connector::{AuthType, ConnectorConfig, ConnectorType, Credentials};
use crate::mapping::{MAX_RECORD_DEPTH, Mapping, Rule};
use crate::sync::{SourceSpec, ordering_text};
use crate::webhook::{ReceiverAuth, ReceiverMethod, event_type_of, provider_event_id};

const HOSTILE: usize = 100_000;

/// `[[…[leaf]…]]` or `{"k":{"k":…leaf…}}`, `depth` levels, as text.
fn text(depth: usize, objects: bool, leaf: &str) -> String {
    if objects {
        format!("{}{leaf}{}", "{\"k\":".repeat(depth), "}".repeat(depth))
    } else {
        format!("{}{leaf}{}", "[".repeat(depth), "]".repeat(depth))
    }
}

/// Built without recursion (see `mapping/tests_edge.rs`).
fn nested(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |v, _| Value::Object([("k".to_owned(), v)].into_iter().collect()))
}

/// Drops `v` without recursing (serde_json's drop recurses once a level).
fn drop_flat(v: Value) {
    let mut stack = vec![v];
    while let Some(mut v) = stack.pop() {
        match &mut v {
            Value::Array(a) => stack.append(a),
            Value::Object(m) => stack.extend(std::mem::take(m).into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

/// 100 000 `[` (or `{"k":`) are refused by the parser, as a `Value` and as
/// every typed body that holds free JSON, without overflowing its stack.
#[test]
fn a_hundred_thousand_levels_are_refused_by_the_parser() {
    for objects in [false, true] {
        let deep = text(HOSTILE, objects, "1");
        let unclosed = if objects { "{\"k\":".repeat(HOSTILE) } else { "[".repeat(HOSTILE) };
        for t in [&deep, &unclosed] {
            let e = serde_json::from_str::<Value>(t).unwrap_err();
            assert!(e.to_string().contains("recursion limit exceeded"), "{e}");
            let e = serde_json::from_slice::<Value>(t.as_bytes()).unwrap_err();
            assert!(e.to_string().contains("recursion limit exceeded"), "{e}");
        }
        let rules = format!("[{{\"source\":\"a\",\"target\":\"t\",\"default\":{deep}}}]");
        assert!(serde_json::from_str::<Vec<Rule>>(&rules).is_err());
        let spec = format!("{{\"path\":\"/x\",\"records_path\":{deep}}}");
        assert!(serde_json::from_str::<SourceSpec>(&spec).is_err());
    }
    // The deepest accepted: 127 levels.
    assert!(serde_json::from_str::<Value>(&text(127, false, "1")).is_ok());
    assert!(serde_json::from_str::<Value>(&text(128, false, "1")).is_err());
}

/// The deepest value a client can send passes every entry point.
#[test]
fn the_deepest_parsed_value_passes_every_entry_point() {
    for objects in [false, true] {
        let bottom = text(126, objects, "\"a\\u0000b\"");
        let doc: Value =
            serde_json::from_str(&format!("{{\"type\":\"x.y\",\"id\":\"evt_1\",\"deep\":{bottom}}}")).unwrap();
        assert!(crate::json::contains_nul(&doc));
        let canonical = crate::audit::canonical_json(&doc);
        assert_eq!(serde_json::from_str::<Value>(&canonical).unwrap(), doc);

        let m = Mapping::parse(
            serde_json::from_value(json!([
                {"source": "deep", "target": "copy"},
                {"source": "deep", "target": "text", "transforms": [{"op": "to_string"}]},
                {"target": "joined", "transforms": [{"op": "concat", "sources": ["type", "deep"]}]},
                {"target": "filled", "transforms": [{"op": "template", "template": "{type}:{deep}"}]},
            ]))
            .unwrap(),
        )
        .unwrap();
        let out = m.apply(&doc);
        assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
        assert_eq!(out.errors[0].target, "copy", "copying 126 levels would nest the record past {MAX_RECORD_DEPTH}");
        let record = serde_json::to_string(&out.output).unwrap();
        assert!(serde_json::from_str::<Value>(&record).is_ok());

        assert!(ReceiverAuth::parse(&json!({"method": "github", "deep": doc["deep"]})).is_err());
        assert!(ReceiverAuth::parse(&json!({"method": "api_key", "header": doc["deep"]})).is_err());
        assert!(ConnectorConfig::parse(ConnectorType::Http, Some(&doc)).is_err());
        assert!(ConnectorConfig::parse(ConnectorType::Webhook, Some(&doc)).is_err());
        assert!(Credentials::parse(AuthType::Bearer, Some(&doc)).is_err());
        let headers = [("x-other", "1")];
        assert_eq!(event_type_of("*", &headers, &doc).as_deref(), Some("x.y"));
        assert_eq!(provider_event_id(ReceiverMethod::Stripe, &headers, &doc).as_deref(), Some("evt_1"));
        assert_eq!(ordering_text(&doc["deep"]), None);
    }
}

/// Built in code, 100 000 levels (no parser hands these out): the functions
/// that only look at the top, and the mapping engine, which walks
/// iteratively, still answer.
#[test]
fn code_built_depth_is_safe_where_weir_core_walks() {
    let doc = ManuallyDrop::new(Value::Object(
        [
            ("type".to_owned(), json!("x.y")),
            ("id".to_owned(), json!("evt_1")),
            ("deep".to_owned(), nested(HOSTILE, json!(1))),
        ]
        .into_iter()
        .collect(),
    ));
    let headers = [("x-other", "1")];
    assert_eq!(event_type_of("*", &headers, &doc).as_deref(), Some("x.y"));
    assert_eq!(provider_event_id(ReceiverMethod::Stripe, &headers, &doc).as_deref(), Some("evt_1"));
    assert_eq!(ordering_text(&doc["deep"]), None);
    let m = Mapping::parse(
        serde_json::from_value(json!([{"source": "deep", "target": "t"}, {"source": "type", "target": "u"}])).unwrap(),
    )
    .unwrap();
    let out = m.apply(&doc);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.output.get("u"), Some(&json!("x.y")));
    drop_flat(ManuallyDrop::into_inner(doc));
}
