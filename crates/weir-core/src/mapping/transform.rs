//! Transforms (API.md § Field mappings), each total: a value that does not
//! fit is an error message, never a panic.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::path::JsonPath;
use super::{MAX_BUILT_TEXT_BYTES, MAX_DEPTH, too_deep};

/// One step applied to a rule's value.
///
/// The option-less ops are empty struct variants (`Trim {}`), not unit
/// variants: serde ignores `deny_unknown_fields` for the unit variants of an
/// internally tagged enum, so `{"op": "trim", "digits": 2}` used to be
/// accepted with its stray option silently dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Transform {
    /// Strip surrounding whitespace.
    Trim {},
    /// Lowercase (Unicode).
    Lowercase {},
    /// Uppercase (Unicode).
    Uppercase {},
    /// Scalars to text; objects and arrays to JSON text.
    ToString {},
    /// Text or number to a number; integer text stays an exact integer.
    ToNumber {},
    /// Text or integral number to an integer.
    ToInteger {},
    /// `true/false/yes/no/1/0` (any case), booleans, 0/1 to a boolean.
    ToBoolean {},
    /// Text (RFC 3339, or `format` in chrono's strftime syntax, UTC) or Unix
    /// seconds (an integer or a whole float) to an RFC 3339 UTC time.
    ToDatetime {
        /// e.g. `%d/%m/%Y %H:%M`; a date-only format gives midnight UTC.
        #[serde(default)]
        format: Option<String>,
    },
    /// Round a number to `digits` decimals (0–15); integers are already round.
    Round {
        /// Decimals kept.
        #[serde(default)]
        digits: u32,
    },
    /// Join the values at `sources` (paths from the payload root) as text.
    Concat {
        /// Paths to join; absent or null ones are skipped.
        sources: Vec<String>,
        /// Between values.
        #[serde(default)]
        separator: String,
    },
    /// Replace a value by its entry in `table`.
    Lookup {
        /// Text keys to values.
        table: BTreeMap<String, Value>,
        /// When the value is not in the table; absent means an error.
        #[serde(default)]
        default: Option<Value>,
    },
    /// Fill `{path}` placeholders with values from the payload root.
    Template {
        /// e.g. `{data.first} {data.last}`.
        template: String,
    },
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The text at `path` from `root`, if any; a value too deep to print is an
/// error (printing recurses once per level).
fn read_text(path: &str, root: &Value) -> Result<Option<String>, String> {
    match JsonPath::parse(path).ok().and_then(|p| p.get(root)) {
        Some(v) if too_deep(v) => Err(format!("{path:?} is nested more than {MAX_DEPTH} levels deep")),
        Some(v) => Ok(text(v)),
        None => Ok(None),
    }
}

fn placeholders(template: &str) -> Result<Vec<(bool, String)>, String> {
    // (is_path, text) pieces.
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push((false, rest[..open].to_owned()));
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| "has an unclosed {".to_owned())?;
        out.push((true, after[..close].trim().to_owned()));
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("has an unmatched }".to_owned());
    }
    out.push((false, rest.to_owned()));
    Ok(out)
}

impl Transform {
    /// Whether this transform produces a value from the payload by itself.
    pub fn builds_value(&self) -> bool {
        matches!(self, Transform::Concat { .. } | Transform::Template { .. })
    }

    /// Checks the options at save time.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Transform::Round { digits } if *digits > 15 => Err("round: digits must be 0 to 15".to_owned()),
            Transform::Concat { sources, separator } => {
                if sources.is_empty() || sources.len() > 50 {
                    return Err("concat: needs 1 to 50 sources".to_owned());
                }
                if separator.len() > 100 {
                    return Err("concat: separator must be at most 100 bytes".to_owned());
                }
                sources.iter().try_for_each(|s| JsonPath::parse(s).map(drop).map_err(|e| format!("concat: {e}")))
            }
            Transform::Template { template } => {
                if template.len() > 2000 {
                    return Err("template: at most 2000 characters".to_owned());
                }
                for (is_path, p) in placeholders(template).map_err(|e| format!("template {e}"))? {
                    if is_path {
                        JsonPath::parse(&p).map_err(|e| format!("template: {e}"))?;
                    }
                }
                Ok(())
            }
            Transform::ToDatetime { format: Some(f) } if f.is_empty() || f.len() > 100 => {
                Err("to_datetime: format must be 1 to 100 characters".to_owned())
            }
            Transform::Lookup { table, default } if table.values().chain(default).any(too_deep) => {
                Err(format!("lookup: a value is nested more than {MAX_DEPTH} levels deep"))
            }
            _ => Ok(()),
        }
    }

    /// Applies the transform to `value` (`None` = absent); `root` is the
    /// whole payload, for `concat` and `template`.
    pub fn apply(&self, value: Option<Value>, root: &Value) -> Result<Option<Value>, String> {
        match self {
            Transform::Concat { sources, separator } => return concat(sources, separator, root),
            Transform::Template { template: t } => return template(t, root).map(Some),
            _ => {}
        }
        let Some(v) = value else { return Ok(None) };
        if v.is_null() {
            return Ok(None);
        }
        Ok(Some(match self {
            Transform::Trim {} => Value::String(self.text_of(&v)?.trim().to_owned()),
            Transform::Lowercase {} => Value::String(self.text_of(&v)?.to_lowercase()),
            Transform::Uppercase {} => Value::String(self.text_of(&v)?.to_uppercase()),
            Transform::ToString {} => Value::String(text(&v).unwrap_or_default()),
            Transform::ToNumber {} => {
                to_number(v).map_err(|e| e.unwrap_or_else(|| self.expects("text or a number")))?
            }
            Transform::ToInteger {} => {
                to_integer(v).map_err(|e| e.unwrap_or_else(|| self.expects("text or a number")))?
            }
            Transform::ToBoolean {} => {
                to_boolean(v).map_err(|e| e.unwrap_or_else(|| self.expects("a boolean, 0/1 or text")))?
            }
            Transform::ToDatetime { format } => Value::String(to_datetime(&v, format.as_deref())?),
            Transform::Round { digits } => {
                round(v, *digits).map_err(|e| e.unwrap_or_else(|| self.expects("a number")))?
            }
            Transform::Lookup { table, default } => {
                let key = text(&v).unwrap_or_default();
                match table.get(&key) {
                    Some(found) => found.clone(),
                    None => match default {
                        Some(d) => d.clone(),
                        None => return Err(format!("lookup: {key:?} is not in the table")),
                    },
                }
            }
            Transform::Concat { .. } | Transform::Template { .. } => v,
        }))
    }

    /// `<op> expects <what>`: the message for a value of the wrong type.
    fn expects(&self, what: &str) -> String {
        format!("{} expects {what}", self.name())
    }

    /// The value's text, or the wrong-type message.
    fn text_of<'v>(&self, v: &'v Value) -> Result<&'v str, String> {
        v.as_str().ok_or_else(|| self.expects("text"))
    }

    fn name(&self) -> &'static str {
        match self {
            Transform::Trim {} => "trim",
            Transform::Lowercase {} => "lowercase",
            Transform::Uppercase {} => "uppercase",
            Transform::ToString {} => "to_string",
            Transform::ToNumber {} => "to_number",
            Transform::ToInteger {} => "to_integer",
            Transform::ToBoolean {} => "to_boolean",
            Transform::ToDatetime { .. } => "to_datetime",
            Transform::Round { .. } => "round",
            Transform::Concat { .. } => "concat",
            Transform::Lookup { .. } => "lookup",
            Transform::Template { .. } => "template",
        }
    }
}

// The per-transform steps of `Transform::apply`. Those that take one value
// answer `Err(None)` for a value of the wrong type (the caller words it
// with the op's name) and `Err(Some(message))` for one that does not fit.

/// `concat`: the texts found at `sources`, joined; absent when none is.
fn concat(sources: &[String], separator: &str, root: &Value) -> Result<Option<Value>, String> {
    let mut parts = Vec::new();
    for s in sources {
        if let Some(t) = read_text(s, root).map_err(|e| format!("concat: {e}"))? {
            parts.push(t);
        }
    }
    let joined = parts.join(separator);
    if joined.len() > MAX_BUILT_TEXT_BYTES {
        return Err(format!("concat: the result is over {MAX_BUILT_TEXT_BYTES} bytes"));
    }
    Ok((!parts.is_empty()).then_some(Value::String(joined)))
}

/// `template`: the text with each `{path}` replaced by the text found there.
fn template(template: &str, root: &Value) -> Result<Value, String> {
    let pieces = placeholders(template).map_err(|e| format!("template {e}"))?;
    let mut out = String::new();
    for (is_path, p) in pieces {
        if is_path {
            if let Some(t) = read_text(&p, root).map_err(|e| format!("template: {e}"))? {
                out.push_str(&t);
            }
        } else {
            out.push_str(&p);
        }
        if out.len() > MAX_BUILT_TEXT_BYTES {
            return Err(format!("template: the result is over {MAX_BUILT_TEXT_BYTES} bytes"));
        }
    }
    Ok(Value::String(out))
}

/// `to_number`: integer text stays an exact integer.
fn to_number(v: Value) -> Result<Value, Option<String>> {
    match &v {
        Value::Number(_) => Ok(v),
        Value::String(s) => {
            let t = s.trim();
            // Integers first: through f64 they would turn into floats
            // (`42.0`) and lose digits above 2^53.
            if let Ok(i) = t.parse::<i64>() {
                Ok(Value::from(i))
            } else if let Ok(u) = t.parse::<u64>() {
                Ok(Value::from(u))
            } else {
                let n: f64 = t.parse().map_err(|_| format!("to_number: {s:?} is not a number"))?;
                Ok(Value::Number(Number::from_f64(n).ok_or_else(|| format!("to_number: {s:?} is not finite"))?))
            }
        }
        _ => Err(None),
    }
}

/// `to_integer`: integral numbers and integer text.
fn to_integer(v: Value) -> Result<Value, Option<String>> {
    match &v {
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                Ok(Value::from(f as i64))
            } else {
                Err(Some(format!("to_integer: {n} is not an integer")))
            }
        }
        Value::String(s) => {
            let t = s.trim();
            match (t.parse::<i64>(), t.parse::<u64>()) {
                (Ok(i), _) => Ok(Value::from(i)),
                (_, Ok(u)) => Ok(Value::from(u)),
                _ => Err(Some(format!("to_integer: {s:?} is not an integer"))),
            }
        }
        _ => Err(None),
    }
}

/// `to_boolean`: booleans, 0/1, and the yes/no words in any case.
fn to_boolean(v: Value) -> Result<Value, Option<String>> {
    match &v {
        Value::Bool(_) => Ok(v),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(Value::Bool(false)),
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(Value::Bool(true)),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "on" => Ok(Value::Bool(true)),
            "false" | "no" | "n" | "0" | "off" => Ok(Value::Bool(false)),
            _ => Err(Some(format!("to_boolean: {s:?} is not a boolean"))),
        },
        _ => Err(None),
    }
}

/// `round`: to `digits` decimals (at most 15); integers stay as they are.
fn round(v: Value, digits: u32) -> Result<Value, Option<String>> {
    match &v {
        // Already round; through f64 they would lose digits above 2^53.
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v),
        Value::Number(n) => {
            let x = n.as_f64().ok_or(None)?;
            let factor = 10f64.powi(i32::try_from(digits).unwrap_or(15).min(15));
            let scaled = x * factor;
            // From 2^52 up every float is whole: nothing is left to
            // round (and `x * factor` may even overflow to infinity).
            let r = if scaled.abs() < 4_503_599_627_370_496.0 { scaled.round() / factor } else { x };
            Ok(Value::Number(Number::from_f64(r).ok_or_else(|| "round: result is not finite".to_owned())?))
        }
        _ => Err(None),
    }
}

fn to_datetime(v: &Value, format: Option<&str>) -> Result<String, String> {
    let utc = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    match (v, format) {
        (Value::Number(n), _) => {
            let out_of_range = || format!("to_datetime: {n} is out of range");
            let secs = match n.as_i64() {
                Some(secs) => secs,
                // A whole float (`1700000000.0`) is whole seconds too.
                None => {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    if f.fract() != 0.0 {
                        return Err(format!("to_datetime: {n} is not whole Unix seconds"));
                    }
                    if f.abs() >= 9.0e15 {
                        return Err(out_of_range());
                    }
                    f as i64
                }
            };
            DateTime::from_timestamp(secs, 0).map(utc).ok_or_else(out_of_range)
        }
        (Value::String(s), None) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| utc(t.with_timezone(&Utc)))
            .map_err(|_| format!("to_datetime: {s:?} is not an RFC 3339 time")),
        (Value::String(s), Some(f)) => {
            let s = s.trim();
            if let Ok(t) = DateTime::parse_from_str(s, f) {
                return Ok(utc(t.with_timezone(&Utc)));
            }
            if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                return Ok(utc(t.and_utc()));
            }
            NaiveDate::parse_from_str(s, f)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| utc(t.and_utc()))
                .ok_or_else(|| format!("to_datetime: {s:?} does not match {f:?}"))
        }
        _ => Err("to_datetime expects text or Unix seconds".to_owned()),
    }
}
