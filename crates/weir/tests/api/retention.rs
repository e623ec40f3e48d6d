//! Retention (issue 10): finished webhook events older than
//! `WEIR_EVENT_RETENTION_DAYS` are deleted with their payloads — exactly
//! those, not newer ones and not ones still pending — while their audit
//! entries (SHA-256, size) and the records they made stay; per-record
//! errors of runs finished longer ago than `WEIR_SYNC_ERROR_RETENTION_DAYS`
//! are deleted while the runs and their counts stay.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;
use weir::config::Settings;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::browser::{deliver, shop};
use crate::helpers::{Backend, TestApp};

backend_tests!(expired_events_and_sync_errors_are_deleted_and_nothing_else);

const API: &str = "/api/v1/integration";

async fn sql(app: &TestApp, statement: &str) {
    let db = Database::connect(&app.db_url).await.unwrap();
    db.execute_raw(Statement::from_string(db.get_database_backend(), statement.to_owned())).await.unwrap();
    db.close().await.ok();
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
        for _ in 0..200 {
            let (_, e) = app.call(Method::GET, &format!("{API}/webhook-events/{id}"), Some(&s.admin), None).await;
            if e["data"]["processing_status"] == "completed" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
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
}
