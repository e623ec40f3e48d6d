//! Retention (issue 10): finished webhook events older than
//! `WEIR_EVENT_RETENTION_DAYS` are deleted with their payloads — exactly
//! those, not newer ones and not ones still pending — while their audit
//! entries (SHA-256, size) and the records they made stay; per-record
//! errors of runs finished longer ago than `WEIR_SYNC_ERROR_RETENTION_DAYS`
//! are deleted while the runs and their counts stay. On PostgreSQL, days
//! are partitions: created ahead, and dropped whole once expired.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, Statement, TransactionTrait};
use serde_json::json;
use weir::config::Settings;
use weir_store::repos::partitions::PartitionDrop;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::browser::{deliver, shop};
use crate::helpers::{Backend, TestApp};

backend_tests!(expired_events_and_sync_errors_are_deleted_and_nothing_else);

#[tokio::test]
async fn expired_day_partitions_are_dropped_on_postgres() {
    expired_day_partitions_are_dropped(Backend::Postgres).await
}

const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const API: &str = "/api/v1/integration";

async fn sql(app: &TestApp, statement: &str) {
    let db = Database::connect(&app.db_url).await.unwrap();
    db.execute_raw(Statement::from_string(db.get_database_backend(), statement.to_owned())).await.unwrap();
    db.close().await.ok();
}

/// Waits (bounded: 5 s) until the event is processed.
async fn wait_completed(app: &TestApp, s: &crate::browser::Shop, id: &str) {
    for _ in 0..200 {
        let (_, e) = app.call(Method::GET, &format!("{API}/webhook-events/{id}"), Some(&s.admin), None).await;
        if e["data"]["processing_status"] == "completed" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("event {id} was not processed");
}

fn two_days_ago() -> String {
    (chrono::Utc::now() - chrono::Duration::days(2)).format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string()
}

async fn expired_events_and_sync_errors_are_deleted_and_nothing_else(b: Backend) {
    let settings = Settings {
        event_retention_days: Some("1".into()),
        sync_error_retention_days: Some("1".into()),
        retention_interval_secs: Some("1".into()),
        worker_poll_ms: Some("20".into()),
        sync_retry_backoff: Some("10ms".into()),
        scheduler_interval_ms: Some("200".into()),
        ..Settings::default()
    };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let erp = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(204)).mount(&erp).await;
    let s = shop(&app, &erp).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let id = deliver(&app, &s, &format!("msg_{i}"), json!({"type": "customer.created", "data": {"id": i}})).await;
        ids.push(id);
    }
    for id in &ids {
        wait_completed(&app, &s, id).await;
    }
    // Two finished events are two days old; a third is as old but still waiting for a retry.
    let old = two_days_ago();
    sql(&app, &format!("UPDATE webhook_events SET received_at = '{old}' WHERE id IN ('{}', '{}')", ids[0], ids[1]))
        .await;
    sql(
        &app,
        &format!(
            "UPDATE webhook_events SET received_at = '{old}', processing_status = 'pending', next_attempt_at = '{}' WHERE id = '{}'",
            (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d %H:%M:%S%.6f+00:00"),
            ids[2]
        ),
    )
    .await;
    let (_, audit_before) = app.call(Method::GET, &format!("{API}/audit-logs?per_page=1"), Some(&s.admin), None).await;

    // A partial run whose errors are two days old, and a recent one.
    let t = crate::syncs::tenant(&app, "other").await;
    let partner = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1, "email": "a@x"}, {"email": "no id"}])))
        .mount(&partner)
        .await;
    let c = crate::syncs::connector(&app, &t, "crm", &partner.uri()).await;
    let cfg = crate::syncs::pull(&app, &t, &c, "customers", json!({"path": "/customers"})).await;
    let old_run = crate::syncs::execute(&app, &t.operator, &cfg).await;
    assert_eq!(crate::syncs::finished(&app, &t.viewer, &old_run).await["status"], "partial");
    let new_run = crate::syncs::execute(&app, &t.operator, &cfg).await;
    assert_eq!(crate::syncs::finished(&app, &t.viewer, &new_run).await["status"], "partial");
    sql(&app, &format!("UPDATE sync_histories SET finished_at = '{old}' WHERE id = '{old_run}'")).await;
    let errors = |run: String| {
        let app = &app;
        let token = t.viewer.clone();
        async move {
            let (_, e) = app.call(Method::GET, &format!("{API}/sync-histories/{run}/errors"), Some(&token), None).await;
            e["meta"]["total"].as_u64().unwrap()
        }
    };
    assert_eq!(errors(old_run.clone()).await, 1);

    // Retention runs every second: wait (bounded) for it.
    let mut gone = false;
    for _ in 0..100 {
        let (_, l) = app.call(Method::GET, &format!("{API}/webhook-events"), Some(&s.admin), None).await;
        if l["meta"]["total"] == 3 && errors(old_run.clone()).await == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "retention did not delete the expired rows");
    for (i, id) in ids.iter().enumerate() {
        let (status, _) = app.call(Method::GET, &format!("{API}/webhook-events/{id}"), Some(&s.admin), None).await;
        let expected = if i < 2 { StatusCode::NOT_FOUND } else { StatusCode::OK };
        assert_eq!(status, expected, "event {i}");
    }
    // The audit trail keeps every delivery (with its hash and size), and still verifies.
    let (_, audit_after) = app.call(Method::GET, &format!("{API}/audit-logs?per_page=100"), Some(&s.admin), None).await;
    assert_eq!(audit_after["meta"]["total"], audit_before["meta"]["total"], "no audit entry removed");
    let received: Vec<&serde_json::Value> = audit_after["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "webhook.received" && (e["resource_id"] == ids[0].as_str()))
        .collect();
    assert_eq!(received.len(), 1, "the deleted event's delivery is still audited");
    assert!(
        received[0]["details"]["sha256"].as_str().is_some_and(|h| h.len() == 64)
            && received[0]["details"]["size"].is_u64(),
        "{}",
        received[0]
    );
    let (_, verify) = app.call(Method::GET, &format!("{API}/audit-logs/verify"), Some(&s.admin), None).await;
    assert_eq!(verify["data"]["valid"], true);
    // The records the deleted events made stay.
    let (_, records) =
        app.call(Method::GET, &format!("{API}/records?entity_type=customer"), Some(&s.admin), None).await;
    assert_eq!(records["meta"]["total"], 5);
    // The old run stays (counts and status), only its errors went; the recent run keeps its errors.
    let (_, run) =
        app.call(Method::GET, &format!("/api/v1/integration/sync-histories/{old_run}"), Some(&t.viewer), None).await;
    assert_eq!((run["data"]["status"].as_str(), run["data"]["records_failed"].as_i64()), (Some("partial"), Some(1)));
    assert_eq!(errors(new_run).await, 1);
    // The deleted events' provider keys went with them: a redelivery is a
    // new event; a kept event's still deduplicates.
    let (status, r) = crate::browser::deliver_answer(&app, &s, "msg_0", json!({"type": "customer.created"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let (status, r) = crate::browser::deliver_answer(&app, &s, "msg_3", json!({"type": "customer.created"})).await;
    assert_eq!((status, r["data"]["event_id"].as_str()), (StatusCode::OK, Some(ids[3].as_str())), "{r}");
}

/// Noon (UTC) `days` ago, as SQL text.
fn noon_days_ago(days: u64) -> String {
    let day = chrono::Utc::now().date_naive().checked_sub_days(chrono::Days::new(days)).unwrap();
    format!("{day} 12:00:00+00:00")
}

async fn expired_day_partitions_are_dropped(b: Backend) {
    // The first instance keeps events forever; the second (a scheduler,
    // started once the data is in place) keeps them one day.
    let settings = Settings {
        master_key: Some(MASTER_KEY.into()),
        event_retention_days: Some("0".into()),
        worker_poll_ms: Some("20".into()),
        ..Settings::default()
    };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let store = app.store().await;
    let today = chrono::Utc::now().date_naive();
    let day = |n: u64| today.checked_sub_days(chrono::Days::new(n)).unwrap();
    let ahead = |n: u64| today.checked_add_days(chrono::Days::new(n)).unwrap();
    let days = |store: weir_store::Store| async move {
        store.event_partitions().await.unwrap().into_iter().map(|p| p.day).collect::<Vec<_>>()
    };
    // The migration made today and the week ahead; three past days are added here.
    let made: Vec<_> = today.iter_days().take(8).collect();
    assert_eq!(days(store.clone()).await, made);
    assert_eq!(store.ensure_event_partitions([day(5), day(4), day(3)]).await.unwrap(), 3);
    assert_eq!(store.ensure_event_partitions([day(3), today]).await.unwrap(), 0, "existing days are left alone");

    let erp = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(204)).mount(&erp).await;
    let s = shop(&app, &erp).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(deliver(&app, &s, &format!("msg_{i}"), json!({"type": "customer.created", "data": {"id": i}})).await);
    }
    for id in &ids {
        wait_completed(&app, &s, id).await;
    }
    // Events 0 and 1 move to three days ago, 2 to four days ago (still
    // waiting for a retry), 3 to ten days ago (no partition: the default
    // one); 4 stays today.
    let at3 = noon_days_ago(3);
    sql(&app, &format!("UPDATE webhook_events SET received_at = '{at3}' WHERE id IN ('{}', '{}')", ids[0], ids[1]))
        .await;
    sql(
        &app,
        &format!(
            "UPDATE webhook_events SET received_at = '{}', processing_status = 'pending', next_attempt_at = '{}' WHERE id = '{}'",
            noon_days_ago(4),
            (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d %H:%M:%S%.6f+00:00"),
            ids[2]
        ),
    )
    .await;
    sql(&app, &format!("UPDATE webhook_events SET received_at = '{}' WHERE id = '{}'", noon_days_ago(10), ids[3]))
        .await;
    let in_partition = |table: String, id: String| {
        let app = &app;
        async move {
            let db = Database::connect(&app.db_url).await.unwrap();
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    format!("SELECT COUNT(*) AS n FROM {table} WHERE id = '{id}'"),
                ))
                .await
                .unwrap()
                .unwrap();
            db.close().await.ok();
            row.try_get::<i64>("", "n").unwrap() == 1
        }
    };
    assert!(in_partition("webhook_events_default".into(), ids[3].clone()).await);
    assert!(in_partition(format!("webhook_events_p{}", day(3).format("%Y%m%d")), ids[0].clone()).await);

    // A long transaction on webhook_events makes a drop give up after its
    // lock timeout (the next pass tries again) instead of queueing ingest.
    let p5 = store.event_partitions().await.unwrap().into_iter().find(|p| p.day == day(5)).unwrap();
    let holder = Database::connect(&app.db_url).await.unwrap();
    let txn = holder.begin().await.unwrap();
    txn.execute_unprepared("LOCK TABLE webhook_events IN ACCESS SHARE MODE").await.unwrap();
    assert_eq!(store.drop_event_partition(&p5, 1000, Duration::ZERO).await.unwrap(), PartitionDrop::Busy);
    txn.rollback().await.unwrap();
    holder.close().await.ok();

    let scheduler = app
        .spawn_sharing(Settings {
            master_key: Some(MASTER_KEY.into()),
            instance_role: Some("scheduler".into()),
            event_retention_days: Some("1".into()),
            ..Settings::default()
        })
        .await;
    let mut dropped = false;
    for _ in 0..100 {
        let now = days(store.clone()).await;
        if !now.contains(&day(3)) && !now.contains(&day(5)) {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(dropped, "expired days were not dropped: {:?}", days(store.clone()).await);
    // The day with an unfinished event stays; today and the week ahead too.
    let mut kept = vec![day(4)];
    kept.extend(today.iter_days().take(8));
    assert_eq!(days(store.clone()).await, kept);
    assert_eq!(*kept.last().unwrap(), ahead(7));

    assert_eq!(
        store.drop_event_partition(&p5, 1000, Duration::ZERO).await.unwrap(),
        PartitionDrop::Gone,
        "dropped by the scheduler"
    );

    // The row in the default partition went row by row; wait for it too.
    let mut gone = false;
    for _ in 0..100 {
        let (status, _) =
            app.call(Method::GET, &format!("{API}/webhook-events/{}", ids[3]), Some(&s.admin), None).await;
        if status == StatusCode::NOT_FOUND {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the expired row of the default partition was not deleted");
    for (i, id) in ids.iter().enumerate() {
        let (status, _) = app.call(Method::GET, &format!("{API}/webhook-events/{id}"), Some(&s.admin), None).await;
        let expected = if matches!(i, 0 | 1 | 3) { StatusCode::NOT_FOUND } else { StatusCode::OK };
        assert_eq!(status, expected, "event {i}");
    }
    // The deleted events' provider keys went with them: a redelivery is a
    // new event. The kept ones still deduplicate.
    for (i, fresh) in [(0, true), (1, true), (2, false), (3, true), (4, false)] {
        let (status, r) =
            crate::browser::deliver_answer(&app, &s, &format!("msg_{i}"), json!({"type": "customer.created"})).await;
        if fresh {
            assert_eq!(status, StatusCode::ACCEPTED, "msg_{i}: {r}");
            assert_ne!(r["data"]["event_id"], ids[i].as_str());
        } else {
            assert_eq!((status, r["data"]["event_id"].as_str()), (StatusCode::OK, Some(ids[i].as_str())), "msg_{i}");
        }
    }
    // The audit trail keeps the dropped deliveries.
    let (_, audit) = app
        .call(Method::GET, &format!("{API}/audit-logs?per_page=100&action=webhook.received"), Some(&s.admin), None)
        .await;
    let audited = audit["data"].as_array().unwrap().iter().filter(|e| e["resource_id"] == ids[0].as_str()).count();
    assert_eq!(audited, 1, "{audit}");
    // The scheduler says what it did (metrics are process-wide, and other
    // tests of this binary run in the same process: at least these).
    let metrics = scheduler.client.get(scheduler.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let value = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    assert!(value("weir_event_partitions_dropped_total").is_some_and(|n| n >= 2.0), "{metrics}");
    assert!(value("weir_retention_deleted_total{kind=\"webhook_events\"}").is_some_and(|n| n >= 3.0), "{metrics}");
    scheduler.stop().await;
}

/// The opaque columns get no planner statistics on PostgreSQL (sampling
/// them made each ANALYZE of a day partition cost ~0.5 s under load): on
/// the partitions the migration made, on a day partition made later, and
/// on the audit and record bodies. (SQLite has no per-column statistics.)
#[tokio::test]
async fn opaque_columns_get_no_planner_statistics_on_postgres() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else { return };
    let store = app.store().await;
    let earlier = chrono::Utc::now().date_naive().checked_sub_days(chrono::Days::new(2)).unwrap();
    assert_eq!(store.ensure_event_partitions([earlier]).await.unwrap(), 1);
    let today = chrono::Utc::now().date_naive().format("%Y%m%d");
    let db = Database::connect(&app.db_url).await.unwrap();
    let target = |table: String, column: &'static str| {
        let db = &db;
        async move {
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    format!(
                        "SELECT attstattarget::int4 AS t FROM pg_attribute \
                         WHERE attrelid = '{table}'::regclass AND attname = '{column}'"
                    ),
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i32>("", "t").unwrap()
        }
    };
    let made_later = format!("webhook_events_p{}", earlier.format("%Y%m%d"));
    for table in [format!("webhook_events_p{today}"), made_later.clone(), "webhook_events_default".into()] {
        for column in ["payload_raw", "payload", "attempt_log", "result"] {
            assert_eq!(target(table.clone(), column).await, 0, "{table}.{column}");
        }
        assert_eq!(target(table.clone(), "received_at").await, -1, "{table}: queried columns keep statistics");
    }
    assert_eq!(target("audit_logs".into(), "details").await, 0);
    assert_eq!(target("records".into(), "data").await, 0);
    assert_eq!(target("records".into(), "external_id").await, -1);
    db.close().await.ok();
}
