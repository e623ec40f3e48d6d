//! `Store::ingest_batch` called directly, without HTTP: one batch mixing
//! new events, a duplicate inside the batch, a duplicate of an earlier
//! batch and a refusal commits events, audit entries, rollups and
//! `last_received_at` together, on both backends.

use chrono::Utc;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::json;
use weir_core::webhook::RefusalReason;
use weir_store::{AcceptedDelivery, Delivery, DeliveryOutcome, RejectedDelivery, TenantScope};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(
    a_mixed_batch_commits_events_audits_and_rollups,
    a_batch_of_refusals_only_audits,
    writers_in_one_process_take_turns_instead_of_failing_busy,
    last_received_at_only_moves_forward_and_never_holds_up_a_batch
);

pub(crate) fn intake_only() -> weir::config::Settings {
    weir::config::Settings { workers: Some("0".into()), ..weir::config::Settings::default() }
}

pub(crate) struct Setup {
    pub(crate) store: weir_store::Store,
    pub(crate) scope: TenantScope,
    receiver_id: String,
    connector_id: String,
    key: String,
}

pub(crate) async fn setup(app: &TestApp) -> Setup {
    let t = app.tenant("acme").await;
    let (_, admin) = app.token(&t, "admin").await;
    let connector = json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"});
    let (s, c) = app.call(Method::POST, "/api/v1/integration/connectors", Some(&admin), Some(connector)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let connector_id = c["data"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/integration/connectors/{connector_id}/webhook-receivers");
    let (s, r) = app
        .call(Method::POST, &path, Some(&admin), Some(json!({"event_type": "*", "auth": {"method": "github"}})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let key = r["data"]["key"].as_str().unwrap().to_owned();
    let store = app.store().await;
    let keyed = store.receiver_by_key(&key).await.unwrap().expect("the receiver");
    Setup { scope: keyed.scope, receiver_id: keyed.receiver.id, connector_id, key, store }
}

impl Setup {
    pub(crate) fn accepted(&self, event_id: &str, pid: Option<&str>) -> Delivery {
        Delivery::Accepted(AcceptedDelivery {
            event_id: event_id.to_owned(),
            scope: self.scope.clone(),
            receiver_id: self.receiver_id.clone(),
            connector_id: self.connector_id.clone(),
            event_type: "order.created".into(),
            provider_event_id: pid.map(str::to_owned),
            body: json!({"id": event_id}).to_string(),
            sha256: "a".repeat(64),
            size: 12,
            source: Some("127.0.0.1".into()),
            received_at: Utc::now(),
        })
    }

    fn rejected(&self, reason: RefusalReason) -> Delivery {
        Delivery::Rejected(RejectedDelivery {
            scope: self.scope.clone(),
            receiver_id: self.receiver_id.clone(),
            connector_id: self.connector_id.clone(),
            reason,
            detail: "signature does not match".into(),
            sha256: None,
            size: 3,
            source: None,
            received_at: Utc::now(),
            repeats: None,
        })
    }

    async fn audits(&self) -> Vec<weir_store::AuditRecord> {
        let page = weir_core::PageRequest::parse(Some(1), Some(100)).unwrap();
        let a = self.store.list_audit(&self.scope, page).await.unwrap();
        assert_eq!(
            self.store.verify_audit_chain(&self.scope, None).await.unwrap().outcome(),
            Ok(a.total),
            "the audit chain verifies"
        );
        a.items.into_iter().filter(|r| r.action.starts_with("webhook.")).collect()
    }
}

pub(crate) async fn number(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap();
    row.map_or(0, |r| r.try_get::<i64>("", "n").unwrap())
}

async fn a_mixed_batch_commits_events_audits_and_rollups(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let s = setup(&app).await;
    let first = s.store.ingest_batch(&[s.accepted("e-old", Some("p0"))]).await.unwrap();
    assert_eq!(first, vec![DeliveryOutcome::Stored { event_id: "e-old".into() }]);

    let batch = [
        s.accepted("e1", Some("p1")),
        s.rejected(RefusalReason::SignatureInvalid),
        s.accepted("e2", Some("p1")),
        s.accepted("e3", None),
        s.accepted("e4", Some("p0")),
    ];
    let outcomes = s.store.ingest_batch(&batch).await.unwrap();
    assert_eq!(
        outcomes,
        vec![
            DeliveryOutcome::Stored { event_id: "e1".into() },
            DeliveryOutcome::Audited,
            DeliveryOutcome::Duplicate { event_id: "e1".into(), status: Some(weir_core::EventStatus::Pending) },
            DeliveryOutcome::Stored { event_id: "e3".into() },
            DeliveryOutcome::Duplicate { event_id: "e-old".into(), status: Some(weir_core::EventStatus::Pending) },
        ]
    );
    for id in ["e-old", "e1", "e3"] {
        assert_eq!(s.store.get_event(&s.scope, id).await.unwrap().processing_status, weir_core::EventStatus::Pending);
    }
    assert!(s.store.get_event(&s.scope, "e2").await.is_err(), "a duplicate stores nothing");
    assert!(s.store.receiver_by_key(&s.key).await.unwrap().unwrap().receiver.last_received_at.is_some());

    let audits = s.audits().await;
    assert_eq!(audits.len(), 6, "one entry per delivery");
    let details: Vec<_> = audits
        .iter()
        .map(|a| (a.details["outcome"].as_str().unwrap().to_owned(), a.details["status"].clone()))
        .collect();
    for (outcome, status) in [("accepted", 202), ("duplicate", 200), ("rejected", 401)] {
        assert!(details.contains(&(outcome.to_owned(), json!(status))), "{outcome} {status} in {details:?}");
    }
    let rejected = audits.iter().find(|a| a.action == "webhook.rejected").unwrap();
    assert_eq!(rejected.details["error_type"], "signature_invalid");

    let db = Database::connect(&app.db_url).await.unwrap();
    let sum = |column: &str| format!("SELECT CAST(SUM({column}) AS BIGINT) AS n FROM daily_rollups");
    assert_eq!(number(&db, &sum("webhooks_received")).await, 3);
    assert_eq!(number(&db, &sum("webhooks_duplicate")).await, 2);
    assert_eq!(number(&db, &sum("webhooks_rejected")).await, 1);
    let errors =
        "SELECT CAST(SUM(error_count) AS BIGINT) AS n FROM daily_error_rollups WHERE error_type = 'signature_invalid'";
    assert_eq!(number(&db, errors).await, 1);
    db.close().await.ok();
    s.store.close().await;
}

async fn a_batch_of_refusals_only_audits(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let s = setup(&app).await;
    let batch = [s.rejected(RefusalReason::RateLimited), s.rejected(RefusalReason::SchemaInvalid)];
    let outcomes = s.store.ingest_batch(&batch).await.unwrap();
    assert_eq!(outcomes, vec![DeliveryOutcome::Audited, DeliveryOutcome::Audited]);
    let audits = s.audits().await;
    let mut seen: Vec<_> =
        audits.iter().map(|a| (a.details["error_type"].clone(), a.details["status"].clone())).collect();
    seen.sort_by_key(|(t, _)| t.to_string());
    assert_eq!(seen, vec![(json!("rate_limited"), json!(429)), (json!("schema_invalid"), json!(422))]);
    assert!(s.store.receiver_by_key(&s.key).await.unwrap().unwrap().receiver.last_received_at.is_none());
    s.store.close().await;
}

/// Issue 18: ingest commits and workers' claims from one process queue for
/// the write lock rather than racing inside SQLite's busy handler. With a
/// 1 ms busy timeout, racing writers fail with "database is locked"; queued
/// ones all commit. (On PostgreSQL the same concurrency must hold as well.)
async fn writers_in_one_process_take_turns_instead_of_failing_busy(b: Backend) {
    let Some(mut app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let s = setup(&app).await;
    // Only this test's store writes from here on.
    app.shut_down().await;
    let url = weir_store::DatabaseUrl::parse(&app.db_url).unwrap();
    let opts = weir_store::DbOptions { sqlite_busy_timeout: std::time::Duration::from_millis(1), ..Default::default() };
    let store = weir_store::Store::connect(&url, &opts).await.unwrap().with_audit_key(app.audit_key());
    let (tasks, batches, per_batch) = (6, 15, 4);
    let mut writers = tokio::task::JoinSet::new();
    for t in 0..tasks {
        let (store, deliveries) =
            (store.clone(), (0..batches * per_batch).map(|i| s.accepted(&format!("e{t}-{i}"), None)));
        let deliveries: Vec<Delivery> = deliveries.collect();
        writers.spawn(async move {
            for batch in deliveries.chunks(per_batch) {
                store.ingest_batch(batch).await?;
            }
            Ok::<_, weir_store::StoreError>(0)
        });
    }
    for w in 0..2 {
        let store = store.clone();
        writers.spawn(async move {
            let mut claimed = 0;
            for _ in 0..30 {
                claimed += store.claim_events(&format!("w{w}"), 8, std::time::Duration::from_secs(60)).await?.len();
                store.release_claims(&format!("w{w}")).await?;
            }
            Ok(claimed)
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap().expect("every write transaction commits");
    }
    let db = Database::connect(&app.db_url).await.unwrap();
    let stored = number(&db, "SELECT COUNT(*) AS n FROM webhook_events").await;
    assert_eq!(stored, (tasks * batches * per_batch) as i64);
    assert_eq!(number(&db, "SELECT COUNT(*) AS n FROM webhook_events WHERE processing_status <> 'pending'").await, 0);
    db.close().await.ok();
    store.close().await;
}

/// A receiver's `last_received_at` moves forward only, and on PostgreSQL a
/// batch does not wait for another transaction that holds the receiver's
/// row (it skips the update; two ingest writers used to run one at a time
/// on it). The 10 s bound only turns a hang into a failure.
async fn last_received_at_only_moves_forward_and_never_holds_up_a_batch(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let s = setup(&app).await;
    let last = || async { s.store.receiver_by_key(&s.key).await.unwrap().unwrap().receiver.last_received_at };
    let newer = s.accepted("e-new", None);
    let Delivery::Accepted(mut older) = s.accepted("e-old", None) else { unreachable!() };
    older.received_at -= chrono::Duration::hours(1);
    s.store.ingest_batch(std::slice::from_ref(&newer)).await.unwrap();
    let seen = last().await.expect("set by the first batch");
    s.store.ingest_batch(&[Delivery::Accepted(older)]).await.unwrap();
    assert_eq!(last().await, Some(seen), "an older arrival does not move it back");

    if b == Backend::Postgres {
        use sea_orm::TransactionTrait;
        let db = Database::connect(&app.db_url).await.unwrap();
        // As another writer's UPDATE of the row holds it.
        let holder = db.begin().await.unwrap();
        holder
            .execute_raw(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT id FROM webhook_receivers WHERE id = '{}' FOR NO KEY UPDATE", s.receiver_id),
            ))
            .await
            .unwrap();
        let batch = [s.accepted("e-while-held", None)];
        let done = tokio::time::timeout(std::time::Duration::from_secs(10), s.store.ingest_batch(&batch)).await;
        assert_eq!(done.expect("the batch does not wait for the row").unwrap().len(), 1);
        holder.rollback().await.unwrap();
        assert_eq!(last().await, Some(seen), "skipped while held");
        s.store.ingest_batch(&[s.accepted("e-after", None)]).await.unwrap();
        assert!(last().await > Some(seen), "the next batch moves it on");
        db.close().await.ok();
    }
    s.store.close().await;
}
