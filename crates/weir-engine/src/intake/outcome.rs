//! What intake answers: a [`Receipt`] for a delivery that was committed, or
//! the [`Refusal`] that ended the check sequence. Neither knows HTTP; the
//! API maps a refusal to a status and problem body in one place.

use weir_core::webhook::{RefusalReason, VerifyError};
use weir_core::{EventStatus, FieldErrors};

use super::IntakeError;

/// A committed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The stored event (for a duplicate: the first one).
    pub event_id: String,
    /// The event's processing status (`pending` for a new one); `None` for a
    /// duplicate whose first event was removed by hand.
    pub status: Option<EventStatus>,
    /// Whether this delivery repeated an earlier one (nothing new stored).
    pub duplicate: bool,
}

/// Why a delivery was not taken. The messages are the ones the sender is
/// told (and, for audited refusals, the audit entry's `detail`).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No such receiver under this connector (not audited: no tenant is known).
    #[error("not found")]
    NotFound,
    /// The receiver or its connector is out of service (not audited).
    #[error("gone: {why}")]
    Gone {
        /// Which of the two, as a sentence.
        why: &'static str,
    },
    /// Over the connector's rate limit.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until a request would be admitted.
        retry_after: u64,
    },
    /// The body is not declared as JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The body is, or is announced, over the size limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The receiver's method refused the raw bytes.
    #[error("{0}")]
    Unauthenticated(VerifyError),
    /// The body is not JSON, or holds NUL characters.
    #[error("malformed request: {0}")]
    MalformedJson(String),
    /// The payload breaks the receiver's JSON Schema (at most 50 messages).
    #[error("validation failed")]
    SchemaInvalid(FieldErrors),
    /// Checking the payload against the receiver's schema took more than
    /// its time budget ([`super::SCHEMA_BUDGET`]).
    #[error("the payload needs more schema-checking work than a delivery may take (100 ms of pattern matching)")]
    SchemaBudgetExceeded,
    /// The receiver could not be looked up or prepared.
    #[error(transparent)]
    Lookup(#[from] IntakeError),
    /// The delivery was verified but not committed; the sender must retry.
    #[error("service unavailable")]
    Unavailable,
}

impl Refusal {
    /// The audited reason, for refusals after the receiver is known.
    pub fn reason(&self) -> Option<RefusalReason> {
        Some(match self {
            Refusal::RateLimited { .. } => RefusalReason::RateLimited,
            Refusal::UnsupportedMediaType => RefusalReason::UnsupportedMediaType,
            Refusal::PayloadTooLarge => RefusalReason::PayloadTooLarge,
            Refusal::Unauthenticated(e) => RefusalReason::from(e),
            Refusal::MalformedJson(_) => RefusalReason::MalformedJson,
            Refusal::SchemaInvalid(_) => RefusalReason::SchemaInvalid,
            Refusal::SchemaBudgetExceeded => RefusalReason::SchemaBudgetExceeded,
            Refusal::NotFound | Refusal::Gone { .. } | Refusal::Lookup(_) | Refusal::Unavailable => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The audit `detail` of each audited refusal is the sentence the
    /// receive handler recorded before intake moved here; unaudited ones
    /// have no reason.
    #[test]
    fn audited_refusals_keep_their_reason_and_detail() {
        let cases = [
            (Refusal::RateLimited { retry_after: 2 }, "rate_limited", "rate limited"),
            (Refusal::UnsupportedMediaType, "unsupported_media_type", "unsupported media type"),
            (Refusal::PayloadTooLarge, "payload_too_large", "payload too large"),
            (
                Refusal::Unauthenticated(VerifyError::Stale(400, 300)),
                "timestamp_stale",
                "timestamp is stale: 400 s old (tolerance 300 s)",
            ),
            (
                Refusal::MalformedJson("invalid JSON: eof".into()),
                "malformed_json",
                "malformed request: invalid JSON: eof",
            ),
            (Refusal::SchemaInvalid(FieldErrors::single("/", "x")), "schema_invalid", "validation failed"),
            (
                Refusal::SchemaBudgetExceeded,
                "schema_budget_exceeded",
                "the payload needs more schema-checking work than a delivery may take (100 ms of pattern matching)",
            ),
        ];
        for (refusal, reason, detail) in cases {
            assert_eq!(refusal.reason().map(RefusalReason::as_str), Some(reason));
            assert_eq!(refusal.to_string(), detail);
        }
        for unaudited in [Refusal::NotFound, Refusal::Gone { why: "x" }, Refusal::Unavailable] {
            assert_eq!(unaudited.reason(), None);
        }
    }
}
