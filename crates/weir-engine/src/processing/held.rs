//! The second half of an attempt for events whose records go to an HTTP
//! destination: the deliveries run (concurrently, bounded), then each
//! event's ending is decided from their results — a permanent refusal fails
//! it, a transient one retries it (or fails it on its last attempt), else
//! it completes with every record and delivery in its result.

use chrono::Utc;
use futures::StreamExt as _;
use serde_json::json;
use weir_core::{EventErrorType, PlanOutcome};
use weir_store::{AuditEntry, ClaimedEvent, EventWork, Finish, RecordEffect};

use super::Processor;
use super::destination::{DeliveryResult, deliver};
use super::plan::PlannedDelivery;

impl Processor {
    /// Delivers the held events' records and decides how each ends.
    pub(super) async fn deliver_held<'a>(
        &self,
        events: &'a [ClaimedEvent],
        effects: &[Vec<RecordEffect>],
        held: Vec<(usize, Vec<PlannedDelivery>)>,
        started_at: chrono::DateTime<Utc>,
    ) -> Vec<EventWork<'a>> {
        // Owned jobs: the futures borrow nothing, so the worker's future
        // stays `Send` for any lifetime.
        let mut jobs = Vec::new();
        for (i, ds) in &held {
            for d in ds {
                let effect = effects[*i].iter().find(|e| e.sync_configuration_id == d.sync_configuration_id).cloned();
                jobs.push((*i, d.clone(), effect, events[*i].id.clone(), self.inner.outbound.clone()));
            }
        }
        let results: Vec<(usize, PlannedDelivery, Option<DeliveryResult>)> = futures::stream::iter(jobs)
            .map(|(i, d, effect, event_id, outbound)| async move {
                // An older event than the record held is not delivered.
                if effect.as_ref().is_some_and(|e| e.outcome == weir_store::UpsertOutcome::Stale) {
                    return (i, d, None);
                }
                let r = deliver(&outbound, &event_id, &d, effect.as_ref()).await;
                (i, d, Some(r))
            })
            .buffer_unordered(self.inner.options.delivery_concurrency.max(1))
            .collect()
            .await;
        held.iter()
            .map(|(i, _)| {
                let ev = &events[*i];
                let mine: Vec<_> = results.iter().filter(|(j, _, _)| j == i).collect();
                let mut audits = Vec::new();
                let mut summaries = Vec::new();
                for (_, d, r) in &mine {
                    let Some(r) = r else { continue };
                    summaries.push(r.to_json(d));
                    let (action, details) = match r {
                        DeliveryResult::Delivered { .. } => ("destination.delivered", r.to_json(d)),
                        _ => ("destination.failed", r.to_json(d)),
                    };
                    audits.push(AuditEntry {
                        action,
                        actor: format!("sync_configuration:{}", d.sync_configuration_id),
                        resource_type: "webhook_event",
                        resource_id: ev.id.clone(),
                        connector_id: Some(ev.connector_id.clone()),
                        details: json!({"attempt": ev.attempts, "delivery": details}),
                    });
                }
                let result = json!({
                    "action": PlanOutcome::Processed,
                    "records": effects[*i].iter().map(RecordEffect::to_json).collect::<Vec<_>>(),
                    "deliveries": summaries,
                });
                let permanent = mine.iter().find_map(|(_, _, r)| match r {
                    Some(DeliveryResult::Permanent { error, .. }) => Some(error.clone()),
                    _ => None,
                });
                let transient = mine.iter().find_map(|(_, _, r)| match r {
                    Some(DeliveryResult::Transient { error, .. }) => Some(error.clone()),
                    _ => None,
                });
                let finish = match (permanent, transient) {
                    (Some(e), _) => Finish::Failed {
                        error_type: EventErrorType::Destination,
                        error_message: e,
                        result: Some(result),
                    },
                    (None, Some(e)) => self.transient(ev, EventErrorType::Destination, e, Some(result)),
                    (None, None) => Finish::Completed { result: Some(result) },
                };
                EventWork { event: ev, records: Vec::new(), finish: Some(finish), started_at, audits }
            })
            .collect()
    }
}
