//! Receivers' JSON Schemas: compiled once (no remote references, bounded
//! pattern backtracking) and checked against deliveries with a budget, off
//! the async runtime.
//!
//! **The budget.** Each `pattern` may backtrack at most
//! [`PATTERN_BACKTRACK_LIMIT`] steps on one value, but a delivery may hold
//! tens of thousands of strings. So each delivery also has a time budget,
//! [`SCHEMA_BUDGET`]: every `pattern` check first looks at the clock, and once
//! the budget is spent no more patterns run and the delivery is refused as
//! [`SchemaOutcome::OverBudget`]. A check runs at most one pattern past the
//! deadline, so a delivery costs at most the budget plus one pattern's
//! bounded backtracking. Validation runs on the blocking pool, at most
//! [`max_parallel`] at once, so `/healthz` and every other request keep the
//! async runtime to themselves.

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonschema::{Keyword, ValidationError};
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use weir_core::FieldErrors;

use super::Refusal;

/// Most backtracking steps one `pattern` may take on one value. Patterns
/// with lookaround or backreferences run on a backtracking engine; a
/// pathological one would otherwise spend up to the engine's default of a
/// million steps (~57 ms measured) of shared intake CPU per delivery. Over
/// the limit the value is refused, so such a schema fails closed.
pub const PATTERN_BACKTRACK_LIMIT: usize = 10_000;

/// Time one delivery's schema check may spend on `pattern`s before it is
/// refused (`schema_budget_exceeded`).
pub const SCHEMA_BUDGET: Duration = Duration::from_millis(100);

/// Schema messages reported (and audited) at most.
const MAX_SCHEMA_ERRORS: usize = 50;

thread_local! {
    /// The running check's deadline and whether it was hit (per thread:
    /// a check runs start to end on one blocking thread).
    static BUDGET: Cell<(Option<Instant>, bool)> = const { Cell::new((None, false)) };
}

/// Whether the running check has spent its budget (and notes that it did).
fn spent() -> bool {
    BUDGET.with(|b| {
        let (deadline, hit) = b.get();
        let now_spent = hit || deadline.is_some_and(|d| Instant::now() >= d);
        b.set((deadline, now_spent));
        now_spent
    })
}

/// `pattern` under the budget: the standard keyword (ECMA-262 semantics,
/// bounded backtracking) behind a look at the clock.
struct BudgetedPattern {
    standard: jsonschema::Validator,
    pattern: String,
}

impl<'i> Keyword<'i> for BudgetedPattern {
    fn validate(&self, instance: &'i Value) -> Result<(), ValidationError<'i>> {
        if !instance.is_string() {
            return Ok(());
        }
        if spent() {
            return Err(ValidationError::custom("the schema check ran out of its time budget"));
        }
        if self.standard.is_valid(instance) {
            Ok(())
        } else {
            Err(ValidationError::custom(format!("{instance} does not match {:?}", self.pattern)))
        }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        !instance.is_string() || (!spent() && self.standard.is_valid(instance))
    }
}

fn standard_options() -> jsonschema::ValidationOptions<'static> {
    jsonschema::options()
        .with_pattern_options(jsonschema::PatternOptions::fancy_regex().backtrack_limit(PATTERN_BACKTRACK_LIMIT))
}

fn budgeted_pattern<'a>(
    _: &'a Map<String, Value>,
    value: &'a Value,
    _: jsonschema::paths::Location,
) -> Result<Box<dyn for<'i> Keyword<'i>>, ValidationError<'a>> {
    let Some(pattern) = value.as_str() else {
        return Err(ValidationError::custom("`pattern` must be a string"));
    };
    let standard = standard_options().build(&json!({"pattern": pattern})).map_err(|e| e.to_owned())?;
    Ok(Box::new(BudgetedPattern { standard, pattern: pattern.to_owned() }))
}

/// Compiles a receiver's JSON Schema the one way intake and validation of
/// a new schema both use: no remote references (the crate is built without
/// them), bounded pattern backtracking, and `pattern` under the budget.
pub fn compile_schema(schema: &Value) -> Result<jsonschema::Validator, ValidationError<'static>> {
    standard_options().with_keyword("pattern", budgeted_pattern).build(schema)
}

/// What a schema check found.
#[derive(Debug)]
pub enum SchemaOutcome {
    /// The payload satisfies the schema.
    Valid,
    /// It does not: up to 50 messages by JSON pointer.
    Invalid(FieldErrors),
    /// The check spent [`SCHEMA_BUDGET`] before it could decide.
    OverBudget,
}

/// Checks `payload` against `schema` on this thread, within the budget.
pub fn check(schema: &jsonschema::Validator, payload: &Value) -> SchemaOutcome {
    BUDGET.with(|b| b.set((Some(Instant::now() + SCHEMA_BUDGET), false)));
    let mut errors = FieldErrors::new();
    for e in schema.iter_errors(payload).take(MAX_SCHEMA_ERRORS) {
        let pointer = e.instance_path().to_string();
        errors.add(if pointer.is_empty() { "/".to_owned() } else { pointer }, e.to_string());
    }
    let over = BUDGET.with(|b| b.replace((None, false)).1);
    match (over, errors.is_empty()) {
        (true, _) => SchemaOutcome::OverBudget,
        (false, true) => SchemaOutcome::Valid,
        (false, false) => SchemaOutcome::Invalid(errors),
    }
}

/// Payload checks running at once on the blocking pool, at most: one per
/// core, so refusals of costly deliveries cannot take every core from
/// everything else.
pub fn max_parallel() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from).max(1)
}

/// Bodies up to this size, for a receiver without a schema, are parsed on
/// the async runtime (a few microseconds); larger ones, and every schema
/// check, go to the blocking pool.
const INLINE_PARSE_BYTES: usize = 64 * 1024;

/// The payload checks after verification: JSON (without NUL characters),
/// then the receiver's schema under the budget. Cheap to clone.
#[derive(Clone)]
pub(crate) struct PayloadChecks(Arc<Semaphore>);

impl PayloadChecks {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Semaphore::new(max_parallel())))
    }

    /// The parsed payload, or the refusal. A check that could not run (the
    /// pool shut down) is refused as unavailable, never let through unchecked.
    pub(crate) async fn payload(
        &self,
        bytes: &[u8],
        schema: Option<Arc<jsonschema::Validator>>,
    ) -> Result<Value, Refusal> {
        if schema.is_none() && bytes.len() <= INLINE_PARSE_BYTES {
            return parse(bytes);
        }
        let Ok(_permit) = self.0.acquire().await else { return Err(Refusal::Unavailable) };
        let owned = bytes.to_vec();
        let task = tokio::task::spawn_blocking(move || {
            let payload = parse(&owned)?;
            match schema.as_deref().map(|s| check(s, &payload)) {
                None | Some(SchemaOutcome::Valid) => Ok(payload),
                Some(SchemaOutcome::Invalid(errors)) => Err(Refusal::SchemaInvalid(errors)),
                Some(SchemaOutcome::OverBudget) => Err(Refusal::SchemaBudgetExceeded),
            }
        });
        task.await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "a payload check did not finish");
            Err(Refusal::Unavailable)
        })
    }
}

/// JSON without NUL characters (PostgreSQL's jsonb refuses them).
fn parse(bytes: &[u8]) -> Result<Value, Refusal> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) if weir_core::json::contains_nul(&v) => {
            Err(Refusal::MalformedJson("invalid JSON: NUL characters (\\u0000) are not accepted".to_owned()))
        }
        Ok(v) => Ok(v),
        Err(e) => Err(Refusal::MalformedJson(format!("invalid JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over the step limit a value fails closed, as with the standard
    /// keyword; messages are the standard keyword's.
    #[test]
    fn budgeted_pattern_behaves_as_the_standard_keyword() {
        let schema = json!({"type": "string", "pattern": "^(?:(?=(a|aa)*)(a|aa)*(?!x)c$|a+$)"});
        let bounded = compile_schema(&schema).unwrap();
        let input = json!("a".repeat(30));
        assert!(matches!(check(&bounded, &input), SchemaOutcome::Invalid(_)), "over the step limit fails closed");
        // Ordinary patterns are unaffected, with the crate's messages.
        let plain = compile_schema(&json!({"type": "string", "pattern": "^[a-z]+-[0-9]{3}$"})).unwrap();
        assert!(matches!(check(&plain, &json!("abc-123")), SchemaOutcome::Valid));
        let SchemaOutcome::Invalid(errors) = check(&plain, &json!("ABC")) else { panic!("invalid") };
        assert_eq!(errors.as_map()["/"], vec![r#""ABC" does not match "^[a-z]+-[0-9]{3}$""#.to_owned()]);
    }

    /// The review's reproduction: 58,000 15-character strings against a
    /// backtracking pattern cost ~9 s; under the budget the check stops.
    #[test]
    fn a_costly_delivery_is_over_budget_and_stops_early() {
        let schema = compile_schema(&json!({"type": "array",
            "items": {"type": "string", "pattern": "^(?:(?=(a|aa)*)(a|aa)*(?!x)c$|a+$)"}}))
        .unwrap();
        let payload = Value::Array((0..58_000).map(|_| json!("a".repeat(15))).collect());
        let started = Instant::now();
        assert!(matches!(check(&schema, &payload), SchemaOutcome::OverBudget));
        assert!(started.elapsed() < SCHEMA_BUDGET * 20, "stopped near the budget: {:?}", started.elapsed());
        // The budget is per check: the next delivery starts afresh.
        assert!(matches!(check(&schema, &json!(["aaa"])), SchemaOutcome::Valid));
    }

    #[test]
    fn other_keywords_and_pattern_properties_still_apply() {
        let schema = compile_schema(&json!({"type": "object", "required": ["id"],
            "properties": {"id": {"type": "string", "pattern": "^o-"}}, "patternProperties": {"^x_": {"type": "number"}}}))
        .unwrap();
        assert!(matches!(check(&schema, &json!({"id": "o-1", "x_a": 1})), SchemaOutcome::Valid));
        let SchemaOutcome::Invalid(errors) = check(&schema, &json!({"id": "p-1", "x_a": "s"})) else { panic!() };
        assert_eq!(errors.as_map().len(), 2, "{:?}", errors.as_map());
        assert!(matches!(check(&schema, &json!({})), SchemaOutcome::Invalid(_)));
    }
}
