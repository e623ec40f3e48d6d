//! Live events (the Server-Sent Events stream, `docs/live.md`): one
//! declaration, [`live_events!`], makes both [`LiveKind`] (the stream's
//! `event:` names) and [`LiveEvent`] (each kind with its typed `data:`), so a
//! kind cannot exist without its payload or be spelled twice.
//!
//! A [`LiveEvent`] serialises adjacently tagged, `{"kind": "event.received",
//! "data": {…}}`; the payload structs list their fields in alphabetical order,
//! which is the order the stream has always sent them in.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::connector_health::Health;
use crate::enums::{NotOneOf, string_enum};
use crate::state::RunStatus;

macro_rules! live_events {
    ($($(#[$vm:meta])* $variant:ident = $s:tt ($payload:ty)),+ $(,)?) => {
        string_enum!(
            /// What a live event tells (the stream's `event:` name); the list
            /// in `docs/live.md` is checked against this one.
            LiveKind { $($(#[$vm])* $variant = $s),+ }
        );

        /// One thing that happened, with what the stream's `data:` line
        /// carries about it.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", content = "data")]
        pub enum LiveEvent {
            $(
                $(#[$vm])*
                #[serde(rename = $s)]
                $variant($payload),
            )+
        }

        impl LiveEvent {
            /// The kind, whose spelling is the stream's `event:` name.
            pub fn kind(&self) -> LiveKind {
                match self { $(LiveEvent::$variant(_) => LiveKind::$variant,)+ }
            }

            /// The payload alone as JSON text: the stream's `data:` line.
            pub fn data_json(&self) -> Result<String, serde_json::Error> {
                match self { $(LiveEvent::$variant(d) => serde_json::to_string(d),)+ }
            }
        }
    };
}

live_events! {
    /// A delivery was stored (after its commit).
    EventReceived = "event.received" (EventReceived),
    /// Processing completed an event (records written, or ignored).
    EventProcessed = "event.processed" (EventAttempt),
    /// An attempt failed and a retry is scheduled.
    EventRetrying = "event.retrying" (EventAttempt),
    /// An event failed for good.
    EventFailed = "event.failed" (EventAttempt),
    /// A runner started a sync run.
    SyncStarted = "sync.started" (SyncStarted),
    /// A running sync's counts (at most every 250 ms).
    SyncProgress = "sync.progress" (SyncProgress),
    /// A sync run ended.
    SyncFinished = "sync.finished" (SyncFinished),
    /// A connector's health by recent activity changed.
    ConnectorHealthChanged = "connector.health_changed" (HealthChanged),
}

/// A stored delivery, as `event.received` tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventReceived {
    pub connector_id: String,
    pub event_id: String,
    pub event_type: String,
    /// The receiver (delivery URL) it came in through.
    pub receiver_id: String,
}

/// An event's processing attempt that ended (`event.processed`,
/// `event.retrying`, `event.failed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventAttempt {
    /// How many attempts the event had had when this one was claimed.
    pub attempt: i32,
    pub connector_id: String,
    pub event_id: String,
    pub event_type: String,
}

/// A run that a runner took up (`sync.started`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncStarted {
    pub connector_id: String,
    /// Always `running`.
    pub status: RunStatus,
    pub sync_configuration_id: String,
    pub sync_history_id: String,
}

/// A running sync's counts so far (`sync.progress`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncProgress {
    pub connector_id: String,
    /// Pages read from the source.
    pub pages: i64,
    pub records_created: i64,
    pub records_failed: i64,
    pub records_read: i64,
    pub records_updated: i64,
    pub sync_history_id: String,
}

/// A run's end and final counts (`sync.finished`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncFinished {
    pub connector_id: String,
    pub records_created: i64,
    pub records_failed: i64,
    pub records_read: i64,
    pub records_updated: i64,
    /// How it ended: `succeeded`, `partial`, `failed` or `cancelled`.
    pub status: RunStatus,
    pub sync_configuration_id: String,
    pub sync_history_id: String,
}

/// A connector's health change (`connector.health_changed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthChanged {
    pub connector_id: String,
    /// Failures in a row, counting the activity that changed it.
    pub consecutive_failures: i32,
    pub from: Health,
    pub to: Health,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn s(v: &str) -> String {
        v.to_owned()
    }

    fn attempt() -> EventAttempt {
        EventAttempt { attempt: 2, connector_id: s("c"), event_id: s("e"), event_type: s("order.created") }
    }

    /// Each variant with the `data` the engine published as untyped JSON
    /// before the payloads were typed.
    fn every_variant() -> Vec<(LiveEvent, serde_json::Value)> {
        let received =
            EventReceived { connector_id: s("c"), event_id: s("e"), event_type: s("t"), receiver_id: s("r") };
        let progress = SyncProgress {
            connector_id: s("c"),
            pages: 3,
            records_created: 4,
            records_failed: 5,
            records_read: 12,
            records_updated: 3,
            sync_history_id: s("h"),
        };
        let finished = SyncFinished {
            connector_id: s("c"),
            records_created: 4,
            records_failed: 5,
            records_read: 12,
            records_updated: 3,
            status: RunStatus::Partial,
            sync_configuration_id: s("sc"),
            sync_history_id: s("h"),
        };
        let started = SyncStarted {
            connector_id: s("c"),
            status: RunStatus::Running,
            sync_configuration_id: s("sc"),
            sync_history_id: s("h"),
        };
        let health = HealthChanged {
            connector_id: s("c"),
            consecutive_failures: 3,
            from: Health::Degraded,
            to: Health::Failing,
        };
        let attempt_json = json!({"event_id": "e", "connector_id": "c", "event_type": "order.created", "attempt": 2});
        vec![
            (
                LiveEvent::EventReceived(received),
                json!({"event_id": "e", "connector_id": "c", "receiver_id": "r", "event_type": "t"}),
            ),
            (LiveEvent::EventProcessed(attempt()), attempt_json.clone()),
            (LiveEvent::EventRetrying(attempt()), attempt_json.clone()),
            (LiveEvent::EventFailed(attempt()), attempt_json),
            (
                LiveEvent::SyncStarted(started),
                json!({"sync_history_id": "h", "sync_configuration_id": "sc", "connector_id": "c", "status": "running"}),
            ),
            (
                LiveEvent::SyncProgress(progress),
                json!({
                    "sync_history_id": "h", "connector_id": "c", "records_read": 12, "records_created": 4,
                    "records_updated": 3, "records_failed": 5, "pages": 3,
                }),
            ),
            (
                LiveEvent::SyncFinished(finished),
                json!({
                    "sync_history_id": "h", "sync_configuration_id": "sc", "connector_id": "c", "status": "partial",
                    "records_read": 12, "records_created": 4, "records_updated": 3, "records_failed": 5,
                }),
            ),
            (
                LiveEvent::ConnectorHealthChanged(health),
                json!({"connector_id": "c", "from": "degraded", "to": "failing", "consecutive_failures": 3}),
            ),
        ]
    }

    /// The `data:` text is byte for byte what the untyped JSON rendered
    /// (same keys, same order), and the tagged form round trips.
    #[test]
    fn every_variant_serialises_as_it_always_has() {
        let cases = every_variant();
        let kinds: Vec<LiveKind> = cases.iter().map(|(e, _)| e.kind()).collect();
        assert_eq!(kinds, LiveKind::VARIANTS);
        for (event, before) in cases {
            assert_eq!(event.data_json().unwrap(), before.to_string(), "{}", event.kind());
            let tagged = serde_json::to_value(&event).unwrap();
            assert_eq!(tagged, json!({"kind": event.kind().as_str(), "data": before}));
            assert_eq!(serde_json::from_value::<LiveEvent>(tagged).unwrap(), event);
        }
    }

    #[test]
    fn an_unknown_kind_is_refused() {
        let unknown = json!({"kind": "event.vanished", "data": {}});
        assert!(serde_json::from_value::<LiveEvent>(unknown).is_err());
    }
}
