//! Every state Weir stores or reports, as a type. Each is stored as the
//! text it serialises to (with the `sea-orm` feature, a column of the type
//! itself), so the API and the tables keep the spellings they always had,
//! and a `match` on one is checked for completeness by the compiler.
//!
//! `tests/state_literals.rs` fails when one of these spellings reappears as
//! a string literal in non-test code outside this file.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::enums::{NotOneOf, string_enum};

string_enum!(
    /// Where a received event is in the processing queue:
    /// `pending → processing → completed | failed`; a replay returns it to `pending`.
    EventStatus {
        /// Waiting for a worker (or its retry time).
        Pending = "pending",
        /// Claimed by a worker under a lease.
        Processing = "processing",
        /// Finished: its records were written (or it was ignored).
        Completed = "completed",
        /// Given up on.
        Failed = "failed",
    }
);

impl EventStatus {
    /// Completed or failed: no worker will touch it again unless replayed.
    pub fn is_finished(self) -> bool {
        match self {
            EventStatus::Completed | EventStatus::Failed => true,
            EventStatus::Pending | EventStatus::Processing => false,
        }
    }
}

string_enum!(
    /// Where a user account is: invited (the link not yet used), active, or
    /// deactivated (every session and token of theirs ended; kept for the
    /// audit trail's names).
    UserStatus {
        /// Invited; signs in only after accepting the invitation.
        Invited = "invited",
        /// May sign in.
        Active = "active",
        /// May not sign in; their tokens and sessions are revoked.
        Deactivated = "deactivated",
    }
);

string_enum!(
    /// What an API token row is for.
    TokenKind {
        /// Issued through the API or CLI, listed and revocable.
        Api = "api",
        /// Stands behind one signed-in user's session (not listed; ends with it).
        Session = "session",
    }
);

string_enum!(
    /// Where a sync run is: queued, running, then one of the four ends.
    RunStatus {
        /// Waiting for a runner.
        Queued = "queued",
        /// A runner holds its lease.
        Running = "running",
        /// Every record went through.
        Succeeded = "succeeded",
        /// Finished, with per-record errors.
        Partial = "partial",
        /// Stopped by an error.
        Failed = "failed",
        /// Stopped on request.
        Cancelled = "cancelled",
    }
);

impl RunStatus {
    /// A run that has ended (it holds no lease and will not run again).
    pub fn is_finished(self) -> bool {
        match self {
            RunStatus::Queued | RunStatus::Running => false,
            RunStatus::Succeeded | RunStatus::Partial | RunStatus::Failed | RunStatus::Cancelled => true,
        }
    }

    /// The daily rollup counter a finished run adds to, besides `syncs_total`
    /// (a cancelled run counts only there).
    pub fn rollup(self) -> Option<RollupCounter> {
        match self {
            RunStatus::Succeeded => Some(RollupCounter::SyncsSucceeded),
            RunStatus::Partial => Some(RollupCounter::SyncsPartial),
            RunStatus::Failed => Some(RollupCounter::SyncsFailed),
            RunStatus::Queued | RunStatus::Running | RunStatus::Cancelled => None,
        }
    }
}

impl RunStatus {
    /// What a finished run says about its connector's health: `Some(true)`
    /// failing, `Some(false)` working, `None` nothing (cancelled, or not
    /// finished).
    pub fn health_signal(self) -> Option<bool> {
        match self {
            RunStatus::Succeeded | RunStatus::Partial => Some(false),
            RunStatus::Failed => Some(true),
            RunStatus::Queued | RunStatus::Running | RunStatus::Cancelled => None,
        }
    }
}

string_enum!(
    /// A production connector change's review state.
    ChangeStatus { Pending = "pending", Approved = "approved", Rejected = "rejected" }
);

string_enum!(
    /// The counter columns of `daily_rollups`, one per fact the dashboard counts.
    RollupCounter {
        WebhooksReceived = "webhooks_received",
        WebhooksDuplicate = "webhooks_duplicate",
        WebhooksRejected = "webhooks_rejected",
        WebhooksFailed = "webhooks_failed",
        WebhooksCompleted = "webhooks_completed",
        SyncsTotal = "syncs_total",
        SyncsSucceeded = "syncs_succeeded",
        SyncsPartial = "syncs_partial",
        SyncsFailed = "syncs_failed",
        RecordsProcessed = "records_processed",
    }
);

string_enum!(
    /// What processing decided for an event as a whole, as its `result.action`.
    PlanOutcome {
        /// Its records were written.
        Processed = "processed",
        /// No configuration takes its type: completed with nothing written.
        Ignored = "ignored",
        /// It could not be mapped or delivered.
        Failed = "failed",
    }
);

string_enum!(
    /// How one processing attempt ended (the `weir_event_attempts_total` label).
    AttemptOutcome {
        /// The event is done.
        Completed = "completed",
        /// A transient failure: the event waits for another attempt.
        Retry = "retry",
        /// Given up on.
        Failed = "failed",
    }
);

string_enum!(
    /// What writing one record did, as an event result's `records[].action`.
    RecordAction {
        Created = "created",
        Updated = "updated",
        Unchanged = "unchanged",
        IgnoredStale = "ignored_stale",
    }
);

string_enum!(
    /// Why processing an event failed (also the dashboard's error breakdown).
    EventErrorType {
        /// The payload did not map (permanent).
        Mapping = "mapping_error",
        /// The HTTP destination refused or kept failing.
        Destination = "destination_error",
        /// The database failed during processing (transient).
        Database = "database_error",
        /// A worker vanished holding the event on its last attempt.
        WorkerLost = "worker_lost",
        /// The payload is gone (retention) or the configuration is broken.
        Configuration = "configuration_error",
    }
);

string_enum!(
    /// Why a sync run, or one record of it, failed.
    SyncErrorType {
        Mapping = "mapping_error",
        Record = "record_error",
        Push = "push_error",
        Connection = "connection_error",
        Timeout = "timeout",
        Http = "http_error",
        Refused = "http_refused",
        RateLimited = "rate_limited",
        InvalidResponse = "invalid_response",
        Configuration = "configuration_error",
        Database = "database_error",
        /// The runner holding the run stopped responding (its lease expired).
        WorkerLost = "worker_lost",
    }
);

// `LiveKind` is declared with the payloads it names, in `live.rs`.
pub use crate::live::LiveKind;

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    /// Every variant survives text and JSON round trips under its one spelling.
    fn round_trips<T>(all: &[T])
    where
        T: Copy + fmt::Display + FromStr<Err = NotOneOf> + PartialEq + fmt::Debug + Serialize + for<'a> Deserialize<'a>,
    {
        for v in all {
            let text = v.to_string();
            assert_eq!(T::from_str(&text).unwrap(), *v);
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::Value::String(text.clone()));
            assert_eq!(serde_json::from_value::<T>(serde_json::Value::String(text)).unwrap(), *v);
        }
        assert!(T::from_str("no-such-state").is_err());
    }

    #[test]
    fn every_state_round_trips() {
        round_trips(EventStatus::VARIANTS);
        round_trips(RunStatus::VARIANTS);
        round_trips(ChangeStatus::VARIANTS);
        round_trips(RollupCounter::VARIANTS);
        round_trips(PlanOutcome::VARIANTS);
        round_trips(AttemptOutcome::VARIANTS);
        round_trips(RecordAction::VARIANTS);
        round_trips(EventErrorType::VARIANTS);
        round_trips(SyncErrorType::VARIANTS);
        round_trips(LiveKind::VARIANTS);
    }

    #[test]
    fn spellings_are_the_stored_ones() {
        assert_eq!(EventStatus::Pending.as_str(), "pending");
        assert_eq!(RunStatus::Cancelled.as_str(), "cancelled");
        assert_eq!(RecordAction::IgnoredStale.as_str(), "ignored_stale");
        assert_eq!(EventErrorType::WorkerLost.as_str(), "worker_lost");
        assert_eq!(SyncErrorType::Refused.as_str(), "http_refused");
        assert_eq!(RollupCounter::RecordsProcessed.as_str(), "records_processed");
    }

    #[test]
    fn finished_states() {
        let finished: Vec<_> = EventStatus::VARIANTS.iter().filter(|s| s.is_finished()).collect();
        assert_eq!(finished, [&EventStatus::Completed, &EventStatus::Failed]);
        let ended: Vec<_> = RunStatus::VARIANTS.iter().filter(|s| s.is_finished()).collect();
        assert_eq!(ended.len(), 4);
        assert!(!RunStatus::Running.is_finished() && !RunStatus::Queued.is_finished());
    }

    #[test]
    fn run_ends_map_to_their_counters() {
        assert_eq!(RunStatus::Succeeded.rollup(), Some(RollupCounter::SyncsSucceeded));
        assert_eq!(RunStatus::Partial.rollup(), Some(RollupCounter::SyncsPartial));
        assert_eq!(RunStatus::Failed.rollup(), Some(RollupCounter::SyncsFailed));
        assert_eq!(RunStatus::Cancelled.rollup(), None);
        assert_eq!(RunStatus::Partial.health_signal(), Some(false));
        assert_eq!(RunStatus::Failed.health_signal(), Some(true));
        assert_eq!(RunStatus::Cancelled.health_signal(), None);
    }
}
