//! The queue's vocabulary: a claimed event, how its attempt ends, the
//! records a route planned from it and what writing them did.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use weir_core::{AttemptOutcome, EventErrorType, RecordAction};

use crate::TenantScope;
use crate::entities::webhook_events as we;
use crate::repos::audit::AuditEntry;
use crate::repos::records::{RecordWrite, UpsertOutcome};

/// An event a worker holds the lease of. Holding it is what lets the worker
/// act in the event's tenant: `scope` is minted by the claim.
#[derive(Debug, Clone)]
pub struct ClaimedEvent {
    /// The event's tenant.
    pub scope: TenantScope,
    /// Its id (time-ordered UUID).
    pub id: String,
    /// The connector it belongs to.
    pub connector_id: String,
    /// The receiver it arrived through.
    pub receiver_id: String,
    /// Event type.
    pub event_type: String,
    /// Payload (None once past retention).
    pub payload: Option<Value>,
    /// This attempt's number (1-based; counted at claim).
    pub attempts: i32,
    /// Earlier attempts, oldest first.
    pub attempt_log: Vec<Value>,
    /// When it was received.
    pub received_at: DateTime<Utc>,
}

/// How an attempt ends.
#[derive(Debug, Clone)]
pub enum Finish {
    /// Done. `result: None` lets the store describe the records written.
    Completed {
        /// The event's result.
        result: Option<Value>,
    },
    /// A transient failure with attempts left: back to `pending` at `at`.
    Retry {
        /// When to try again.
        at: DateTime<Utc>,
        /// Why it failed.
        error_type: EventErrorType,
        /// Readable cause.
        error_message: String,
    },
    /// Given up: a permanent failure, or the last attempt failed.
    Failed {
        /// Why it failed.
        error_type: EventErrorType,
        /// Readable cause.
        error_message: String,
        /// Partial result (e.g. the records written before a delivery failed).
        result: Option<Value>,
    },
}

impl Finish {
    /// The kind of ending, without its details.
    pub fn outcome(&self) -> AttemptOutcome {
        match self {
            Finish::Completed { .. } => AttemptOutcome::Completed,
            Finish::Retry { .. } => AttemptOutcome::Retry,
            Finish::Failed { .. } => AttemptOutcome::Failed,
        }
    }
}

/// A record a route produced from an event.
#[derive(Debug, Clone)]
pub struct PlannedRecord {
    /// The configuration that produced it.
    pub sync_configuration_id: String,
    /// What to write.
    pub write: RecordWrite,
}

/// What writing a planned record did.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordEffect {
    /// The configuration that produced it.
    pub sync_configuration_id: String,
    /// Record type.
    pub entity_type: String,
    /// Record id in the source.
    pub external_id: String,
    /// Created, updated, unchanged or stale.
    pub outcome: UpsertOutcome,
    /// The record's version after the write.
    pub version: i64,
}

impl RecordEffect {
    /// The effect as an event result shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "sync_configuration_id": self.sync_configuration_id,
            "entity_type": self.entity_type,
            "external_id": self.external_id,
            "action": outcome_name(self.outcome),
            "version": self.version,
        })
    }
}

fn outcome_name(o: UpsertOutcome) -> RecordAction {
    match o {
        UpsertOutcome::Created => RecordAction::Created,
        UpsertOutcome::Updated => RecordAction::Updated,
        UpsertOutcome::Unchanged => RecordAction::Unchanged,
        UpsertOutcome::Stale => RecordAction::IgnoredStale,
    }
}

/// One event's share of a processing transaction.
#[derive(Debug)]
pub struct EventWork<'a> {
    /// The claimed event.
    pub event: &'a ClaimedEvent,
    /// Records to write (idempotently: a repeat changes nothing).
    pub records: Vec<PlannedRecord>,
    /// How the attempt ends; `None` keeps the event claimed (deliveries to
    /// make before it can finish).
    pub finish: Option<Finish>,
    /// When this attempt started.
    pub started_at: DateTime<Utc>,
    /// Extra audit entries (delivery outcomes).
    pub audits: Vec<AuditEntry>,
}

pub(super) fn claimed_from(m: we::Model) -> ClaimedEvent {
    ClaimedEvent {
        scope: TenantScope::new(m.tenant_id),
        id: m.id,
        connector_id: m.connector_id,
        receiver_id: m.receiver_id,
        event_type: m.event_type,
        payload: crate::StoredPayload::of(m.payload_raw, m.payload).and_then(|p| match p.value() {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!(error = %e, "a stored payload does not parse");
                None
            }
        }),
        attempts: m.attempts,
        attempt_log: match m.attempt_log {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        },
        received_at: m.received_at,
    }
}
