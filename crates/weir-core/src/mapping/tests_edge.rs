//! The mapping engine, op by op and edge by edge: every transform's outputs
//! and its errors on every wrong input type, chains, defaults and required
//! rules, paths (indexes, out of range, garbage), odd keys, huge numbers,
//! NaN-like text, save-time validation, and payloads nested far deeper than
//! any parser would hand us (which must map without overflowing the stack).

use std::collections::BTreeMap;
use std::mem::ManuallyDrop;

use serde_json::{Map, Value, json};

use super::*;

// ---------------------------------------------------------------- helpers

fn rules(v: Value) -> Vec<Rule> {
    serde_json::from_value(v).expect("rules deserialize")
}

fn mapping(v: Value) -> Mapping {
    Mapping::parse(rules(v)).expect("rules are valid")
}

/// The save-time errors of `v` (which must deserialize) by field.
fn refused(v: Value) -> BTreeMap<String, Vec<String>> {
    Mapping::parse(rules(v.clone())).expect_err(&v.to_string()).as_map().clone()
}

/// Maps `{"v": input}` with one rule `v → t` and `transforms`: the value
/// written at `t` (`None` when nothing was), or the rule's error message.
fn run(transforms: Value, input: Value) -> Result<Option<Value>, String> {
    let m = mapping(json!([{"source": "v", "target": "t", "transforms": transforms}]));
    let out = m.apply(&json!({ "v": input }));
    match out.errors.as_slice() {
        [] => Ok(out.output.get("t").cloned()),
        [e] => {
            assert_eq!(e.target, "t", "an error names its target");
            assert!(out.output.is_empty(), "a failed rule writes nothing");
            Err(e.message.clone())
        }
        many => panic!("one rule, many errors: {many:?}"),
    }
}

/// One transform on `input`, which must succeed with a value.
fn ok(transform: Value, input: Value) -> Value {
    match run(json!([transform.clone()]), input.clone()) {
        Ok(Some(v)) => v,
        other => panic!("{transform} on {input}: {other:?}"),
    }
}

/// One transform on `input`, which must fail; its message.
fn err(transform: Value, input: Value) -> String {
    match run(json!([transform.clone()]), input.clone()) {
        Err(m) => m,
        other => panic!("{transform} on {input} should fail: {other:?}"),
    }
}

/// `json!` keeps integers and floats apart (`7 != 7.0`); so do these tests.
fn assert_same(got: &Value, want: &Value) {
    assert_eq!(got, want, "got {got}, want {want}");
    assert_eq!(got.to_string(), want.to_string());
}

// --------------------------------------------------------------- text ops

#[test]
fn trim() {
    let t = json!({"op": "trim"});
    assert_same(&ok(t.clone(), json!("  a b \t\n")), &json!("a b"));
    assert_same(&ok(t.clone(), json!("x")), &json!("x"));
    // Unicode whitespace too (ideographic space, no-break space).
    assert_same(&ok(t.clone(), json!("\u{3000}x\u{a0}")), &json!("x"));
    // All blank is an empty text, still a value (not "missing").
    assert_same(&ok(t.clone(), json!("   ")), &json!(""));
    assert_same(&ok(t.clone(), json!("")), &json!(""));
}

#[test]
fn lowercase_and_uppercase() {
    assert_same(&ok(json!({"op": "lowercase"}), json!("AbC ÀÉÎ")), &json!("abc àéî"));
    assert_same(&ok(json!({"op": "uppercase"}), json!("abc àéî")), &json!("ABC ÀÉÎ"));
    // Full Unicode case mapping, which may change the length.
    assert_same(&ok(json!({"op": "uppercase"}), json!("straße")), &json!("STRASSE"));
    assert_same(&ok(json!({"op": "lowercase"}), json!("İ")), &json!("i\u{307}"));
    assert_same(&ok(json!({"op": "lowercase"}), json!("ΣΑΣ")), &json!("σας"));
    assert_same(&ok(json!({"op": "uppercase"}), json!("123 !?")), &json!("123 !?"));
}

#[test]
fn to_string() {
    let t = json!({"op": "to_string"});
    assert_same(&ok(t.clone(), json!("x")), &json!("x"));
    assert_same(&ok(t.clone(), json!(42)), &json!("42"));
    assert_same(&ok(t.clone(), json!(-1.5)), &json!("-1.5"));
    assert_same(&ok(t.clone(), json!(12.0)), &json!("12.0"));
    assert_same(&ok(t.clone(), json!(true)), &json!("true"));
    assert_same(&ok(t.clone(), json!(false)), &json!("false"));
    assert_same(&ok(t.clone(), json!(u64::MAX)), &json!("18446744073709551615"));
    assert_same(&ok(t.clone(), json!(i64::MIN)), &json!("-9223372036854775808"));
    // Objects and arrays become their JSON text.
    assert_same(&ok(t.clone(), json!([1, "a", null])), &json!("[1,\"a\",null]"));
    assert_same(&ok(t.clone(), json!({"k": {"n": 1}})), &json!("{\"k\":{\"n\":1}}"));
    assert_same(&ok(t.clone(), json!([])), &json!("[]"));
    assert_same(&ok(t, json!({})), &json!("{}"));
}

// ------------------------------------------------------------ number ops

#[test]
fn to_number() {
    let t = json!({"op": "to_number"});
    assert_same(&ok(t.clone(), json!("12.5")), &json!(12.5));
    assert_same(&ok(t.clone(), json!(" -0.5e2 ")), &json!(-50.0));
    assert_same(&ok(t.clone(), json!("1e308")), &json!(1e308));
    // Numbers pass through unchanged.
    assert_same(&ok(t.clone(), json!(7)), &json!(7));
    assert_same(&ok(t.clone(), json!(2.25)), &json!(2.25));
    assert_same(&ok(t.clone(), json!(u64::MAX)), &json!(u64::MAX));
    for bad in ["abc", "", "  ", "1,5", "1_000", "0x10", "12abc", "--1", "1e", "١٢"] {
        assert_eq!(err(t.clone(), json!(bad)), format!("to_number: {bad:?} is not a number"), "{bad:?}");
    }
}

/// Integer text stays an exact integer: `"42"` is `42`, not `42.0`, and ids
/// above 2^53 keep every digit (they used to go through `f64`).
#[test]
fn to_number_keeps_integers_exact() {
    let t = json!({"op": "to_number"});
    assert_same(&ok(t.clone(), json!("42")), &json!(42));
    assert_same(&ok(t.clone(), json!(" -7 ")), &json!(-7));
    assert_same(&ok(t.clone(), json!("+5")), &json!(5));
    assert_same(&ok(t.clone(), json!("9007199254740993")), &json!(9_007_199_254_740_993_u64));
    assert_same(&ok(t.clone(), json!("-9223372036854775808")), &json!(i64::MIN));
    assert_same(&ok(t.clone(), json!("18446744073709551615")), &json!(u64::MAX));
    // Past u64, only a float can hold it.
    assert_same(&ok(t, json!("18446744073709551616")), &json!(18_446_744_073_709_551_616.0));
}

#[test]
fn to_integer() {
    let t = json!({"op": "to_integer"});
    assert_same(&ok(t.clone(), json!("7")), &json!(7));
    assert_same(&ok(t.clone(), json!(" -7 ")), &json!(-7));
    assert_same(&ok(t.clone(), json!(7)), &json!(7));
    assert_same(&ok(t.clone(), json!(7.0)), &json!(7));
    assert_same(&ok(t.clone(), json!(-0.0)), &json!(0));
    assert_same(&ok(t.clone(), json!(8.9e15)), &json!(8_900_000_000_000_000_i64));
    assert_same(&ok(t.clone(), json!("9223372036854775807")), &json!(i64::MAX));
    assert_same(&ok(t.clone(), json!(u64::MAX)), &json!(u64::MAX));
    assert_eq!(err(t.clone(), json!(7.5)), "to_integer: 7.5 is not an integer");
    assert_eq!(err(t.clone(), json!(1e20)), "to_integer: 1e+20 is not an integer");
    for bad in ["7.5", "7.0", "1e3", "", "seven", "9223372036854775808000"] {
        assert_eq!(err(t.clone(), json!(bad)), format!("to_integer: {bad:?} is not an integer"), "{bad:?}");
    }
}

/// Integer text in u64's range converts like the u64 number does.
#[test]
fn to_integer_takes_u64_text() {
    let t = json!({"op": "to_integer"});
    assert_same(&ok(t.clone(), json!("18446744073709551615")), &json!(u64::MAX));
    assert_same(&ok(t, json!("9223372036854775808")), &json!(9_223_372_036_854_775_808_u64));
}

#[test]
fn round_with_digits() {
    let r = |digits: u32| json!({"op": "round", "digits": digits});
    assert_same(&ok(r(2), json!(19.98765)), &json!(19.99));
    assert_same(&ok(r(3), json!(-1.23456)), &json!(-1.235));
    assert_same(&ok(r(15), json!(1.0 / 3.0)), &json!(0.333333333333333));
    assert_same(&ok(r(4), json!(2.0 / 3.0)), &json!(0.6667));
    // `digits` defaults to 0; halves round away from zero.
    assert_same(&ok(json!({"op": "round"}), json!(2.5)), &json!(3.0));
    assert_same(&ok(r(0), json!(-2.5)), &json!(-3.0));
    assert_same(&ok(r(0), json!(0.4)), &json!(0.0));
    assert_same(&ok(r(1), json!(1e-20)), &json!(0.0));
}

/// Integers are already round: they come back unchanged and exact (they used
/// to become floats, losing digits above 2^53); floats too large to carry a
/// fraction come back unchanged too (they used to fail as "not finite").
#[test]
fn round_keeps_integers_and_huge_floats() {
    let r = |digits: u32| json!({"op": "round", "digits": digits});
    assert_same(&ok(r(2), json!(7)), &json!(7));
    assert_same(&ok(r(0), json!(-7)), &json!(-7));
    assert_same(&ok(r(2), json!(9_007_199_254_740_993_u64)), &json!(9_007_199_254_740_993_u64));
    assert_same(&ok(r(15), json!(u64::MAX)), &json!(u64::MAX));
    assert_same(&ok(r(15), json!(1e300)), &json!(1e300));
    assert_same(&ok(r(0), json!(f64::MAX)), &json!(f64::MAX));
    assert_same(&ok(r(2), json!(-1.7e308)), &json!(-1.7e308));
    assert_same(&ok(r(2), json!(4_503_599_627_370_497.0)), &json!(4_503_599_627_370_497.0));
}

// ------------------------------------------------------------ to_boolean

#[test]
fn to_boolean() {
    let t = json!({"op": "to_boolean"});
    for yes in ["true", "TRUE", " Yes ", "y", "Y", "1", "on", "On"] {
        assert_same(&ok(t.clone(), json!(yes)), &json!(true));
    }
    for no in ["false", "False", "no", "NO", "n", "0", " off "] {
        assert_same(&ok(t.clone(), json!(no)), &json!(false));
    }
    assert_same(&ok(t.clone(), json!(true)), &json!(true));
    assert_same(&ok(t.clone(), json!(false)), &json!(false));
    assert_same(&ok(t.clone(), json!(1)), &json!(true));
    assert_same(&ok(t.clone(), json!(0)), &json!(false));
    assert_same(&ok(t.clone(), json!(1.0)), &json!(true));
    assert_same(&ok(t.clone(), json!(-0.0)), &json!(false));
    for bad in ["maybe", "", "2", "yess", "tru", "nope", "ja"] {
        assert_eq!(err(t.clone(), json!(bad)), format!("to_boolean: {bad:?} is not a boolean"), "{bad:?}");
    }
    for bad in [json!(2), json!(-1), json!(0.5), json!(u64::MAX)] {
        assert_eq!(err(t.clone(), bad), "to_boolean expects a boolean, 0/1 or text");
    }
}

// ----------------------------------------------------------- to_datetime

#[test]
fn to_datetime_without_format() {
    let t = json!({"op": "to_datetime"});
    assert_same(&ok(t.clone(), json!("2026-11-28T10:00:00+02:00")), &json!("2026-11-28T08:00:00Z"));
    assert_same(&ok(t.clone(), json!(" 2026-11-28T10:00:00Z ")), &json!("2026-11-28T10:00:00Z"));
    assert_same(&ok(t.clone(), json!("2026-11-28t10:00:00z")), &json!("2026-11-28T10:00:00Z"));
    // Whole seconds: fractions are dropped.
    assert_same(&ok(t.clone(), json!("2026-11-28T10:00:00.987654Z")), &json!("2026-11-28T10:00:00Z"));
    assert_same(&ok(t.clone(), json!("1999-12-31T23:59:59-01:00")), &json!("2000-01-01T00:59:59Z"));
    // Unix seconds.
    assert_same(&ok(t.clone(), json!(0)), &json!("1970-01-01T00:00:00Z"));
    assert_same(&ok(t.clone(), json!(1_700_000_000)), &json!("2023-11-14T22:13:20Z"));
    assert_same(&ok(t.clone(), json!(-1)), &json!("1969-12-31T23:59:59Z"));
    assert_same(&ok(t.clone(), json!(253_402_300_800_i64)), &json!("+10000-01-01T00:00:00Z"));
    for bad in ["2026-11-28", "2026-11-28 10:00:00", "10:00", "yesterday", "", "2026-13-01T00:00:00Z"] {
        assert_eq!(err(t.clone(), json!(bad)), format!("to_datetime: {bad:?} is not an RFC 3339 time"));
    }
    assert_eq!(err(t.clone(), json!(1.5)), "to_datetime: 1.5 is not whole Unix seconds");
    assert_eq!(err(t.clone(), json!(i64::MAX)), format!("to_datetime: {} is out of range", i64::MAX));
    assert_eq!(err(t.clone(), json!(i64::MIN)), format!("to_datetime: {} is out of range", i64::MIN));
    assert_eq!(err(t, json!(u64::MAX)), format!("to_datetime: {} is out of range", u64::MAX));
}

/// Unix seconds that arrive as a whole float (`1700000000.0`, as some
/// senders write them) convert like the integer does.
#[test]
fn to_datetime_takes_whole_float_seconds() {
    let t = json!({"op": "to_datetime"});
    assert_same(&ok(t.clone(), json!(1_700_000_000.0)), &json!("2023-11-14T22:13:20Z"));
    assert_same(&ok(t.clone(), json!(-0.0)), &json!("1970-01-01T00:00:00Z"));
    assert_eq!(err(t.clone(), json!(1e300)), "to_datetime: 1e+300 is out of range");
    assert_eq!(err(t.clone(), json!(9.0e15)), "to_datetime: 9000000000000000.0 is out of range");
    assert_eq!(err(t, json!(1_700_000_000.25)), "to_datetime: 1700000000.25 is not whole Unix seconds");
}

#[test]
fn to_datetime_with_format() {
    let f = |format: &str| json!({"op": "to_datetime", "format": format});
    assert_same(&ok(f("%d/%m/%Y %H:%M"), json!("28/11/2026 13:45")), &json!("2026-11-28T13:45:00Z"));
    assert_same(&ok(f("%d/%m/%Y %H:%M"), json!("  28/11/2026 13:45 ")), &json!("2026-11-28T13:45:00Z"));
    // A date-only format gives midnight UTC.
    assert_same(&ok(f("%Y-%m-%d"), json!("2026-11-28")), &json!("2026-11-28T00:00:00Z"));
    assert_same(&ok(f("%d.%m.%Y"), json!("01.02.2003")), &json!("2003-02-01T00:00:00Z"));
    // A format with an offset is converted to UTC.
    assert_same(&ok(f("%Y-%m-%d %H:%M %z"), json!("2026-11-28 13:45 +0100")), &json!("2026-11-28T12:45:00Z"));
    assert_same(&ok(f("%Y-%m-%d %H:%M:%S%:z"), json!("2026-11-28 00:30:00-02:30")), &json!("2026-11-28T03:00:00Z"));
    // `%s` (Unix seconds as text).
    assert_same(&ok(f("%s"), json!("1700000000")), &json!("2023-11-14T22:13:20Z"));
    // Numbers are Unix seconds whatever the format.
    assert_same(&ok(f("%Y"), json!(0)), &json!("1970-01-01T00:00:00Z"));
    for (format, input) in [
        ("%d/%m/%Y", "2026-11-28"),
        ("%Y", "2026"),
        ("%Y-%m-%d", "2026-02-30"),
        ("%H:%M", "13:45"),
        ("%Q", "anything"),
        ("%", "x"),
        ("%Y-%m-%d", ""),
        ("%s", "99999999999999999999"),
    ] {
        assert_eq!(
            err(f(format), json!(input)),
            format!("to_datetime: {input:?} does not match {format:?}"),
            "{format} {input}"
        );
    }
}

// ----------------------------------------------------------------- concat

#[test]
fn concat_with_sources_and_separator() {
    let root = json!({"a": "x", "b": "y", "n": 3, "f": 1.5, "yes": true, "nil": null, "o": {"k": 1}, "l": [1, 2],
                      "items": [{"sku": "A"}, {"sku": "B"}], "empty": ""});
    let concat = |sources: Value, sep: Option<&str>| {
        let mut t = json!({"op": "concat", "sources": sources});
        if let Some(s) = sep {
            t["separator"] = json!(s);
        }
        let out = mapping(json!([{"target": "t", "transforms": [t]}])).apply(&root);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        out.output.get("t").cloned()
    };
    assert_eq!(concat(json!(["a", "b"]), Some(", ")), Some(json!("x, y")));
    // No separator joins with nothing.
    assert_eq!(concat(json!(["a", "b", "a"]), None), Some(json!("xyx")));
    // Absent and null sources are skipped, with no doubled separator.
    assert_eq!(concat(json!(["a", "missing", "nil", "b"]), Some("-")), Some(json!("x-y")));
    // Empty text is a value: it is kept (so the separator shows).
    assert_eq!(concat(json!(["a", "empty", "b"]), Some("-")), Some(json!("x--y")));
    // Non-text values join as their text.
    assert_eq!(concat(json!(["n", "f", "yes", "o", "l"]), Some("|")), Some(json!("3|1.5|true|{\"k\":1}|[1,2]")));
    assert_eq!(concat(json!(["items[1].sku", "items[0].sku", "items[9].sku"]), Some("/")), Some(json!("B/A")));
    // Unicode separators.
    assert_eq!(concat(json!(["a", "b"]), Some(" → ")), Some(json!("x → y")));
    // Nothing found: no value at all.
    assert_eq!(concat(json!(["missing", "nil"]), Some("-")), None);
}

#[test]
fn concat_ignores_the_source_value_and_feeds_later_transforms() {
    let m = mapping(json!([
        {"source": "a", "target": "t", "transforms": [{"op": "concat", "sources": ["b", "c"], "separator": " "},
                                                      {"op": "uppercase"}]},
        {"target": "none", "transforms": [{"op": "concat", "sources": ["zz"]}], "required": true},
    ]));
    let out = m.apply(&json!({"a": "ignored", "b": "hello", "c": "world"}));
    assert_eq!(Value::Object(out.output), json!({"t": "HELLO WORLD"}));
    assert_eq!(out.errors, vec![RuleError { target: "none".into(), message: "required value is missing".into() }]);
}

// ----------------------------------------------------------------- lookup

#[test]
fn lookup_with_table_and_default() {
    let table = json!({"DE": "Germany", "1": "one", "true": "yes", "obj": {"nested": [1]}, "nil": null, "": "blank"});
    let l = json!({"op": "lookup", "table": table});
    assert_same(&ok(l.clone(), json!("DE")), &json!("Germany"));
    // Non-text values are looked up by their text.
    assert_same(&ok(l.clone(), json!(1)), &json!("one"));
    assert_same(&ok(l.clone(), json!(true)), &json!("yes"));
    assert_same(&ok(l.clone(), json!("")), &json!("blank"));
    // Any JSON can be a table value.
    assert_same(&ok(l.clone(), json!("obj")), &json!({"nested": [1]}));
    // Keys match exactly: case and whitespace count.
    assert_eq!(err(l.clone(), json!("de")), "lookup: \"de\" is not in the table");
    assert_eq!(err(l.clone(), json!(" DE")), "lookup: \" DE\" is not in the table");
    assert_eq!(err(l.clone(), json!(1.0)), "lookup: \"1.0\" is not in the table");
    assert_eq!(err(l.clone(), json!([1])), "lookup: \"[1]\" is not in the table");
    // A null table value is "no value".
    assert_eq!(run(json!([l]), json!("nil")), Ok(None));

    let with_default = json!({"op": "lookup", "table": {"DE": "Germany"}, "default": {"code": "other"}});
    assert_same(&ok(with_default.clone(), json!("DE")), &json!("Germany"));
    assert_same(&ok(with_default.clone(), json!("FR")), &json!({"code": "other"}));
    assert_same(&ok(with_default, json!({"x": 1})), &json!({"code": "other"}));
    // An empty table with a default maps everything to it.
    assert_same(&ok(json!({"op": "lookup", "table": {}, "default": 0}), json!("anything")), &json!(0));
    assert_eq!(err(json!({"op": "lookup", "table": {}}), json!("x")), "lookup: \"x\" is not in the table");
}

// --------------------------------------------------------------- template

#[test]
fn template_with_placeholders() {
    let root = json!({"data": {"first": "Ada", "last": "Lovelace", "n": 36, "tags": ["a", "b"], "nil": null},
                      "名前": "エイダ", "first name": "A"});
    let render = |template: &str| {
        let out =
            mapping(json!([{"target": "t", "transforms": [{"op": "template", "template": template}]}])).apply(&root);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        out.output.get("t").cloned().expect("a template always writes")
    };
    assert_eq!(render("{data.first} {data.last}"), json!("Ada Lovelace"));
    assert_eq!(render("{data.last}, {data.first} ({data.n})"), json!("Lovelace, Ada (36)"));
    // Whitespace inside braces is ignored.
    assert_eq!(render("{ data.first }"), json!("Ada"));
    assert_eq!(render("{data.tags[1]}{data.tags[0]}"), json!("ba"));
    assert_eq!(render("{data.tags}"), json!("[\"a\",\"b\"]"));
    assert_eq!(render("{名前}!"), json!("エイダ!"));
    assert_eq!(render("{first name}"), json!("A"));
    // Missing, out-of-range and null placeholders render as nothing.
    assert_eq!(render("Hi {data.first} {data.middle}!"), json!("Hi Ada !"));
    assert_eq!(render("[{data.tags[7]}|{data.nil}|{nope.nope}]"), json!("[||]"));
    assert_eq!(render("{data.first.x}"), json!(""));
    // No placeholders: constant text.
    assert_eq!(render("static"), json!("static"));
    assert_eq!(render(""), json!(""));
}

#[test]
fn template_replaces_the_incoming_value() {
    let m = mapping(json!([
        {"source": "a", "target": "t", "transforms": [{"op": "uppercase"}, {"op": "template", "template": "<{b}>"}]},
    ]));
    assert_eq!(Value::Object(m.apply(&json!({"a": "x", "b": "y"})).output), json!({"t": "<y>"}));
}

// ------------------------------------------------------------------ chains

#[test]
fn chained_transforms_apply_in_order() {
    let cases = [
        (json!([{"op": "trim"}, {"op": "lowercase"}]), json!("  MiXeD "), json!("mixed")),
        (
            json!([{"op": "trim"}, {"op": "uppercase"}, {"op": "lookup", "table": {"DE": "Germany"}}]),
            json!(" de "),
            json!("Germany"),
        ),
        (
            json!([{"op": "to_number"}, {"op": "round", "digits": 2}, {"op": "to_string"}]),
            json!(" 3.14159 "),
            json!("3.14"),
        ),
        (json!([{"op": "to_string"}, {"op": "to_integer"}]), json!(42), json!(42)),
        (json!([{"op": "to_string"}, {"op": "to_boolean"}]), json!(1), json!(true)),
        (json!([{"op": "to_boolean"}, {"op": "to_string"}, {"op": "uppercase"}]), json!("yes"), json!("TRUE")),
        (json!([{"op": "to_integer"}, {"op": "to_datetime"}]), json!("86400"), json!("1970-01-02T00:00:00Z")),
        (
            json!([{"op": "to_datetime", "format": "%d/%m/%Y"}, {"op": "to_datetime"}]),
            json!("28/11/2026"),
            json!("2026-11-28T00:00:00Z"),
        ),
        (json!([{"op": "trim"}, {"op": "trim"}, {"op": "trim"}]), json!(" a "), json!("a")),
    ];
    for (transforms, input, want) in cases {
        assert_eq!(run(transforms.clone(), input), Ok(Some(want)), "{transforms}");
    }
}

#[test]
fn a_failing_step_stops_the_chain_with_its_own_error() {
    // The uppercase after the failure never runs: one error, from to_number.
    assert_eq!(
        run(json!([{"op": "trim"}, {"op": "to_number"}, {"op": "uppercase"}]), json!(" x ")),
        Err("to_number: \"x\" is not a number".into())
    );
    // A type error after a successful step.
    assert_eq!(run(json!([{"op": "to_number"}, {"op": "trim"}]), json!("1")), Err("trim expects text".into()));
    // A step that yields no value ends it quietly: later steps see nothing.
    assert_eq!(
        run(json!([{"op": "lookup", "table": {"a": null}}, {"op": "to_number"}, {"op": "uppercase"}]), json!("a")),
        Ok(None)
    );
}

// ------------------------------------------------------ defaults, required

#[test]
fn default_applies_when_the_source_is_absent_or_null() {
    let m = mapping(json!([{"source": "a.b", "target": "t", "default": "fallback"}]));
    let at = |payload: Value| m.apply(&payload).output.get("t").cloned();
    assert_eq!(at(json!({})), Some(json!("fallback")));
    assert_eq!(at(json!({"a": null})), Some(json!("fallback")));
    assert_eq!(at(json!({"a": {"b": null}})), Some(json!("fallback")));
    assert_eq!(at(json!({"a": "not an object"})), Some(json!("fallback")));
    assert_eq!(at(json!([1, 2])), Some(json!("fallback")));
    assert_eq!(at(json!(null)), Some(json!("fallback")));
    // Present values win, even "empty" ones.
    assert_eq!(at(json!({"a": {"b": ""}})), Some(json!("")));
    assert_eq!(at(json!({"a": {"b": false}})), Some(json!(false)));
    assert_eq!(at(json!({"a": {"b": 0}})), Some(json!(0)));
    assert_eq!(at(json!({"a": {"b": []}})), Some(json!([])));
    assert_eq!(at(json!({"a": {"b": {}}})), Some(json!({})));
}

#[test]
fn defaults_of_any_type_go_through_the_transforms() {
    let m = mapping(json!([
        {"source": "x", "target": "trimmed", "default": "  D  ", "transforms": [{"op": "trim"}]},
        {"source": "x", "target": "obj", "default": {"k": [1, 2]}},
        {"source": "x", "target": "num", "default": "12", "transforms": [{"op": "to_integer"}]},
        {"source": "x", "target": "bad", "default": "abc", "transforms": [{"op": "to_number"}]},
        // No source at all: a constant.
        {"target": "constant", "default": 7, "required": true},
    ]));
    let out = m.apply(&json!({}));
    assert_eq!(Value::Object(out.output), json!({"trimmed": "D", "obj": {"k": [1, 2]}, "num": 12, "constant": 7}));
    assert_eq!(
        out.errors,
        vec![RuleError { target: "bad".into(), message: "to_number: \"abc\" is not a number".into() }]
    );
}

#[test]
fn required_with_no_value_is_an_error_naming_the_target() {
    let m = mapping(json!([
        {"source": "a", "target": "first", "required": true},
        {"source": "b", "target": "nested.deep.field", "required": true},
        {"source": "c", "target": "via_lookup", "required": true, "transforms": [{"op": "lookup", "table": {"k": null}}]},
        {"source": "d", "target": "with_default", "required": true, "default": "ok"},
        {"source": "e", "target": "optional"},
        {"source": "f", "target": "present", "required": true},
        {"source": "g", "target": "failing", "required": true, "transforms": [{"op": "to_number"}]},
    ]));
    let out = m.apply(&json!({"b": null, "c": "k", "f": 0, "g": "zz"}));
    assert_eq!(Value::Object(out.output), json!({"with_default": "ok", "present": 0}));
    let missing = "required value is missing";
    assert_eq!(
        out.errors,
        vec![
            RuleError { target: "first".into(), message: missing.into() },
            RuleError { target: "nested.deep.field".into(), message: missing.into() },
            RuleError { target: "via_lookup".into(), message: missing.into() },
            // A failed transform reports itself, not also "missing".
            RuleError { target: "failing".into(), message: "to_number: \"zz\" is not a number".into() },
        ]
    );
    let json = serde_json::to_value(&out.errors[1]).unwrap();
    assert_eq!(json, json!({"target": "nested.deep.field", "message": missing}));
}

// ------------------------------------------------------ wrong input types

/// Every op on every kind of value it does not take: a per-rule error that
/// names the target and the op; never a panic, never a partial write.
#[test]
fn wrong_input_types_are_typed_errors() {
    let arr = json!([1, "a"]);
    let obj = json!({"k": "v"});
    let cases: Vec<(Value, Vec<Value>, &str)> = vec![
        (json!({"op": "trim"}), vec![json!(1), json!(1.5), json!(true), arr.clone(), obj.clone()], "trim expects text"),
        (json!({"op": "lowercase"}), vec![json!(1), json!(false), arr.clone(), obj.clone()], "lowercase expects text"),
        (json!({"op": "uppercase"}), vec![json!(-1), json!(true), arr.clone(), obj.clone()], "uppercase expects text"),
        (json!({"op": "to_number"}), vec![json!(true), arr.clone(), obj.clone()], "to_number expects text or a number"),
        (
            json!({"op": "to_integer"}),
            vec![json!(false), arr.clone(), obj.clone()],
            "to_integer expects text or a number",
        ),
        (
            json!({"op": "to_boolean"}),
            vec![json!(3), arr.clone(), obj.clone()],
            "to_boolean expects a boolean, 0/1 or text",
        ),
        (
            json!({"op": "to_datetime"}),
            vec![json!(true), arr.clone(), obj.clone()],
            "to_datetime expects text or Unix seconds",
        ),
        (
            json!({"op": "to_datetime", "format": "%Y-%m-%d"}),
            vec![json!(false), arr.clone(), obj.clone()],
            "to_datetime expects text or Unix seconds",
        ),
        (
            json!({"op": "round", "digits": 2}),
            vec![json!("1.5"), json!(true), arr.clone(), obj.clone()],
            "round expects a number",
        ),
    ];
    for (transform, inputs, message) in cases {
        for input in inputs {
            assert_eq!(err(transform.clone(), input.clone()), message, "{transform} on {input}");
        }
    }
    // to_string, lookup (with a default), concat and template take anything.
    for input in [json!(1), json!(true), json!("s"), arr, obj] {
        assert!(ok(json!({"op": "to_string"}), input.clone()).is_string());
        assert_eq!(ok(json!({"op": "lookup", "table": {}, "default": 1}), input.clone()), json!(1));
        assert_eq!(ok(json!({"op": "concat", "sources": ["v"]}), input.clone()), json!(text_of(&input)));
        assert_eq!(ok(json!({"op": "template", "template": "{v}"}), input.clone()), json!(text_of(&input)));
    }
}

fn text_of(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// Null and absent values are "no value" for every op: no output, no error.
#[test]
fn every_op_passes_no_value_through() {
    for t in [
        json!({"op": "trim"}),
        json!({"op": "lowercase"}),
        json!({"op": "uppercase"}),
        json!({"op": "to_string"}),
        json!({"op": "to_number"}),
        json!({"op": "to_integer"}),
        json!({"op": "to_boolean"}),
        json!({"op": "to_datetime"}),
        json!({"op": "to_datetime", "format": "%Y"}),
        json!({"op": "round", "digits": 3}),
        json!({"op": "lookup", "table": {}}),
        json!({"op": "lookup", "table": {"null": 1}, "default": 2}),
    ] {
        assert_eq!(run(json!([t.clone()]), Value::Null), Ok(None), "{t}");
        let out = mapping(json!([{"source": "nope", "target": "t", "transforms": [t.clone()]}])).apply(&json!({}));
        assert_eq!(out, MappingOutput::default(), "{t}");
    }
}

// ------------------------------------------------------------------ paths

#[test]
fn paths_with_indexes() {
    let payload = json!({
        "data": {"items": [{"sku": "A", "tags": ["x", "y"]}, {"sku": "B"}], "matrix": [[1, 2], [3, [4, 5]]]},
        "list": ["zero", "one"],
        "obj": {"0": "key zero"},
    });
    let read = |source: &str| {
        let out = mapping(json!([{"source": source, "target": "t"}])).apply(&payload);
        assert!(out.errors.is_empty());
        out.output.get("t").cloned()
    };
    assert_eq!(read("data.items[0].sku"), Some(json!("A")));
    assert_eq!(read("data.items[1].sku"), Some(json!("B")));
    assert_eq!(read("data.items[0].tags[1]"), Some(json!("y")));
    assert_eq!(read("data.matrix[1][1][0]"), Some(json!(4)));
    assert_eq!(read("data.matrix[0]"), Some(json!([1, 2])));
    assert_eq!(read("list[00001]"), Some(json!("one")));
    // Out of range, wrong kind of step, past a scalar: absent.
    assert_eq!(read("data.items[2].sku"), None);
    assert_eq!(read("data.items[18446744073709551615]"), None);
    assert_eq!(read("data.items[1].tags[0]"), None);
    assert_eq!(read("data.items.sku"), None);
    assert_eq!(read("list.0"), None);
    assert_eq!(read("obj[0]"), None);
    assert_eq!(read("obj.0"), Some(json!("key zero")));
    assert_eq!(read("data.items[0].sku.more"), None);
    assert_eq!(read("data.items[0].sku[0]"), None);
    // A root array is indexable.
    let out = mapping(json!([{"source": "[1].a", "target": "t"}])).apply(&json!([{"a": 1}, {"a": 2}]));
    assert_eq!(out.output.get("t"), Some(&json!(2)));
}

#[test]
fn out_of_range_indexes_fall_back_to_default_or_required() {
    let m = mapping(json!([
        {"source": "items[3]", "target": "d", "default": "none"},
        {"source": "items[3]", "target": "r", "required": true},
    ]));
    let out = m.apply(&json!({"items": [1]}));
    assert_eq!(Value::Object(out.output), json!({"d": "none"}));
    assert_eq!(out.errors, vec![RuleError { target: "r".into(), message: "required value is missing".into() }]);
}

#[test]
fn bad_paths_are_refused_naming_the_reason() {
    let cases = [
        ("", "is empty"),
        ("a..b", "has an empty key"),
        (".a", "has an empty key"),
        ("a.", "has an empty key"),
        ("a[", "has an unclosed ["),
        ("a[0", "has an unclosed ["),
        ("a[-1]", "has an index that is not a number"),
        ("a[+1]", "has an index that is not a number"),
        ("a[ 1]", "has an index that is not a number"),
        // Dots split first: `a[1` and `5]`.
        ("a[1.5]", "has an unclosed ["),
        ("a[0x1]", "has an index that is not a number"),
        ("a[x]", "has an index that is not a number"),
        ("a[]", "has an index that is not a number"),
        ("a[١]", "has an index that is not a number"),
        ("a[18446744073709551616]", "has an index that is too large"),
        ("a[99999999999999999999999]", "has an index that is too large"),
        ("a[1]b", "has text after ]"),
        ("a[1] ", "has text after ]"),
        ("a[1][2]x[3]", "has text after ]"),
        ("a]", "has an unmatched ]"),
        ("a]b.c", "has an unmatched ]"),
        ("a[[0]]", "has an index that is not a number"),
    ];
    for (path, reason) in cases {
        let e = JsonPath::parse(path).expect_err(path);
        assert_eq!(e.reason, reason, "{path}");
        let errors = refused(json!([{"source": path, "target": "t"}]));
        assert_eq!(errors["rules[0].source"], [format!("invalid path {path:?}: {reason}")], "{path}");
    }
    let long = "a".repeat(501);
    assert_eq!(JsonPath::parse(&long).unwrap_err().reason, "is longer than 500 characters");
    let longest = format!("{}[1]", "a.".repeat(248));
    assert_eq!(longest.len(), 499);
    assert_eq!(JsonPath::parse(&longest).unwrap().segments().len(), 249);
}

#[test]
fn path_segments() {
    assert_eq!(
        JsonPath::parse("a.b[2][0].c").unwrap().segments(),
        [
            Segment::Key("a".into()),
            Segment::Key("b".into()),
            Segment::Index(2),
            Segment::Index(0),
            Segment::Key("c".into())
        ]
    );
    assert_eq!(JsonPath::parse("[3]").unwrap().segments(), [Segment::Index(3)]);
    assert_eq!(JsonPath::parse(" a b ").unwrap().segments(), [Segment::Key(" a b ".into())]);
}

// --------------------------------------------------------------- odd keys

#[test]
fn odd_source_keys() {
    let payload = json!({
        "données": {"名前": "unicode", "emoji🙂": "smile"},
        "first name": "space",
        "$ref": "dollar",
        "@id": "at",
        "a-b": "dash",
        "a.b": "literal dotted key",
        "": "empty key",
        "{x}": "braces",
        "a": {"b": "nested"},
    });
    let read = |source: &str| mapping(json!([{"source": source, "target": "t"}])).apply(&payload).output.remove("t");
    assert_eq!(read("données.名前"), Some(json!("unicode")));
    assert_eq!(read("données.emoji🙂"), Some(json!("smile")));
    assert_eq!(read("first name"), Some(json!("space")));
    assert_eq!(read("$ref"), Some(json!("dollar")));
    assert_eq!(read("@id"), Some(json!("at")));
    assert_eq!(read("a-b"), Some(json!("dash")));
    assert_eq!(read("{x}"), Some(json!("braces")));
    // A dot always nests: a key with a dot in it cannot be reached, and the
    // empty key cannot be named at all.
    assert_eq!(read("a.b"), Some(json!("nested")));
    assert!(refused(json!([{"source": "", "target": "t"}])).contains_key("rules[0].source"));
}

#[test]
fn odd_targets() {
    let m = mapping(json!([
        {"source": "v", "target": "名前"},
        {"source": "v", "target": "with space.and-dash"},
        {"source": "v", "target": "a[0]"},
        {"source": "v", "target": "🙂.🙃"},
        {"source": "v", "target": "$.@"},
    ]));
    assert_eq!(
        Value::Object(m.apply(&json!({"v": 1})).output),
        json!({"名前": 1, "with space": {"and-dash": 1}, "a[0]": 1, "🙂": {"🙃": 1}, "$": {"@": 1}})
    );
    let bad_targets = ["", ".", "a..b", ".a", "a.", &"x".repeat(201)];
    for target in bad_targets {
        let errors = refused(json!([{"source": "v", "target": target}]));
        assert_eq!(errors["rules[0].target"], ["must be a name or dotted path of names"], "{target:?}");
    }
    mapping(json!([{"source": "v", "target": "x".repeat(200)}]));
}

#[test]
fn targets_overlap_in_rule_order() {
    let m = mapping(json!([
        {"source": "v", "target": "a"},
        {"source": "w", "target": "a.b"},
        {"source": "v", "target": "a.c"},
        {"source": "v", "target": "s.t"},
        {"source": "w", "target": "s"},
        {"source": "v", "target": "same"},
        {"source": "w", "target": "same"},
        {"source": "missing", "target": "same"},
    ]));
    // A scalar in the way of a nested target is replaced by an object; a
    // later scalar replaces an object; the last value written wins, and an
    // absent one writes nothing.
    assert_eq!(
        Value::Object(m.apply(&json!({"v": 1, "w": 2})).output),
        json!({"a": {"b": 2, "c": 1}, "s": 2, "same": 2})
    );
}

// ------------------------------------------------------------ huge values

#[test]
fn huge_numbers_pass_through_exactly() {
    let payload = json!({"u": u64::MAX, "i": i64::MIN, "f": f64::MAX, "tiny": f64::MIN_POSITIVE, "neg0": -0.0});
    let m = mapping(json!([
        {"source": "u", "target": "u"},
        {"source": "i", "target": "i"},
        {"source": "f", "target": "f"},
        {"source": "tiny", "target": "tiny"},
        {"source": "neg0", "target": "neg0"},
    ]));
    let out = Value::Object(m.apply(&payload).output);
    assert_eq!(out.to_string(), payload.to_string());
    // Through the parser too (serde_json's `arbitrary_precision`): numbers
    // beyond u64 and f64 keep their digits as they came, and are never an
    // infinity (`as_f64` declines 1e400, so arithmetic refuses it).
    let text = r#"{"u": 18446744073709551615, "bigger": 18446744073709551616, "big": 1e400, "id": 123456789012345678901234567890}"#;
    let wire: Value = serde_json::from_str(text).unwrap();
    assert_eq!(wire["big"].as_f64(), None, "no infinity reaches the engine");
    let rules = json!([
        {"source": "u", "target": "u"}, {"source": "bigger", "target": "b"}, {"source": "big", "target": "big"},
        {"source": "id", "target": "id", "transforms": [{"op": "to_string"}]},
    ]);
    let out = mapping(rules).apply(&wire);
    assert_eq!(
        Value::Object(out.output).to_string(),
        // (serde_json writes an exponent with its sign: the same number.)
        r#"{"b":18446744073709551616,"big":1e+400,"id":"123456789012345678901234567890","u":18446744073709551615}"#
    );
}

#[test]
fn nan_like_text_is_never_a_number() {
    for s in ["NaN", "nan", "-NaN", "inf", "+inf", "-inf", "Infinity", "-Infinity", "INF", "1e400", "-1e999"] {
        assert_eq!(err(json!({"op": "to_number"}), json!(s)), format!("to_number: {s:?} is not finite"), "{s}");
        assert_eq!(err(json!({"op": "to_integer"}), json!(s)), format!("to_integer: {s:?} is not an integer"));
        assert_eq!(err(json!({"op": "round"}), json!(s)), "round expects a number");
        assert_eq!(err(json!({"op": "to_boolean"}), json!(s)), format!("to_boolean: {s:?} is not a boolean"));
        assert_eq!(err(json!({"op": "to_datetime"}), json!(s)), format!("to_datetime: {s:?} is not an RFC 3339 time"));
        // As text, they are just text.
        assert_eq!(ok(json!({"op": "to_string"}), json!(s)), json!(s));
        assert_eq!(ok(json!({"op": "lookup", "table": {s: "found"}}), json!(s)), json!("found"));
    }
    for s in ["NaNx", "nan1", "in f"] {
        assert_eq!(err(json!({"op": "to_number"}), json!(s)), format!("to_number: {s:?} is not a number"));
    }
}

#[test]
fn long_texts_map_whole() {
    let long = "é".repeat(100_000);
    assert_eq!(ok(json!({"op": "uppercase"}), json!(long)), json!("É".repeat(100_000)));
    let out =
        mapping(json!([{"target": "t", "transforms": [{"op": "concat", "sources": ["a", "a"], "separator": "|"}]}]))
            .apply(&json!({ "a": long }));
    assert_eq!(out.output["t"].as_str().map(str::len), Some(long.len() * 2 + 1));
}

// ------------------------------------------------------- save-time errors

#[test]
fn unknown_ops_options_and_missing_params_do_not_deserialize() {
    let bad_transforms = [
        json!({"op": "explode"}),
        json!({"op": "Trim"}),
        json!({"op": ""}),
        json!({"op": null}),
        json!({"op": 1}),
        json!({}),
        json!({"transform": "trim"}),
        json!("trim"),
        json!({"op": "trim", "extra": 1}),
        json!({"op": "round", "digits": 2, "mode": "up"}),
        json!({"op": "round", "digits": -1}),
        json!({"op": "round", "digits": 1.5}),
        json!({"op": "round", "digits": "2"}),
        json!({"op": "round", "digits": 4_294_967_296_u64}),
        json!({"op": "concat"}),
        json!({"op": "concat", "sources": "a"}),
        json!({"op": "concat", "sources": [1]}),
        json!({"op": "concat", "sources": ["a"], "separator": 1}),
        json!({"op": "lookup"}),
        json!({"op": "lookup", "table": []}),
        json!({"op": "lookup", "table": {}, "fallback": 1}),
        json!({"op": "template"}),
        json!({"op": "template", "template": 1}),
        json!({"op": "to_datetime", "format": 5}),
        json!({"op": "to_datetime", "fmt": "%Y"}),
    ];
    for t in bad_transforms {
        let r = serde_json::from_value::<Vec<Rule>>(json!([{"source": "a", "target": "t", "transforms": [t.clone()]}]));
        assert!(r.is_err(), "{t} should not deserialize");
    }
    let bad_rules = [
        json!({"source": "a"}),
        json!({"source": "a", "target": "t", "colour": 1}),
        json!({"source": 1, "target": "t"}),
        json!({"source": "a", "target": null}),
        json!({"source": "a", "target": "t", "required": "yes"}),
        json!({"source": "a", "target": "t", "transforms": {"op": "trim"}}),
    ];
    for r in bad_rules {
        assert!(serde_json::from_value::<Vec<Rule>>(json!([r.clone()])).is_err(), "{r} should not deserialize");
    }
    // ...while explicit nulls and defaults of optional options are fine.
    let fine = rules(json!([
        {"source": "a", "target": "t", "default": null, "transforms": [{"op": "to_datetime", "format": null},
                                                                       {"op": "round"}, {"op": "lookup", "table": {}, "default": null}]},
    ]));
    assert_eq!(fine[0].default, None);
    assert_eq!(fine[0].transforms[0], Transform::ToDatetime { format: None });
    assert_eq!(fine[0].transforms[1], Transform::Round { digits: 0 });
}

#[test]
fn transform_options_are_checked_at_save_time() {
    let cases = [
        (json!({"op": "round", "digits": 16}), "round: digits must be 0 to 15"),
        (json!({"op": "round", "digits": u32::MAX}), "round: digits must be 0 to 15"),
        (json!({"op": "concat", "sources": []}), "concat: needs 1 to 50 sources"),
        (json!({"op": "concat", "sources": vec!["a"; 51]}), "concat: needs 1 to 50 sources"),
        (json!({"op": "concat", "sources": ["a", "b..c"]}), "concat: invalid path \"b..c\": has an empty key"),
        (json!({"op": "concat", "sources": [""]}), "concat: invalid path \"\": is empty"),
        (json!({"op": "template", "template": "{a"}), "template has an unclosed {"),
        (json!({"op": "template", "template": "a}"}), "template has an unmatched }"),
        (json!({"op": "template", "template": "{a}}"}), "template has an unmatched }"),
        (json!({"op": "template", "template": "{{a}}"}), "template has an unmatched }"),
        (json!({"op": "template", "template": "{}"}), "template: invalid path \"\": is empty"),
        (json!({"op": "template", "template": "{  }"}), "template: invalid path \"\": is empty"),
        (
            json!({"op": "template", "template": "{a[x]}"}),
            "template: invalid path \"a[x]\": has an index that is not a number",
        ),
        (json!({"op": "template", "template": "x".repeat(2001)}), "template: at most 2000 characters"),
        (json!({"op": "to_datetime", "format": ""}), "to_datetime: format must be 1 to 100 characters"),
        (json!({"op": "to_datetime", "format": "%Y".repeat(51)}), "to_datetime: format must be 1 to 100 characters"),
    ];
    for (t, message) in cases {
        let errors = refused(json!([{"source": "a", "target": "t", "transforms": [{"op": "trim"}, t.clone()]}]));
        assert_eq!(errors, BTreeMap::from([("rules[0].transforms[1]".to_owned(), vec![message.to_owned()])]), "{t}");
    }
    // The limits themselves are fine.
    mapping(json!([{"source": "a", "target": "t", "transforms": [
        {"op": "round", "digits": 15},
        {"op": "concat", "sources": vec!["a"; 50]},
        {"op": "template", "template": "x".repeat(2000)},
        {"op": "to_datetime", "format": "%Y".repeat(50)},
    ]}]));
}

#[test]
fn every_problem_of_every_rule_is_reported_at_once() {
    let errors = refused(json!([
        {"source": "ok", "target": "fine"},
        {"source": "a[", "target": "", "transforms": [{"op": "round", "digits": 99}, {"op": "trim"},
                                                      {"op": "concat", "sources": []}]},
        {"target": "no.source"},
        {"source": "b", "target": "x..y"},
    ]));
    let want: BTreeMap<String, Vec<String>> = [
        ("rules[1].source", "invalid path \"a[\": has an unclosed ["),
        ("rules[1].target", "must be a name or dotted path of names"),
        ("rules[1].transforms[0]", "round: digits must be 0 to 15"),
        ("rules[1].transforms[2]", "concat: needs 1 to 50 sources"),
        ("rules[2].source", "is required unless a default, concat or template gives the value"),
        ("rules[3].target", "must be a name or dotted path of names"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), vec![v.to_owned()]))
    .collect();
    assert_eq!(errors, want);
}

#[test]
fn a_value_needs_a_source_default_concat_or_template() {
    mapping(json!([{"target": "t", "default": 1}]));
    mapping(json!([{"target": "t", "transforms": [{"op": "concat", "sources": ["a"]}]}]));
    mapping(json!([{"target": "t", "transforms": [{"op": "trim"}, {"op": "template", "template": "x"}]}]));
    for r in [
        json!({"target": "t"}),
        json!({"target": "t", "default": null}),
        json!({"target": "t", "required": true, "transforms": [{"op": "lookup", "table": {}, "default": 1}]}),
    ] {
        assert!(refused(json!([r.clone()])).contains_key("rules[0].source"), "{r}");
    }
}

#[test]
fn at_most_500_rules() {
    let rule = json!({"source": "a", "target": "t"});
    mapping(Value::Array(vec![rule.clone(); MAX_RULES]));
    let errors = refused(Value::Array(vec![rule; MAX_RULES + 1]));
    assert_eq!(errors, BTreeMap::from([("rules".to_owned(), vec!["at most 500 rules".to_owned()])]));
    // No rules: a mapping that writes nothing.
    assert_eq!(mapping(json!([])).apply(&json!({"a": 1})), MappingOutput::default());
}

#[test]
fn rules_round_trip_through_json() {
    let original = json!([
        {"source": "data.items[0].sku", "target": "a.b", "transforms": [
            {"op": "trim"}, {"op": "to_datetime", "format": "%Y"}, {"op": "round", "digits": 2},
            {"op": "concat", "sources": ["x", "y[1]"], "separator": "-"},
            {"op": "lookup", "table": {"k": [1, {"z": null}]}, "default": "d"},
            {"op": "template", "template": "{x} {y}"},
        ], "default": {"n": 1}, "required": true},
    ]);
    let parsed = rules(original);
    let again: Vec<Rule> = serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
    assert_eq!(again, parsed);
    assert_eq!(Mapping::parse(again).unwrap(), Mapping::parse(parsed).unwrap());
}

// ---------------------------------------------------------- deep nesting

/// `[[[…[leaf]…]]]`, `depth` arrays deep (or objects `{"k": …}`), built
/// without recursion. (Not with `json!`: it copies interpolated values by
/// serializing them, which recurses.)
fn nested(depth: usize, objects: bool, leaf: Value) -> Value {
    let mut v = leaf;
    for _ in 0..depth {
        v = if objects { object([("k", v)]) } else { Value::Array(vec![v]) };
    }
    v
}

/// An object of `entries`, moved in (see [`nested`]).
fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Drops `v` without recursing: `serde_json::Value`'s own drop recurses
/// once per level. On a test thread's 2 MiB stack (debug build) that
/// overflows for objects nested 5 000 deep (10 000 nested arrays do
/// drop), so the deep tests take their payloads apart by hand.
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

const DEEP: usize = 10_000;

/// A payload nested 10 000 levels deep (no parser hands out such a value:
/// serde_json refuses past 128 levels, but the engine takes any `Value`).
/// Reading beside it, or along it as far as a path reaches, just works;
/// a rule that would copy or print the deep part is a per-rule error, not
/// a stack overflow.
#[test]
fn deep_payloads_map_without_overflowing_the_stack() {
    for objects in [false, true] {
        // Should an assertion fail, leak it rather than overflow dropping it.
        let payload =
            ManuallyDrop::new(object([("shallow", json!("ok")), ("deep", nested(DEEP, objects, json!("bottom")))]));
        // A path as deep as paths go (500 characters) still lands inside.
        let (step, path) = if objects {
            ("k", format!("deep{}", ".k".repeat(248)))
        } else {
            ("[0]", format!("deep{}", "[0]".repeat(165)))
        };
        assert!(path.len() <= 500, "{step}");
        let m = mapping(json!([
            {"source": "shallow", "target": "shallow", "transforms": [{"op": "uppercase"}]},
            {"source": "deep", "target": "whole"},
            {"source": "deep", "target": "text", "transforms": [{"op": "to_string"}]},
            {"source": "deep", "target": "looked_up", "transforms": [{"op": "lookup", "table": {}, "default": 1}]},
            {"source": path, "target": "far_in"},
            {"target": "concat", "transforms": [{"op": "concat", "sources": ["shallow", "deep"]}]},
            {"target": "template", "transforms": [{"op": "template", "template": "{shallow}{deep}"}]},
        ]));
        let out = m.apply(&payload);
        assert_eq!(out.output.get("shallow"), Some(&json!("OK")));
        let targets: Vec<&str> = out.errors.iter().map(|e| e.target.as_str()).collect();
        assert_eq!(targets, ["whole", "text", "looked_up", "far_in", "concat", "template"], "objects: {objects}");
        let messages: Vec<&str> = out.errors.iter().map(|e| e.message.as_str()).collect();
        let too_deep = format!("value is nested more than {MAX_DEPTH} levels deep");
        let concat = format!("concat: \"deep\" is nested more than {MAX_DEPTH} levels deep");
        let template = format!("template: \"deep\" is nested more than {MAX_DEPTH} levels deep");
        assert_eq!(messages, [&too_deep, &too_deep, &too_deep, &too_deep, &concat, &template]);
        assert_eq!(out.output.len(), 1);
        drop_flat(ManuallyDrop::into_inner(payload));
    }
}

/// Up to the limit, deep values are copied whole; one level more is refused.
/// Two limits apply: a value read or built deeper than `MAX_DEPTH` is
/// refused before it is copied or printed, and a value that would make the
/// record nest deeper than `MAX_RECORD_DEPTH` (its target's levels plus its
/// own) is refused before it is written.
#[test]
fn depth_limit_is_exact() {
    use super::MAX_RECORD_DEPTH;
    let m = mapping(json!([{"source": "v", "target": "t"}]));
    let too_deep = format!("value is nested more than {MAX_DEPTH} levels deep");
    let record_too_deep = format!("the record would nest more than {MAX_RECORD_DEPTH} levels deep");
    for objects in [false, true] {
        // `{"t": v}`: the record is one level more than `v`.
        let at_limit = object([("v", nested(MAX_RECORD_DEPTH - 1, objects, json!(1)))]);
        let out = m.apply(&at_limit);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.output["t"], at_limit["v"]);
        let over = object([("v", nested(MAX_RECORD_DEPTH, objects, json!(1)))]);
        let out = m.apply(&over);
        assert!(out.output.is_empty());
        assert_eq!(out.errors, vec![RuleError { target: "t".into(), message: record_too_deep.clone() }]);
        let copied_too_deep = object([("v", nested(MAX_DEPTH + 1, objects, json!(1)))]);
        let out = m.apply(&copied_too_deep);
        assert!(out.output.is_empty());
        assert_eq!(out.errors, vec![RuleError { target: "t".into(), message: too_deep.clone() }]);
    }
    // An empty container at the bottom is a level too.
    let over = object([("v", nested(MAX_RECORD_DEPTH - 1, false, json!([])))]);
    assert_eq!(m.apply(&over).errors.len(), 1);
    let at_limit = object([("v", nested(MAX_RECORD_DEPTH - 2, true, json!({})))]);
    assert!(m.apply(&at_limit).errors.is_empty());
    // A dotted target spends its levels: 99 parents and the record leave none
    // for a container, while a scalar still fits.
    let parents = vec!["k"; MAX_RECORD_DEPTH - 1].join(".");
    let (scalar, container) = (format!("{parents}.s"), format!("{parents}.c"));
    let m = mapping(json!([{"source": "v", "target": scalar}, {"source": "w", "target": container}]));
    let out = m.apply(&json!({"v": 1, "w": []}));
    assert_eq!(out.errors, vec![RuleError { target: container, message: record_too_deep }]);
    assert!(out.output.contains_key("k"));
}

/// The wire never gets that deep: serde_json refuses a payload past its
/// recursion limit, and everything it accepts maps.
#[test]
fn parsed_payloads_are_within_the_depth_limit() {
    let text = |depth: usize| format!("{{\"v\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
    assert!(serde_json::from_str::<Value>(&text(DEEP)).is_err());
    let deepest = (1..DEEP).take_while(|&d| serde_json::from_str::<Value>(&text(d)).is_ok()).last().unwrap();
    // The whole payload, `{"v": …}` included, fits the limit.
    assert!(deepest < MAX_DEPTH, "serde_json accepted {deepest} nested arrays");
    let m = mapping(json!([{"source": "v", "target": "t", "transforms": [{"op": "to_string"}]}]));
    let out = m.apply(&serde_json::from_str(&text(deepest)).unwrap());
    assert!(out.errors.is_empty());
    assert_eq!(out.output["t"], json!(format!("{}1{}", "[".repeat(deepest), "]".repeat(deepest))));
}

/// Defaults and lookup values come from rules, which may be built in code
/// rather than parsed: a too-deep one is refused at save time.
#[test]
fn deep_rule_values_are_refused_at_save_time() {
    let deep = nested(MAX_DEPTH + 1, false, json!(1));
    let rule = Rule {
        source: Some("a".into()),
        target: "t".into(),
        transforms: vec![Transform::Lookup {
            table: BTreeMap::from([("k".to_owned(), deep.clone())]),
            default: Some(deep.clone()),
        }],
        default: Some(deep),
        required: false,
    };
    let errors = Mapping::parse(vec![rule]).unwrap_err();
    let message = format!("is nested more than {MAX_DEPTH} levels deep");
    assert_eq!(
        errors.as_map(),
        &BTreeMap::from([
            ("rules[0].default".to_owned(), vec![message.clone()]),
            ("rules[0].transforms[0]".to_owned(), vec![format!("lookup: a value {message}")]),
        ])
    );
}

// ---------------------------------------------------------------- output

#[test]
fn output_serializes_as_the_preview_shape() {
    let m = mapping(json!([
        {"source": "a", "target": "x.y"},
        {"source": "b", "target": "z", "transforms": [{"op": "to_integer"}]},
    ]));
    let out = m.apply(&json!({"a": [1, {"b": null}], "b": "nope"}));
    assert_eq!(
        serde_json::to_value(&out).unwrap(),
        json!({"output": {"x": {"y": [1, {"b": null}]}}, "errors": [{"target": "z", "message": "to_integer: \"nope\" is not an integer"}]})
    );
    // Nested nulls inside a copied value are kept; only a top-level null is "no value".
    let empty: Map<String, Value> = Map::new();
    assert_eq!(m.apply(&json!({"a": null})).output, empty);
}

/// A mapping cannot build an unbounded record: copies of a large payload
/// stop at `MAX_OUTPUT_BYTES`, built text at `MAX_BUILT_TEXT_BYTES`, and a
/// long `concat` separator is refused at save time.
#[test]
fn output_size_is_bounded() {
    use super::{MAX_BUILT_TEXT_BYTES, MAX_OUTPUT_BYTES};
    let big = "x".repeat(1024 * 1024);
    let payload = serde_json::json!({"big": big});
    let rules: Vec<Rule> = (0..6)
        .map(|i| serde_json::from_value(serde_json::json!({"source": "big", "target": format!("copy{i}")})).unwrap())
        .collect();
    let out = Mapping::parse(rules).unwrap().apply(&payload);
    assert_eq!(out.output.len(), 3, "three 1 MiB copies fit in 4 MiB");
    assert_eq!(out.errors.len(), 3);
    assert!(out.errors[0].message.contains(&MAX_OUTPUT_BYTES.to_string()), "{:?}", out.errors);
    assert_eq!(out.errors[0].target, "copy3");

    let template = "{big}{big}".to_owned();
    let rule: Rule = serde_json::from_value(
        serde_json::json!({"target": "t", "transforms": [{"op": "template", "template": template}]}),
    )
    .unwrap();
    let out = Mapping::parse(vec![rule]).unwrap().apply(&payload);
    assert!(out.output.is_empty());
    assert!(out.errors[0].message.contains(&MAX_BUILT_TEXT_BYTES.to_string()), "{:?}", out.errors);

    let rule: Rule = serde_json::from_value(serde_json::json!({
        "target": "c", "transforms": [{"op": "concat", "sources": ["a", "b"], "separator": "-".repeat(101)}]
    }))
    .unwrap();
    assert!(Mapping::parse(vec![rule]).is_err());
}
