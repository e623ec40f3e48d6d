//! Fuzzes the field-mapping engine (`weir_core::mapping`): the input is a
//! JSON array of rules, a newline, then a JSON payload. Rules that do not
//! deserialize or validate are skipped (that is the API's 422); valid ones
//! are applied, and applying must not panic, must be deterministic, may
//! only report errors naming the mapping's own targets, and must build a
//! record that serde_json reads back (as the store does).

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use weir_core::mapping::{Mapping, Rule};

fuzz_target!(|data: &[u8]| {
    let (rules, payload) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(rules) = serde_json::from_slice::<Vec<Rule>>(rules) else { return };
    let targets: Vec<String> = rules.iter().map(|r| r.target.clone()).collect();
    let Ok(mapping) = Mapping::parse(rules) else { return };
    // A payload that is not JSON is mapped as text: still a payload.
    let payload = serde_json::from_slice::<Value>(payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()));

    let out = mapping.apply(&payload);
    assert!(out.errors.len() <= targets.len(), "at most one error per rule");
    for e in &out.errors {
        assert!(targets.contains(&e.target), "error for an unknown target {:?}", e.target);
    }
    // What the preview endpoint sends back must serialize, and the record
    // must read back (the store parses it with serde_json's depth limit).
    serde_json::to_vec(&out).expect("output serializes");
    let record = serde_json::to_vec(&out.output).expect("the record serializes");
    serde_json::from_slice::<Value>(&record).expect("the record reads back");
    assert_eq!(mapping.apply(&payload), out, "applying is deterministic");
});
