//! Fuzzes the JSON Schema handling a receiver uses (`jsonschema` 0.61,
//! default features off, as in the workspace): the input is a schema (the
//! first line, JSON) and an instance (the rest, JSON), at most 4 KiB in all.
//! The schema is compiled the way `weir-api` does (`jsonschema::
//! validator_for`, only for an object or boolean, as `check_schema`
//! requires; a compile error is the API's 422), then the instance is
//! validated the way `routes/receive.rs` does (`iter_errors`, at most 50,
//! each with its instance pointer and message).
//!
//! Checked: no panic, no hang (the script runs it with `-timeout=10`);
//! `is_valid` and `iter_errors` agree; every error's instance path is a
//! JSON pointer (empty or starting with `/`).
//!
//! Known slow case (not a crash here, see fuzz/README.md): a pattern that
//! needs backtracking (lookaround or backreferences, which send jsonschema's
//! default engine, fancy-regex, to its backtracking VM) with nested
//! alternation, e.g. `^(?=(a|aa)*)(a|aa)*(?!x)c$` against 30 `a`s, runs to
//! fancy-regex's default limit of 1 000 000 backtracks: ~57 ms a pattern
//! evaluation in a release build, ~2.3 s under ASan.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Largest input tried, in bytes: big enough for any keyword combination,
/// small enough that a slow case is the library's, not the input's size.
const MAX_INPUT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    let (schema, instance) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"null"[..]),
    };
    let Ok(schema) = serde_json::from_slice::<Value>(schema) else { return };
    if !schema.is_object() && !schema.is_boolean() {
        return;
    }
    let Ok(validator) = jsonschema::validator_for(&schema) else { return };
    let Ok(instance) = serde_json::from_slice::<Value>(instance) else { return };

    // Two passes, not three (`validate` is `iter_errors().next()`): a pattern
    // that hits fancy-regex's backtracking limit costs ~2 s a pass under ASan.
    let valid = validator.is_valid(&instance);
    let mut errors = 0;
    for e in validator.iter_errors(&instance).take(50) {
        let pointer = e.instance_path().to_string();
        assert!(pointer.is_empty() || pointer.starts_with('/'), "instance path {pointer:?}");
        let _ = e.to_string();
        errors += 1;
    }
    assert_eq!(errors == 0, valid, "iter_errors and is_valid disagree");
});
