//! Why intake refused a delivery, as the audit trail, the error rollups and
//! the `weir_webhooks_rejected_total` metric name it. The stable strings
//! live here and only here; the engine picks the reason, the store records
//! it, the API turns the engine's refusal into a response.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::VerifyError;
use crate::enums::{NotOneOf, string_enum};

string_enum!(
    /// The reason of an audited refusal (one refused after its receiver was
    /// known; unknown or inactive receivers are not audited). Its text is
    /// stored in audit details and error rollups.
    RefusalReason {
        /// Over the connector's rate limit.
        RateLimited = "rate_limited",
        /// The body is not declared as JSON.
        UnsupportedMediaType = "unsupported_media_type",
        /// The body is (or is announced) over the size limit.
        PayloadTooLarge = "payload_too_large",
        /// A signature, token or timestamp header is absent or unreadable.
        SignatureMissing = "signature_missing",
        /// The signature or token matched none of the receiver's secrets.
        SignatureInvalid = "signature_invalid",
        /// The signed timestamp is outside the receiver's tolerance.
        TimestampStale = "timestamp_stale",
        /// The body is not JSON (or holds NUL characters).
        MalformedJson = "malformed_json",
        /// The payload does not satisfy the receiver's JSON Schema.
        SchemaInvalid = "schema_invalid",
        /// Checking the payload against the schema took more than the
        /// per-delivery budget.
        SchemaBudgetExceeded = "schema_budget_exceeded",
    }
);

impl RefusalReason {
    /// The status number the `webhook.rejected` audit entry records (the
    /// one the sender was answered; documented in `docs/webhooks.md`).
    pub fn recorded_status(self) -> u16 {
        match self {
            RefusalReason::RateLimited => 429,
            RefusalReason::UnsupportedMediaType => 415,
            RefusalReason::PayloadTooLarge => 413,
            RefusalReason::SignatureMissing | RefusalReason::SignatureInvalid | RefusalReason::TimestampStale => 401,
            RefusalReason::MalformedJson => 400,
            RefusalReason::SchemaInvalid | RefusalReason::SchemaBudgetExceeded => 422,
        }
    }
}

impl From<&VerifyError> for RefusalReason {
    fn from(e: &VerifyError) -> Self {
        match e {
            VerifyError::Stale(..) | VerifyError::Future(..) => RefusalReason::TimestampStale,
            VerifyError::MissingHeader(_) | VerifyError::Malformed(_) => RefusalReason::SignatureMissing,
            VerifyError::BadSignature | VerifyError::BadToken => RefusalReason::SignatureInvalid,
        }
    }
}

/// How an accepted delivery ended, as its `webhook.received` audit entry
/// records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptedOutcome {
    /// Stored as a new event.
    Stored,
    /// A repeat of a stored provider event.
    Duplicate,
}

impl AcceptedOutcome {
    /// The `outcome` string of the audit entry.
    pub fn as_str(self) -> &'static str {
        match self {
            AcceptedOutcome::Stored => "accepted",
            AcceptedOutcome::Duplicate => "duplicate",
        }
    }

    /// The status number the audit entry records (202 stored, 200 duplicate).
    pub fn recorded_status(self) -> u16 {
        match self {
            AcceptedOutcome::Stored => 202,
            AcceptedOutcome::Duplicate => 200,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_errors_keep_their_stable_types() {
        assert_eq!(RefusalReason::from(&VerifyError::Stale(9, 5)).as_str(), "timestamp_stale");
        assert_eq!(RefusalReason::from(&VerifyError::MissingHeader("x")).as_str(), "signature_missing");
        assert_eq!(RefusalReason::from(&VerifyError::BadToken).as_str(), "signature_invalid");
        assert_eq!(VerifyError::BadSignature.error_type(), "signature_invalid");
        assert_eq!(RefusalReason::SchemaInvalid.recorded_status(), 422);
    }
}
