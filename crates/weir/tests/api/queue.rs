//! The processing queue's protocol through `Store` directly (no workers, no
//! HTTP), on both backends: a claim takes due events under a lease and no
//! other claimer gets them; finishing completes or reschedules them; a
//! retry waits for its time; an expired lease returns an event to the pool,
//! counted as a new attempt, and the lost claimer can no longer finish it.

use std::time::Duration;

use chrono::Utc;
use weir_core::{EventErrorType, EventStatus};
use weir_store::{EventWork, Finish};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::ingest::{intake_only, setup};

backend_tests!(claims_are_exclusive_and_finishes_stick, an_expired_lease_returns_the_event);

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
