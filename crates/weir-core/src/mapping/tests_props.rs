//! Property tests for the path parser and the text parsers built on it
//! (`template` placeholders, `concat` sources), and the depth of the records
//! the engine builds. The `paths` fuzz target (fuzz/) runs the same checks
//! on arbitrary bytes for longer.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

/// A path as text: keys joined by `.`, indexes as `[n]`.
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

/// Segments as a generator writes them: keys of any characters but the
/// three the syntax uses, small indexes.
fn segments() -> impl Strategy<Value = Vec<Segment>> {
    segments_with("[^.\\[\\]]{1,8}")
}

/// Segments with keys matching `key`.
fn segments_with(key: &'static str) -> impl Strategy<Value = Vec<Segment>> {
    let seg = prop_oneof![key.prop_map(Segment::Key), (0usize..20).prop_map(Segment::Index),];
    proptest::collection::vec(seg, 1..8)
}

/// A value holding `leaf` at `segments`.
fn build(segments: &[Segment], leaf: Value) -> Value {
    segments.iter().rev().fold(leaf, |inner, s| match s {
        Segment::Key(k) => json!({ k.as_str(): inner }),
        Segment::Index(i) => {
            let mut items = vec![Value::Null; *i];
            items.push(inner);
            Value::Array(items)
        }
    })
}

/// Nesting depth: a scalar is 0, `[]` and `{}` are 1.
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any text: parsing never panics; what parses is non-empty and prints
    /// back to text (never longer) that parses to the same segments.
    #[test]
    fn any_text_parses_or_is_refused(s in "[a-z.\\[\\]0-9 {}]{0,24}|\\PC{0,24}") {
        if let Ok(p) = JsonPath::parse(&s) {
            prop_assert!(!p.segments().is_empty());
            let text = render(p.segments());
            prop_assert!(text.len() <= s.len(), "{:?} printed as {:?}", s, text);
            prop_assert_eq!(JsonPath::parse(&text).map(|q| q.segments().to_vec()), Ok(p.segments().to_vec()));
        }
    }

    /// Generated paths parse to their segments and read back their leaf.
    #[test]
    fn generated_paths_round_trip(segs in segments()) {
        let text = render(&segs);
        let p = JsonPath::parse(&text).expect("a generated path parses");
        prop_assert_eq!(p.segments(), segs.as_slice());
        let v = build(&segs, json!("leaf"));
        prop_assert_eq!(p.get(&v), Some(&json!("leaf")));
    }

    /// Templates: checking never panics; a checked one applies; text
    /// without braces is itself; each `{path}` reads its path.
    #[test]
    fn templates_check_and_fill(s in "[a-z.{}\\[\\]0-9 ]{0,24}", segs in segments_with("[^.\\[\\]{}\\s]{1,8}")) {
        let t = Transform::Template { template: s.clone() };
        if t.check().is_ok() {
            let out = t.apply(None, &json!({"a": 1}));
            prop_assert!(out.is_ok(), "{:?}: {:?}", s, out);
            if !s.contains(['{', '}']) {
                prop_assert_eq!(out, Ok(Some(Value::String(s.clone()))));
            }
        }
        let path = render(&segs);
        let filled = Transform::Template { template: format!("<{{ {path} }}>") };
        prop_assert_eq!(filled.check(), Ok(()));
        prop_assert_eq!(filled.apply(None, &build(&segs, json!("x"))), Ok(Some(json!("<x>"))));
        let concat = Transform::Concat { sources: vec![path.clone(), path], separator: "-".into() };
        prop_assert_eq!(concat.apply(None, &build(&segs, json!(7))), Ok(Some(json!("7-7"))));
    }

    /// Whatever payload and target, the record the engine builds nests no
    /// deeper than `MAX_RECORD_DEPTH`, so it is read back from the store.
    #[test]
    fn records_stay_within_the_record_depth(value_depth in 0usize..140, target_len in 1usize..100) {
        let value = nested(value_depth);
        let target = vec!["t"; target_len].join(".");
        let m = Mapping::parse(vec![Rule {
            source: Some("v".into()),
            target,
            transforms: vec![],
            default: None,
            required: false,
        }])
        .unwrap();
        let out = m.apply(&json!({ "v": value }));
        let record = Value::Object(out.output);
        prop_assert!(depth(&record) <= MAX_RECORD_DEPTH, "record depth {}", depth(&record));
        prop_assert_eq!(out.errors.is_empty(), target_len + value_depth <= MAX_RECORD_DEPTH);
        let text = serde_json::to_string(&record).unwrap();
        prop_assert!(serde_json::from_str::<Value>(&text).is_ok(), "a record does not parse back");
    }
}

/// `[[…[1]…]]`, `depth` arrays deep.
fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(1), |v, _| Value::Array(vec![v]))
}

/// Regression: a payload serde_json accepts (126 levels under its root)
/// copied to a dotted target made a record 128 levels deep, which the store
/// wrote but could not read back (serde_json refuses past 127), so the
/// record broke every listing and later upsert of it. Now the rule fails.
#[test]
fn a_deep_payload_at_a_dotted_target_is_refused_not_stored() {
    let text = format!("{{\"data\":{}1{}}}", "[".repeat(126), "]".repeat(126));
    let payload: Value = serde_json::from_str(&text).expect("serde_json accepts this payload");
    let m = Mapping::parse(serde_json::from_value(json!([{"source": "data", "target": "raw.data"}])).unwrap()).unwrap();
    let out = m.apply(&payload);
    assert_eq!(
        out.errors,
        vec![RuleError {
            target: "raw.data".into(),
            message: format!("the record would nest more than {MAX_RECORD_DEPTH} levels deep"),
        }]
    );
    assert!(out.output.is_empty());
    // Everything that is written reads back.
    let fits = Mapping::parse(serde_json::from_value(json!([{"source": "data", "target": "raw"}])).unwrap()).unwrap();
    let small = format!("{{\"data\":{}1{}}}", "[".repeat(MAX_RECORD_DEPTH - 1), "]".repeat(MAX_RECORD_DEPTH - 1));
    let out = fits.apply(&serde_json::from_str(&small).unwrap());
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let stored = serde_json::to_string(&out.output).unwrap();
    assert!(serde_json::from_str::<Value>(&stored).is_ok());
}
