//! The decide step without a database: processed, ignored, failed, retried
//! and lost events.

use std::collections::HashSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use weir_core::{EventErrorType, RollupCounter};

use super::*;
use crate::repos::records::RecordWrite;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).single().unwrap_or_default()
}

fn event(id: &str) -> ClaimedEvent {
    ClaimedEvent {
        scope: TenantScope::new("t1".to_owned()),
        id: id.to_owned(),
        connector_id: "c1".to_owned(),
        receiver_id: "r1".to_owned(),
        event_type: "customer.updated".to_owned(),
        payload: Some(json!({})),
        attempts: 2,
        attempt_log: vec![json!({"attempt": 1})],
        received_at: at() - Duration::minutes(5),
    }
}

fn planned(external_id: &str) -> PlannedRecord {
    PlannedRecord {
        sync_configuration_id: "sc1".to_owned(),
        write: RecordWrite {
            entity_type: "customer".to_owned(),
            external_id: external_id.to_owned(),
            data: json!({}),
            source_connector_id: None,
            last_event_id: None,
            ordering_value: None,
        },
    }
}

fn record(external_id: &str, version: i64) -> Record {
    Record {
        id: format!("rec-{external_id}"),
        entity_type: "customer".to_owned(),
        external_id: external_id.to_owned(),
        data: json!({}),
        version,
        source_connector_id: None,
        last_event_id: None,
        created_at: at(),
        updated_at: at(),
    }
}

fn work<'a>(event: &'a ClaimedEvent, records: Vec<PlannedRecord>, finish: Finish) -> EventWork<'a> {
    EventWork { event, records, finish: Some(finish), started_at: at() - Duration::seconds(1), audits: Vec::new() }
}

fn held(ids: &[&str]) -> HashSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

fn actions(d: &Decided) -> Vec<&'static str> {
    d.audits.values().flat_map(|(_, e)| e.iter().map(|e| e.action)).collect()
}

#[test]
fn a_processed_event_audits_and_counts_its_changed_records() {
    let ev = event("e1");
    let mut works = vec![work(&ev, vec![planned("c"), planned("a"), planned("b")], Finish::Completed { result: None })];
    let writes = record_writes(&mut works, &held(&["e1"]));
    let keys: Vec<&str> = writes.iter().map(|(_, p)| p.write.external_id.as_str()).collect();
    assert_eq!(keys, ["a", "b", "c"], "records are written in key order");
    let written = vec![
        (record("a", 1), UpsertOutcome::Created),
        (record("b", 3), UpsertOutcome::Updated),
        (record("c", 2), UpsertOutcome::Unchanged),
    ];
    let d = decide(works, &held(&["e1"]), writes, written, at());
    assert_eq!(actions(&d), ["record.created", "record.updated"], "an unchanged record is not audited");
    let day = at().date_naive();
    assert_eq!(d.days.get("t1", "c1", day, RollupCounter::RecordsProcessed), 2);
    assert_eq!(d.days.get("t1", "c1", day, RollupCounter::WebhooksCompleted), 1);
    assert_eq!(d.activity.outcomes("c1"), [false]);
    assert!(d.endings.is_empty());
    assert_eq!(d.effects[0].len(), 3);
    let (id, result, log) = &d.completed[0];
    assert_eq!(id, "e1");
    let result: Value = serde_json::from_str(result).unwrap_or_default();
    assert_eq!(result["action"], "processed");
    assert_eq!(result["records"][1]["action"], "updated");
    let log: Value = serde_json::from_str(log).unwrap_or_default();
    assert_eq!(log[1]["attempt"], 2);
    assert_eq!(log[1]["outcome"], "completed");
}

#[test]
fn an_ignored_event_is_audited_with_its_result() {
    let ev = event("e1");
    let result = json!({"action": "ignored", "reason": "no route"});
    let mut works = vec![work(&ev, Vec::new(), Finish::Completed { result: Some(result.clone()) })];
    let writes = record_writes(&mut works, &held(&["e1"]));
    let d = decide(works, &held(&["e1"]), writes, Vec::new(), at());
    assert_eq!(actions(&d), ["webhook_event.ignored"]);
    assert_eq!(d.audits["t1"].1[0].details, result);
    assert_eq!(d.completed[0].1, result.to_string());
    assert_eq!(d.days.get("t1", "c1", at().date_naive(), RollupCounter::WebhooksCompleted), 1);
}

#[test]
fn a_failed_event_counts_its_error_and_keeps_its_records_in_the_result() {
    let ev = event("e1");
    let finish =
        Finish::Failed { error_type: EventErrorType::Destination, error_message: "503".to_owned(), result: None };
    let mut works = vec![work(&ev, vec![planned("a")], finish)];
    let writes = record_writes(&mut works, &held(&["e1"]));
    let d = decide(works, &held(&["e1"]), writes, vec![(record("a", 1), UpsertOutcome::Created)], at());
    assert_eq!(actions(&d), ["record.created", "webhook_event.failed"]);
    let day = at().date_naive();
    assert_eq!(d.days.get("t1", "c1", day, RollupCounter::WebhooksFailed), 1);
    assert_eq!(d.errors.get("t1", "c1", day, "destination_error"), 1);
    assert_eq!(d.activity.outcomes("c1"), [true]);
    assert!(d.completed.is_empty());
    let ending = &d.endings[0];
    assert_eq!((ending.error_type, ending.error_message.as_str()), (EventErrorType::Destination, "503"));
    let EndingKind::Failed { result: Some(result) } = &ending.kind else { panic!("a failure with a result") };
    assert_eq!(result["action"], "failed");
    assert_eq!(ending.attempt_log[1]["error"], "503");
}

#[test]
fn a_retry_is_an_ending_that_counts_nothing_yet() {
    let ev = event("e1");
    let next = at() + Duration::seconds(30);
    let finish = Finish::Retry { at: next, error_type: EventErrorType::Database, error_message: "busy".to_owned() };
    let mut works = vec![work(&ev, Vec::new(), finish)];
    let writes = record_writes(&mut works, &held(&["e1"]));
    let d = decide(works, &held(&["e1"]), writes, Vec::new(), at());
    assert_eq!(d.endings[0].kind, EndingKind::Retry { next });
    assert!(d.audits.is_empty());
    assert!(d.activity.outcomes("c1").is_empty());
    assert_eq!(d.days.len(), 0);
}

#[test]
fn an_event_whose_lease_was_lost_gets_nothing() {
    let (kept, lost) = (event("e1"), event("e2"));
    let mut works = vec![
        work(&kept, Vec::new(), Finish::Completed { result: None }),
        work(&lost, vec![planned("a")], Finish::Completed { result: None }),
    ];
    let writes = record_writes(&mut works, &held(&["e1"]));
    assert!(writes.is_empty(), "a lost event writes no records");
    let d = decide(works, &held(&["e1"]), writes, Vec::new(), at());
    assert_eq!(d.effects, [Vec::new(), Vec::new()]);
    assert_eq!(d.completed.len(), 1);
    assert_eq!(d.completed[0].0, "e1");
    assert!(d.endings.is_empty());
    assert!(d.audits.is_empty());
    assert_eq!(d.days.get("t1", "c1", at().date_naive(), RollupCounter::WebhooksCompleted), 1);
    assert_eq!(d.activity.outcomes("c1"), [false]);
}

/// A replay resets the attempt budget, not the history: the next logged
/// attempt numbers on from the log (issue 17, item 17); a lost worker's
/// attempt, counted but never logged, keeps its number.
#[test]
fn attempts_number_on_across_replays() {
    let mut ev = event("e1");
    ev.attempts = 1; // the first claim after a replay
    ev.attempt_log = vec![json!({"attempt": 1}), json!({"attempt": 2})];
    let mut works = vec![work(&ev, Vec::new(), Finish::Completed { result: None })];
    let writes = record_writes(&mut works, &held(&["e1"]));
    let d = decide(works, &held(&["e1"]), writes, Vec::new(), at());
    let log: Value = serde_json::from_str(&d.completed[0].2).unwrap_or_default();
    let numbers: Vec<i64> = log.as_array().into_iter().flatten().filter_map(|e| e["attempt"].as_i64()).collect();
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(attempt_number(&[], 3), 3, "a lost worker's attempt #1 and #2: this is #3");
    assert_eq!(attempt_number(&[json!({"attempt": 1})], 1), 2);
}

fn logged(outcome: &str, finished_at: DateTime<Utc>, error_type: Option<&str>) -> Value {
    json!({"attempt": 1, "outcome": outcome, "finished_at": finished_at, "error_type": error_type})
}

/// A replay that succeeds moves the event's count from its failure (on the
/// day and under the type it failed with) to completed, in the finish's
/// own counters (issue 17, item 11).
#[test]
fn a_replayed_success_takes_back_its_failure() {
    let failed_at = at() - Duration::days(1);
    let mut ev = event("e1");
    ev.attempt_log = vec![logged("failed", failed_at, Some("destination_error"))];
    let mut works = vec![work(&ev, Vec::new(), Finish::Completed { result: None })];
    let writes = record_writes(&mut works, &held(&["e1"]));
    let d = decide(works, &held(&["e1"]), writes, Vec::new(), at());
    let (before, today) = (failed_at.date_naive(), at().date_naive());
    assert_eq!(d.days.get("t1", "c1", before, RollupCounter::WebhooksFailed), -1);
    assert_eq!(d.errors.get("t1", "c1", before, "destination_error"), -1);
    assert_eq!(d.days.get("t1", "c1", today, RollupCounter::WebhooksCompleted), 1);
    assert_eq!(d.days.get("t1", "c1", today, RollupCounter::WebhooksFailed), 0);
    assert_eq!(d.activity.outcomes("c1"), [false], "a success like any other for health");
}

#[test]
fn a_replayed_failure_moves_its_count_to_its_new_day_and_type() {
    let mut ev = event("e1");
    ev.attempt_log =
        vec![logged("completed", at() - Duration::days(2), None), logged("retry", at(), Some("database_error"))];
    let finish =
        Finish::Failed { error_type: EventErrorType::Mapping, error_message: "no id".to_owned(), result: None };
    let mut works = vec![work(&ev, Vec::new(), finish)];
    let writes = record_writes(&mut works, &held(&["e1"]));
    let d = decide(works, &held(&["e1"]), writes, Vec::new(), at());
    let (before, today) = ((at() - Duration::days(2)).date_naive(), at().date_naive());
    assert_eq!(
        d.days.get("t1", "c1", before, RollupCounter::WebhooksCompleted),
        -1,
        "the retry after it is not an outcome"
    );
    assert_eq!(d.days.get("t1", "c1", today, RollupCounter::WebhooksFailed), 1);
    assert_eq!(d.errors.get("t1", "c1", today, "mapping_error"), 1);
    assert_eq!(d.errors.len(), 1, "a completion had no error to take back");
}

#[test]
fn the_previous_outcome_is_the_logs_last_final_entry() {
    let t = at() - Duration::hours(30);
    assert_eq!(previous_outcome(&[json!({"attempt": 1})]), None, "a first claim has none");
    assert_eq!(previous_outcome(&[logged("retry", t, Some("database_error"))]), None);
    let log = [logged("failed", t - Duration::days(1), Some("mapping_error")), logged("completed", t, None)];
    let p = previous_outcome(&log).unwrap_or_else(|| panic!("a previous outcome"));
    assert_eq!((p.outcome, p.day, p.error_type), (AttemptOutcome::Completed, t.date_naive(), None));
    let no_time = [json!({"attempt": 1, "outcome": "failed", "error_type": "mapping_error"})];
    assert_eq!(previous_outcome(&no_time), None);
}
