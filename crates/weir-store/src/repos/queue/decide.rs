//! The decide step of [`Store::process_events`](crate::Store::process_events):
//! from what a batch's record writes did and how its attempts end, what to
//! persist — audit entries, rollup increments, connector activity, the
//! events completing now and the retries and failures. Pure: no database,
//! so every rule is unit-tested here; the store only writes the answer.
//!
//! The rollups count each event once, by its current outcome: when a
//! replayed event finishes, what its previous outcome counted (found in its
//! attempt log) is taken back in the same transaction.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use weir_core::rollup::{Tally, tally};
use weir_core::{AttemptOutcome, EventErrorType, PlanOutcome, RollupCounter};

use super::types::{ClaimedEvent, EventWork, Finish, PlannedRecord, RecordEffect};
use crate::TenantScope;
use crate::repos::audit::AuditEntry;
use crate::repos::connector_health::Activity;
use crate::repos::records::{Record, UpsertOutcome};
use crate::repos::rollups::{DayCounters, ErrorCounters};

/// A completed event's row: (id, result JSON, attempt log JSON), written for
/// the whole batch in one statement.
pub(super) type CompletedRow = (String, String, String);

/// A retry or a failure: one update of the event's row.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct EventEnding {
    pub id: String,
    /// The row's arrival time (prunes the update to its partition).
    pub received_at: DateTime<Utc>,
    /// The attempt log with this attempt appended.
    pub attempt_log: Value,
    pub error_type: EventErrorType,
    pub error_message: String,
    pub kind: EndingKind,
}

/// Which of the two non-completed endings, with what only it writes.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum EndingKind {
    /// Back to `pending`, due at `next`.
    Retry { next: DateTime<Utc> },
    /// `failed`, processed now, with this result (`NULL` when `None`).
    Failed { result: Option<Value> },
}

/// Everything a batch writes besides its records, in the order of writing:
/// `endings` before `completed` (the lock order), counters, then audits.
#[derive(Debug, Default)]
pub(super) struct Decided {
    /// Each work item's record effects (empty for an event whose lease was lost).
    pub effects: Vec<Vec<RecordEffect>>,
    /// Retries and failures, in batch order.
    pub endings: Vec<EventEnding>,
    pub completed: Vec<CompletedRow>,
    pub days: DayCounters,
    pub errors: ErrorCounters,
    pub activity: Activity,
    /// Audit entries by tenant id: appends lock tenant rows in one global order.
    pub audits: BTreeMap<String, (TenantScope, Vec<AuditEntry>)>,
}

/// The records of held events, in key order across the whole batch (stable,
/// so one key's events keep their order): concurrent workers then lock rows
/// in the same order and cannot deadlock each other. Each write keeps the
/// index of its work item. An event not `held` (its lease was lost) writes
/// no records.
pub(super) fn record_writes(works: &mut [EventWork<'_>], held: &HashSet<String>) -> Vec<(usize, PlannedRecord)> {
    let mut writes: Vec<(usize, PlannedRecord)> = Vec::new();
    for (i, w) in works.iter_mut().enumerate() {
        let records = std::mem::take(&mut w.records);
        if held.contains(&w.event.id) {
            writes.extend(records.into_iter().map(|r| (i, r)));
        }
    }
    writes.sort_by_cached_key(|(i, r)| {
        (works[*i].event.scope.tenant_id().to_owned(), r.write.entity_type.clone(), r.write.external_id.clone())
    });
    writes
}

/// Decides what the batch persists. `written` answers `writes` (from
/// [`record_writes`]) one for one; `at` is the transaction's time. An event
/// not `held` gets no status, counters or entries of its own — only the
/// extra audit entries its work carried (deliveries that did happen).
pub(super) fn decide(
    works: Vec<EventWork<'_>>,
    held: &HashSet<String>,
    writes: Vec<(usize, PlannedRecord)>,
    written: Vec<(Record, UpsertOutcome)>,
    at: DateTime<Utc>,
) -> Decided {
    let mut d = Decided { effects: vec![Vec::new(); works.len()], ..Decided::default() };
    let mut entries_of: Vec<Vec<AuditEntry>> = works.iter().map(|w| w.audits.clone()).collect();
    for ((i, planned), (record, outcome)) in writes.into_iter().zip(written) {
        let ev = works[i].event;
        entries_of[i].extend(record_audit(ev, &planned.sync_configuration_id, &record, outcome));
        if matches!(outcome, UpsertOutcome::Created | UpsertOutcome::Updated) {
            d.days.add(ev.scope.tenant_id(), &ev.connector_id, at.date_naive(), RollupCounter::RecordsProcessed, 1);
        }
        d.effects[i].push(RecordEffect {
            sync_configuration_id: planned.sync_configuration_id,
            entity_type: record.entity_type,
            external_id: record.external_id,
            outcome,
            version: record.version,
        });
    }
    for (i, (work, mut entries)) in works.into_iter().zip(entries_of).enumerate() {
        let ev = work.event;
        if let Some(finish) = work.finish.filter(|_| held.contains(&ev.id)) {
            let log = attempt_log(ev, &finish, work.started_at, at);
            entries.extend(finish_counts(&mut d, ev, &finish, at));
            match finish {
                Finish::Completed { result } => {
                    let result = result.unwrap_or_else(|| records_result(PlanOutcome::Processed, &d.effects[i]));
                    d.completed.push((ev.id.clone(), result.to_string(), log.to_string()));
                }
                Finish::Retry { at: next, error_type, error_message } => {
                    d.endings.push(ending(ev, log, error_type, error_message, EndingKind::Retry { next }));
                }
                Finish::Failed { error_type, error_message, result } => {
                    let effects = &d.effects[i];
                    let result =
                        result.or_else(|| (!effects.is_empty()).then(|| records_result(PlanOutcome::Failed, effects)));
                    d.endings.push(ending(ev, log, error_type, error_message, EndingKind::Failed { result }));
                }
            }
        }
        if !entries.is_empty() {
            let tenant = ev.scope.tenant_id().to_owned();
            d.audits.entry(tenant).or_insert_with(|| (ev.scope.clone(), Vec::new())).1.extend(entries);
        }
    }
    d
}

fn ending(
    ev: &ClaimedEvent,
    attempt_log: Value,
    error_type: EventErrorType,
    error_message: String,
    kind: EndingKind,
) -> EventEnding {
    EventEnding { id: ev.id.clone(), received_at: ev.received_at, attempt_log, error_type, error_message, kind }
}

/// An event's result naming the records it wrote.
fn records_result(action: PlanOutcome, effects: &[RecordEffect]) -> Value {
    json!({"action": action, "records": effects.iter().map(RecordEffect::to_json).collect::<Vec<_>>()})
}

/// The event's attempt log with this attempt appended.
fn attempt_log(ev: &ClaimedEvent, finish: &Finish, started_at: DateTime<Utc>, at: DateTime<Utc>) -> Value {
    let (error_type, error) = match finish {
        Finish::Retry { error_type, error_message, .. } | Finish::Failed { error_type, error_message, .. } => {
            (Some(error_type), Some(error_message))
        }
        Finish::Completed { .. } => (None, None),
    };
    let mut log = ev.attempt_log.clone();
    log.push(json!({
        "attempt": attempt_number(&log, ev.attempts), "started_at": started_at, "finished_at": at,
        "outcome": finish.outcome(), "error_type": error_type, "error": error,
    }));
    Value::Array(log)
}

/// This attempt's number in the event's whole history: the budget counter
/// (`attempts`, reset by a replay) or, after a replay, one past the last
/// logged attempt — so a replayed event's log reads #1, #2, … on, and an
/// attempt whose worker was lost (counted, never logged) keeps its number.
fn attempt_number(log: &[Value], attempts: i32) -> i64 {
    let last = log.iter().filter_map(|e| e["attempt"].as_i64()).max().unwrap_or(0);
    i64::from(attempts).max(last + 1)
}

/// A record change's audit entry; an unchanged record has none.
fn record_audit(ev: &ClaimedEvent, configuration: &str, record: &Record, outcome: UpsertOutcome) -> Option<AuditEntry> {
    let action = match outcome {
        UpsertOutcome::Created => "record.created",
        UpsertOutcome::Updated => "record.updated",
        UpsertOutcome::Stale => "record.ignored",
        UpsertOutcome::Unchanged => return None,
    };
    Some(AuditEntry {
        action,
        actor: format!("sync_configuration:{configuration}"),
        resource_type: "record",
        resource_id: format!("{}/{}", record.entity_type, record.external_id),
        connector_id: Some(ev.connector_id.clone()),
        details: json!({
            "entity_type": record.entity_type, "external_id": record.external_id,
            "version": record.version, "event_id": ev.id,
            "sync_configuration_id": configuration,
            "reason": (outcome == UpsertOutcome::Stale).then_some("older than the record held"),
        }),
    })
}

/// A replayed event's previous final outcome: the last `completed` or
/// `failed` entry of its attempt log (only a replay lets a finished event be
/// claimed again), the UTC day it finished on, and its error type.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PreviousOutcome {
    /// `Completed` or `Failed`.
    pub outcome: AttemptOutcome,
    /// The day its rollups counted it on.
    pub day: NaiveDate,
    /// For a failure, the error type it was counted under.
    pub error_type: Option<String>,
}

/// The previous final outcome in `log` (the log before this attempt), if
/// any; `None` too when its entry says no time (nothing to take back from).
pub(super) fn previous_outcome(log: &[Value]) -> Option<PreviousOutcome> {
    let outcome_of = |e: &Value| e.get("outcome").and_then(Value::as_str).and_then(|o| o.parse().ok());
    let (entry, outcome) = log.iter().rev().find_map(|e| match outcome_of(e) {
        Some(o @ (AttemptOutcome::Completed | AttemptOutcome::Failed)) => Some((e, o)),
        Some(AttemptOutcome::Retry) | None => None,
    })?;
    let finished: DateTime<Utc> = serde_json::from_value(entry.get("finished_at")?.clone()).ok()?;
    let error_type = entry.get("error_type").and_then(Value::as_str).map(str::to_owned);
    Some(PreviousOutcome { outcome, day: finished.date_naive(), error_type })
}

/// Takes back what a replayed event's previous outcome counted — on the day
/// it finished, under its error type, by the rule a rebuild counts it with
/// ([`tally`]) — so that the finish now recorded is the event's only count.
fn take_back_previous(d: &mut Decided, ev: &ClaimedEvent) {
    let Some(previous) = previous_outcome(&ev.attempt_log) else { return };
    let what = match previous.outcome {
        AttemptOutcome::Completed => Tally::Counter(RollupCounter::WebhooksCompleted),
        AttemptOutcome::Failed => Tally::CounterAndError(RollupCounter::WebhooksFailed),
        AttemptOutcome::Retry => return,
    };
    let (tenant, connector) = (ev.scope.tenant_id(), ev.connector_id.as_str());
    let counted = tally(what, previous.error_type.as_deref());
    for counter in counted.counters {
        d.days.add(tenant, connector, previous.day, counter, -1);
    }
    if let Some(error) = counted.error {
        d.errors.add(tenant, connector, previous.day, error, -1);
    }
}

/// Counts a finished attempt in the rollups and connector activity, and
/// answers its audit entry: an ignored event's (its plan said so) or a
/// failed one's. A retry counts nothing yet; a replayed event's finish also
/// takes back its previous outcome's counts.
fn finish_counts(d: &mut Decided, ev: &ClaimedEvent, finish: &Finish, at: DateTime<Utc>) -> Option<AuditEntry> {
    let (tenant, day) = (ev.scope.tenant_id(), at.date_naive());
    let entry = |action, details| AuditEntry {
        action,
        actor: "worker".to_owned(),
        resource_type: "webhook_event",
        resource_id: ev.id.clone(),
        connector_id: Some(ev.connector_id.clone()),
        details,
    };
    match finish {
        Finish::Completed { result } => {
            take_back_previous(d, ev);
            d.days.add(tenant, &ev.connector_id, day, RollupCounter::WebhooksCompleted, 1);
            d.activity.add(&ev.connector_id, false);
            result
                .as_ref()
                .filter(|r| r.get("action").and_then(Value::as_str) == Some(PlanOutcome::Ignored.as_str()))
                .map(|r| entry("webhook_event.ignored", r.clone()))
        }
        Finish::Retry { .. } => None,
        Finish::Failed { error_type, error_message, .. } => {
            take_back_previous(d, ev);
            d.days.add(tenant, &ev.connector_id, day, RollupCounter::WebhooksFailed, 1);
            d.activity.add(&ev.connector_id, true);
            d.errors.add(tenant, &ev.connector_id, day, error_type.as_str(), 1);
            let details = json!({
                "event_type": ev.event_type, "attempts": ev.attempts,
                "error_type": error_type, "error": error_message,
            });
            Some(entry("webhook_event.failed", details))
        }
    }
}

#[cfg(test)]
#[path = "tests_decide.rs"]
mod tests;
