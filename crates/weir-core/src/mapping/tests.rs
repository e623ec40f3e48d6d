//! The mapping engine: API.md's example, every transform, defaults and
//! required rules, rule validation, and a property test that no JSON makes
//! it panic.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn mapping(rules: Value) -> Mapping {
    Mapping::parse(serde_json::from_value(rules).unwrap()).unwrap()
}

#[test]
fn api_md_example() {
    let m = mapping(json!([
        {"source": "data.customer.email", "target": "email", "transforms": [{"op": "trim"}, {"op": "lowercase"}], "required": true},
        {"source": "data.customer.id", "target": "external_id", "transforms": [{"op": "to_string"}]},
        {"target": "name", "transforms": [{"op": "template", "template": "{data.customer.first} {data.customer.last}"}]},
    ]));
    let out = m.apply(
        &json!({"data": {"customer": {"email": "  Ada@Example.COM ", "id": 42, "first": "Ada", "last": "Lovelace"}}}),
    );
    assert_eq!(
        Value::Object(out.output),
        json!({"email": "ada@example.com", "external_id": "42", "name": "Ada Lovelace"})
    );
    assert!(out.errors.is_empty());
    let out = m.apply(&json!({"data": {}}));
    assert_eq!(out.errors, vec![RuleError { target: "email".into(), message: "required value is missing".into() }]);
}

#[test]
fn every_transform() {
    let root = json!({"a": "x", "n": "12.5", "i": "7", "f": 7.0, "b": "Yes", "d": "28/11/2026 13:45", "ts": 0,
                      "iso": "2026-11-28T10:00:00+02:00", "first": "Ada", "last": null, "code": "DE", "price": 19.98765});
    let cases = [
        (json!({"source": "a", "target": "t", "transforms": [{"op": "uppercase"}]}), json!("X")),
        (json!({"source": "n", "target": "t", "transforms": [{"op": "to_number"}]}), json!(12.5)),
        (json!({"source": "i", "target": "t", "transforms": [{"op": "to_integer"}]}), json!(7)),
        (json!({"source": "f", "target": "t", "transforms": [{"op": "to_integer"}]}), json!(7)),
        (json!({"source": "b", "target": "t", "transforms": [{"op": "to_boolean"}]}), json!(true)),
        (
            json!({"source": "d", "target": "t", "transforms": [{"op": "to_datetime", "format": "%d/%m/%Y %H:%M"}]}),
            json!("2026-11-28T13:45:00Z"),
        ),
        (json!({"source": "ts", "target": "t", "transforms": [{"op": "to_datetime"}]}), json!("1970-01-01T00:00:00Z")),
        (json!({"source": "iso", "target": "t", "transforms": [{"op": "to_datetime"}]}), json!("2026-11-28T08:00:00Z")),
        (json!({"source": "price", "target": "t", "transforms": [{"op": "round", "digits": 2}]}), json!(19.99)),
        (
            json!({"target": "t", "transforms": [{"op": "concat", "sources": ["first", "last", "code"], "separator": "-"}]}),
            json!("Ada-DE"),
        ),
        (
            json!({"source": "code", "target": "t", "transforms": [{"op": "lookup", "table": {"DE": "Germany"}}]}),
            json!("Germany"),
        ),
        (
            json!({"source": "code", "target": "t", "transforms": [{"op": "lookup", "table": {"FR": "France"}, "default": "other"}]}),
            json!("other"),
        ),
        (json!({"source": "missing", "target": "t", "default": "fallback"}), json!("fallback")),
        (json!({"source": "last", "target": "t", "default": 0}), json!(0)),
        (json!({"source": "a", "target": "deep.er.t"}), json!("x")),
    ];
    for (rule, expected) in cases {
        let m = mapping(json!([rule.clone()]));
        let out = m.apply(&root);
        assert!(out.errors.is_empty(), "{rule}: {:?}", out.errors);
        let target: Vec<&str> = rule["target"].as_str().unwrap().split('.').collect();
        let mut got = &Value::Object(out.output.clone());
        for t in target {
            got = &got[t];
        }
        assert_eq!(got, &expected, "{rule}");
    }
}

#[test]
fn failures_name_their_target_and_others_still_apply() {
    let m = mapping(json!([
        {"source": "a", "target": "num", "transforms": [{"op": "to_number"}]},
        {"source": "a", "target": "flag", "transforms": [{"op": "to_boolean"}]},
        {"source": "o", "target": "low", "transforms": [{"op": "lowercase"}]},
        {"source": "a", "target": "when", "transforms": [{"op": "to_datetime", "format": "%Y"}]},
        {"source": "a", "target": "kept"},
    ]));
    let out = m.apply(&json!({"a": "abc", "o": {"x": 1}}));
    let targets: Vec<&str> = out.errors.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["num", "flag", "low", "when"]);
    assert_eq!(out.output.get("kept"), Some(&json!("abc")));
}

#[test]
fn invalid_rules_are_refused_at_save_time() {
    let bad = [
        (json!([{"source": "a..b", "target": "t"}]), "rules[0].source"),
        (json!([{"source": "a", "target": ""}]), "rules[0].target"),
        (
            json!([{"source": "a", "target": "t", "transforms": [{"op": "round", "digits": 40}]}]),
            "rules[0].transforms[0]",
        ),
        (
            json!([{"source": "a", "target": "t", "transforms": [{"op": "template", "template": "{a"}]}]),
            "rules[0].transforms[0]",
        ),
        (
            json!([{"source": "a", "target": "t", "transforms": [{"op": "concat", "sources": []}]}]),
            "rules[0].transforms[0]",
        ),
        (json!([{"target": "t"}]), "rules[0].source"),
    ];
    for (rules, field) in bad {
        let e = Mapping::parse(serde_json::from_value(rules.clone()).unwrap()).unwrap_err();
        assert!(e.as_map().contains_key(field), "{rules}: {e:?}");
    }
    // Unknown ops and options do not even deserialize.
    assert!(
        serde_json::from_value::<Vec<Rule>>(json!([{"source": "a", "target": "t", "transforms": [{"op": "explode"}]}]))
            .is_err()
    );
    assert!(serde_json::from_value::<Vec<Rule>>(json!([{"source": "a", "target": "t", "colour": 1}])).is_err());
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,3}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Total: every transform on every kind of JSON gives an output or
    /// errors, never a panic.
    #[test]
    fn never_panics(payload in any_json(), path in "[a-z]{1,3}(\\.[a-z]{1,3}|\\[[0-9]\\]){0,3}", fmt in ".{0,12}") {
        let transforms = json!([
            {"op": "trim"}, {"op": "lowercase"}, {"op": "uppercase"}, {"op": "to_string"}, {"op": "to_number"},
            {"op": "to_integer"}, {"op": "to_boolean"}, {"op": "to_datetime"}, {"op": "to_datetime", "format": fmt},
            {"op": "round", "digits": 3}, {"op": "concat", "sources": [path.clone(), "a"], "separator": "/"},
            {"op": "lookup", "table": {"x": 1}, "default": null}, {"op": "template", "template": format!("<{{{path}}}>")}
        ]);
        for t in transforms.as_array().unwrap() {
            let rule = json!({"source": path, "target": "t", "transforms": [t], "required": true});
            if let Ok(rules) = serde_json::from_value::<Vec<Rule>>(json!([rule])) && let Ok(m) = Mapping::parse(rules) {
                let _ = m.apply(&payload);
            }
        }
    }
}
