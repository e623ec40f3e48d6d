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

/// Whether two JSON values are equal, numbers compared by their decimal
/// value rather than their text: `1e2`, `100` and `100.0` are one number
/// (PostgreSQL's `jsonb` keeps numbers as `numeric` and writes them back
/// normalised, while serde_json keeps the text it read). Objects compare
/// by keys, arrays in order.
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => decimal(&x.to_string()) == decimal(&y.to_string()),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}

/// A JSON number's value as (negative, significant digits, exponent), with
/// no leading or trailing zeros in the digits; zero is `(false, "", 0)`.
/// Text that is not a JSON number is kept as its own key.
fn decimal(text: &str) -> (bool, String, i64) {
    let (neg, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa, exp) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().unwrap_or(0)),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{int}{frac}");
    let trimmed = digits.trim_start_matches('0');
    let significant = trimmed.trim_end_matches('0');
    if significant.is_empty() {
        return (false, String::new(), 0);
    }
    let exponent = exp - frac.len() as i64 + (trimmed.len() - significant.len()) as i64;
    (neg, significant.to_owned(), exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_by_value_not_text() {
        let v = |t: &str| serde_json::from_str::<Value>(t).unwrap();
        for (a, b) in
            [("1e2", "100"), ("100.0", "100"), ("1e-7", "0.0000001"), ("-0", "0"), ("0.10", "0.1"), ("1E+400", "1e400")]
        {
            assert!(same_value(&v(a), &v(b)), "{a} = {b}");
        }
        for (a, b) in [
            ("123456789012345678901234567890", "123456789012345678901234567891"),
            ("0.1", "0.01"),
            ("-1", "1"),
            ("1e2", "1e3"),
        ] {
            assert!(!same_value(&v(a), &v(b)), "{a} != {b}");
        }
        assert!(same_value(&v(r#"{"a": [1e2, {"b": 0.50}]}"#), &v(r#"{"a": [100, {"b": 0.5}]}"#)));
        assert!(!same_value(&v(r#"{"a": 1}"#), &v(r#"{"a": 1, "b": 2}"#)));
        assert!(!same_value(&v(r#""1""#), &v("1")), "a string is not a number");
    }

    use serde_json::json;

    #[test]
    fn finds_nul_anywhere() {
        assert!(super::contains_nul(&json!({"a": ["x", "b\u{0}"]})));
        assert!(super::contains_nul(&json!({"k\u{0}": 1})));
        assert!(!super::contains_nul(&json!({"a": ["x", 1, null, {"b": "c"}]})));
    }
}
