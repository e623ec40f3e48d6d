//! Field-level validation errors, collected so a client sees every problem of
//! a request at once (`422` with `errors: {"field": ["message", …]}`).

use std::collections::BTreeMap;

/// Messages keyed by field name (or JSON path, for nested fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// A collection holding a single message for `field`.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    /// Records `message` against `field`.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    /// Runs a parse step, keeping its value or recording its error under `field`.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    /// Adds every message of `other`.
    pub fn merge(&mut self, other: FieldErrors) {
        for (field, messages) in other.0 {
            self.0.entry(field).or_default().extend(messages);
        }
    }

    /// True when no message was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when empty, else `Err(self)`: ends a validation pass.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    /// The messages by field.
    pub fn as_map(&self) -> &BTreeMap<String, Vec<String>> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_messages_per_field() {
        let mut e = FieldErrors::new();
        assert!(e.is_empty());
        e.add("slug", "too short");
        e.add("slug", "bad char");
        e.add("name", "empty");
        assert_eq!(e.as_map()["slug"].len(), 2);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["name"][0], "empty");
        assert!(e.into_result().is_err());
    }

    #[test]
    fn check_keeps_values_and_records_errors() {
        let mut e = FieldErrors::new();
        let ok: Option<u8> = e.check("a", "7".parse::<u8>());
        let bad: Option<u8> = e.check("b", "x".parse::<u8>());
        assert_eq!(ok, Some(7));
        assert_eq!(bad, None);
        assert!(e.as_map().contains_key("b"));
        assert!(!e.as_map().contains_key("a"));
    }
}
