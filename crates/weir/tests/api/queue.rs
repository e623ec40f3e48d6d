//! The processing queue's protocol through `Store` directly (no workers, no
//! HTTP), on both backends: a claim takes due events under a lease and no
//! other claimer gets them; finishing completes or reschedules them; a
//! retry waits for its time; an expired lease returns an event to the pool,
//! counted as a new attempt, and the lost claimer can no longer finish it.
//! A replayed event's count moves when its replay finishes, and a rebuild
//! at any moment agrees with the writers (issue 17, item 11).

use std::time::Duration;

use chrono::Utc;
use weir_core::{EventErrorType, EventStatus};
use weir_store::{EventWork, Finish};

use crate::backend_tests;
use crate::dashboard::rollup_rows;
use crate::helpers::{Backend, TestApp};
use crate::ingest::{intake_only, setup};

backend_tests!(
    claims_are_exclusive_and_finishes_stick,
    an_expired_lease_returns_the_event,
    a_replay_moves_its_count_and_a_rebuild_meanwhile_agrees
);

const LEASE: Duration = Duration::from_secs(60);

fn work<'a>(event: &'a weir_store::ClaimedEvent, finish: Finish) -> EventWork<'a> {
    EventWork { event, records: Vec::new(), finish: Some(finish), started_at: Utc::now(), audits: Vec::new() }
}

async fn claims_are_exclusive_and_finishes_stick(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let s = setup(&app).await;
    s.store.ingest_batch(&[s.accepted("q1", None), s.accepted("q2", None)]).await.unwrap();

    let mut held = s.store.claim_due_events("w1", 10, LEASE, false).await.unwrap();
    held.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(held.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["q1", "q2"]);
    assert!(held.iter().all(|e| e.attempts == 1), "a claim counts the attempt");
    assert_eq!(s.store.get_event(&s.scope, "q1").await.unwrap().processing_status, EventStatus::Processing);
    assert!(s.store.claim_due_events("w2", 10, LEASE, true).await.unwrap().is_empty(), "held events are not shared");

    let retry_at = Utc::now() + chrono::Duration::hours(1);
    let works = vec![
        work(&held[0], Finish::Completed { result: None }),
        work(
            &held[1],
            Finish::Retry { at: retry_at, error_type: EventErrorType::Database, error_message: "try later".into() },
        ),
    ];
    s.store.process_events("w1", works).await.unwrap();
    let q1 = s.store.get_event(&s.scope, "q1").await.unwrap();
    let q2 = s.store.get_event(&s.scope, "q2").await.unwrap();
    assert_eq!(q1.processing_status, EventStatus::Completed);
    assert_eq!(q2.processing_status, EventStatus::Pending);
    assert_eq!(q2.error_type.as_deref(), Some(EventErrorType::Database.as_str()));
    // Neither is due: one is done, the other waits for its retry time.
    assert!(s.store.claim_due_events("w2", 10, LEASE, true).await.unwrap().is_empty());
    s.store.close().await;
}

async fn an_expired_lease_returns_the_event(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let s = setup(&app).await;
    s.store.ingest_batch(&[s.accepted("q3", None)]).await.unwrap();
    let lost = s.store.claim_due_events("w1", 10, Duration::from_millis(1), false).await.unwrap();
    assert_eq!(lost.len(), 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Only a claim that looks for expired leases finds it.
    assert!(s.store.claim_due_events("w2", 10, LEASE, false).await.unwrap().is_empty());
    let again = s.store.claim_due_events("w2", 10, LEASE, true).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, "q3");
    assert_eq!(again[0].attempts, 2, "the lost attempt counts");
    // The first claimer's late finish changes nothing: w2 holds the event.
    let _ = s.store.process_events("w1", vec![work(&lost[0], Finish::Completed { result: None })]).await;
    assert_eq!(s.store.get_event(&s.scope, "q3").await.unwrap().processing_status, EventStatus::Processing);
    s.store.process_events("w2", vec![work(&again[0], Finish::Completed { result: None })]).await.unwrap();
    assert_eq!(s.store.get_event(&s.scope, "q3").await.unwrap().processing_status, EventStatus::Completed);
    s.store.close().await;
}

/// Moves the finished event `id` a day back: its `processed_at` and its
/// attempt log's last `finished_at` (a failure yesterday).
async fn finished_yesterday(store: &weir_store::Store, scope: &weir_store::TenantScope, id: &str) {
    use sea_orm::{ConnectionTrait, Statement};
    let ev = store.get_event(scope, id).await.unwrap();
    let yesterday = ev.processed_at.unwrap() - chrono::Duration::days(1);
    let mut log = ev.attempt_log;
    log.last_mut().unwrap()["finished_at"] = serde_json::json!(yesterday);
    let db = store.connection();
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => "UPDATE webhook_events SET processed_at = $1, attempt_log = $2 WHERE id = $3",
        _ => "UPDATE webhook_events SET processed_at = ?, attempt_log = ? WHERE id = ?",
    };
    let values: [sea_orm::Value; 3] = [yesterday.into(), serde_json::Value::Array(log).into(), id.into()];
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.unwrap();
}

async fn a_replay_moves_its_count_and_a_rebuild_meanwhile_agrees(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let s = setup(&app).await;
    let system = weir_store::SystemScope::local_operator();
    s.store.ingest_batch(&[s.accepted("r1", None)]).await.unwrap();
    let held = s.store.claim_due_events("w1", 10, LEASE, false).await.unwrap();
    let failed = Finish::Failed { error_type: EventErrorType::Mapping, error_message: "no".into(), result: None };
    s.store.process_events("w1", vec![work(&held[0], failed)]).await.unwrap();
    // It failed yesterday, as the rollups (rebuilt from the moved rows) say.
    finished_yesterday(&s.store, &s.scope, "r1").await;
    s.store.rebuild_rollups(&system).await.unwrap();
    let failed_yesterday = rollup_rows(&s.store).await;
    assert_eq!(failed_yesterday.iter().filter(|r| r.contains("webhooks_failed=1")).count(), 1, "{failed_yesterday:?}");

    // Replayed: until it finishes again it counts by its previous outcome,
    // and a rebuild meanwhile says so too.
    s.store.replay_event(&s.scope, "r1", "tester").await.unwrap();
    s.store.rebuild_rollups(&system).await.unwrap();
    assert_eq!(rollup_rows(&s.store).await, failed_yesterday, "a rebuild while the replay waits");

    // It succeeds today: yesterday's failure is taken back (the rows it
    // leaves empty go), today counts it completed; a rebuild agrees.
    let again = s.store.claim_due_events("w1", 10, LEASE, false).await.unwrap();
    s.store.process_events("w1", vec![work(&again[0], Finish::Completed { result: None })]).await.unwrap();
    let written = rollup_rows(&s.store).await;
    assert!(written.iter().all(|r| !r.starts_with("error|") && !r.contains("webhooks_failed=1")), "{written:?}");
    assert_eq!(written.iter().filter(|r| r.contains("webhooks_completed=1")).count(), 1, "{written:?}");
    let empty = |r: &&String| !r.starts_with("error|") && r.split('|').skip(3).all(|kv| kv.ends_with("=0"));
    assert!(!written.iter().any(|r| empty(&r)), "no row left all zero: {written:?}");
    s.store.rebuild_rollups(&system).await.unwrap();
    assert_eq!(rollup_rows(&s.store).await, written, "rebuild == writers");
    s.store.close().await;
}
