//! JSON rules shared by every endpoint that stores client JSON.

use serde_json::Value;

/// Whether any string or key in `v` holds a NUL character (`\u0000`),
/// which PostgreSQL's `jsonb` cannot store. Refused on both backends alike.
pub fn contains_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn finds_nul_anywhere() {
        assert!(super::contains_nul(&json!({"a": ["x", "b\u{0}"]})));
        assert!(super::contains_nul(&json!({"k\u{0}": 1})));
        assert!(!super::contains_nul(&json!({"a": ["x", 1, null, {"b": "c"}]})));
    }
}
