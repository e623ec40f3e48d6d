//! The field-mapping engine: turns a payload into a record by rules
//! (`source` path → transforms → `target`), with defaults, required fields
//! and per-rule errors naming their target. Pure and total: any JSON in,
//! an output and a list of errors out — never a panic.

mod path;
mod transform;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use path::{JsonPath, PathError, Segment};
pub use transform::Transform;

use crate::FieldErrors;

/// One rule of a mapping (API.md § Field mappings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Where to read, from the payload root; absent for rules that build
    /// their value from other paths (`concat`, `template`) or a default.
    #[serde(default)]
    pub source: Option<String>,
    /// Where to write in the record; dots nest objects.
    pub target: String,
    /// Applied in order to the value read.
    #[serde(default)]
    pub transforms: Vec<Transform>,
    /// Used when the source is absent or null.
    #[serde(default)]
    pub default: Option<Value>,
    /// A missing value is an error naming the target.
    #[serde(default)]
    pub required: bool,
}

/// A rule's failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleError {
    /// The rule's target.
    pub target: String,
    /// What went wrong.
    pub message: String,
}

/// The result of applying a mapping.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct MappingOutput {
    /// The record built.
    pub output: Map<String, Value>,
    /// Every rule that failed.
    pub errors: Vec<RuleError>,
}

/// A validated set of rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    rules: Vec<(Rule, Option<JsonPath>, Vec<String>)>,
}

/// Most rules a mapping may hold.
pub const MAX_RULES: usize = 500;

/// Deepest a value the engine copies or prints may nest (arrays and objects
/// count a level each): serde_json parses no deeper than this, and copying
/// or printing a `Value` recurses once per level, so a deeper value built in
/// code would overflow the stack.
pub const MAX_DEPTH: usize = 128;

/// Deepest a record the engine builds may nest, counting the record itself
/// (so a rule writing to `a.b` spends two levels before its value's own).
/// The store reads records back with serde_json, which refuses JSON nested
/// past 127 levels, and deliveries and API answers wrap a record in a few
/// more (`{"data": {"record": …}}`): without this cap a payload serde_json
/// accepted, copied to a dotted target, made a record that was written but
/// could never be read again. A rule whose value would go deeper fails.
pub const MAX_RECORD_DEPTH: usize = 100;

/// Largest text one `concat` or `template` may build, in bytes.
pub const MAX_BUILT_TEXT_BYTES: usize = 1024 * 1024;

/// Largest record one mapping may build (serialized JSON bytes): a rule
/// whose value would take the record past it is an error, so a mapping that
/// copies a large payload many times cannot exhaust memory.
pub const MAX_OUTPUT_BYTES: usize = 4 * 1024 * 1024;

impl Mapping {
    /// Checks every rule (paths parse, targets are sensible, transform
    /// options are valid); errors are keyed `rules[i].<field>`.
    pub fn parse(rules: Vec<Rule>) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        if rules.len() > MAX_RULES {
            errors.add("rules", format!("at most {MAX_RULES} rules"));
        }
        let mut out = Vec::with_capacity(rules.len());
        for (i, rule) in rules.into_iter().enumerate() {
            let source = match rule.source.as_deref().map(JsonPath::parse) {
                Some(Ok(p)) => Some(p),
                Some(Err(e)) => {
                    errors.add(format!("rules[{i}].source"), e.to_string());
                    None
                }
                None => None,
            };
            let target: Vec<String> = rule.target.split('.').map(str::to_owned).collect();
            if rule.target.is_empty() || rule.target.len() > 200 || target.iter().any(String::is_empty) {
                errors.add(format!("rules[{i}].target"), "must be a name or dotted path of names");
            }
            for (j, t) in rule.transforms.iter().enumerate() {
                if let Err(m) = t.check() {
                    errors.add(format!("rules[{i}].transforms[{j}]"), m);
                }
            }
            if rule.default.as_ref().is_some_and(too_deep) {
                errors.add(format!("rules[{i}].default"), format!("is nested more than {MAX_DEPTH} levels deep"));
            }
            if rule.source.is_none() && rule.default.is_none() && !rule.transforms.iter().any(Transform::builds_value) {
                errors.add(
                    format!("rules[{i}].source"),
                    "is required unless a default, concat or template gives the value",
                );
            }
            out.push((rule, source, target));
        }
        errors.into_result().map(|()| Self { rules: out })
    }

    /// Applies the rules to `payload`.
    pub fn apply(&self, payload: &Value) -> MappingOutput {
        let mut result = MappingOutput::default();
        let mut output_bytes = 0usize;
        for (rule, source, target) in &self.rules {
            let read = source.as_ref().and_then(|p| p.get(payload)).filter(|v| !v.is_null());
            if read.is_some_and(too_deep) {
                let message = format!("value is nested more than {MAX_DEPTH} levels deep");
                result.errors.push(RuleError { target: rule.target.clone(), message });
                continue;
            }
            let mut value = read.cloned().or_else(|| rule.default.clone());
            let mut failed = false;
            for t in &rule.transforms {
                match t.apply(value.take(), payload) {
                    Ok(v) => value = v,
                    Err(message) => {
                        result.errors.push(RuleError { target: rule.target.clone(), message });
                        failed = true;
                        break;
                    }
                }
            }
            if failed {
                continue;
            }
            match value {
                Some(v) if !v.is_null() && deeper_than(&v, MAX_RECORD_DEPTH.saturating_sub(target.len())) => {
                    let message = format!("the record would nest more than {MAX_RECORD_DEPTH} levels deep");
                    result.errors.push(RuleError { target: rule.target.clone(), message });
                }
                Some(v) if !v.is_null() => {
                    output_bytes = output_bytes.saturating_add(serialized_len(&v));
                    if output_bytes > MAX_OUTPUT_BYTES {
                        let message = format!("the record would be over {MAX_OUTPUT_BYTES} bytes");
                        result.errors.push(RuleError { target: rule.target.clone(), message });
                        continue;
                    }
                    insert(&mut result.output, target, v)
                }
                _ if rule.required => result
                    .errors
                    .push(RuleError { target: rule.target.clone(), message: "required value is missing".to_owned() }),
                _ => {}
            }
        }
        result
    }
}

/// The length of `v` as JSON, counted without building the text.
fn serialized_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Writing to a counter cannot fail, and `v` is within `MAX_DEPTH`.
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// Whether `v` nests more than [`MAX_DEPTH`] arrays and objects deep. Walks
/// with an explicit stack (of at most `MAX_DEPTH` iterators), so asking is
/// safe at any depth.
fn too_deep(v: &Value) -> bool {
    deeper_than(v, MAX_DEPTH)
}

/// Whether `v` nests more than `limit` arrays and objects deep (a scalar is
/// 0 deep, `[]` 1). Walks with an explicit stack of at most `limit`
/// iterators, so asking is safe at any depth.
fn deeper_than(v: &Value, limit: usize) -> bool {
    enum Children<'v> {
        Array(std::slice::Iter<'v, Value>),
        Object(serde_json::map::Values<'v>),
    }
    fn children(v: &Value) -> Option<Children<'_>> {
        match v {
            Value::Array(a) => Some(Children::Array(a.iter())),
            Value::Object(m) => Some(Children::Object(m.values())),
            _ => None,
        }
    }
    let Some(first) = children(v) else { return false };
    if limit == 0 {
        return true;
    }
    let mut stack: Vec<Children<'_>> = vec![first];
    while let Some(top) = stack.last_mut() {
        let next = match top {
            Children::Array(i) => i.next(),
            Children::Object(i) => i.next(),
        };
        match next {
            Some(child) => {
                if let Some(c) = children(child) {
                    if stack.len() == limit {
                        return true;
                    }
                    stack.push(c);
                }
            }
            None => {
                stack.pop();
            }
        }
    }
    false
}

/// Writes `v` at the dotted `target`, creating objects on the way (a
/// non-object in the way is replaced).
fn insert(out: &mut Map<String, Value>, target: &[String], v: Value) {
    let Some((last, parents)) = target.split_last() else { return };
    let mut cur = out;
    for key in parents {
        let slot = cur.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(next) = slot else { return };
        cur = next;
    }
    cur.insert(last.clone(), v);
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_edge;
#[cfg(test)]
mod tests_props;
