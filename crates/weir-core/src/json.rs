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

/// Whether a Content-Type names JSON (`application/json` or
/// `application/*+json`), parameters such as `charset` ignored.
pub fn is_json_media_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
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
