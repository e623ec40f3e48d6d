//! Retention of refusal entries (issue 17, item 14): the body of a
//! `webhook.rejected` entry (the client's address, the refusal's detail)
//! follows the event retention window, while entries that record accepted
//! data stay whole and the chain still verifies.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, Statement, Value as DbValue};
use serde_json::{Value, json};
use weir::config::Settings;
use weir_core::audit::GENESIS_HASH;
use weir_core::audit::chain::{EntryBody, EntryHeader, body_digest};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::browser::{deliver, shop};
use crate::helpers::{Backend, TestApp};

backend_tests!(refusal_bodies_follow_the_event_window_and_the_chain_still_verifies);

const API: &str = "/api/v1/integration";

/// Moves every audit entry `days` into the past, re-chaining them under the
/// server's key as if they had been written then.
async fn age_audit_trail(app: &TestApp, admin: &str, days: i64) {
    let key = app.audit_key();
    let (_, list) = app.call(Method::GET, &format!("{API}/audit-logs?per_page=100"), Some(admin), None).await;
    let mut rows: Vec<Value> = list["data"].as_array().unwrap().clone();
    rows.reverse();
    let db = Database::connect(&app.db_url).await.unwrap();
    let pg = db.get_database_backend() == sea_orm::DbBackend::Postgres;
    let ph = |n: usize| if pg { format!("${n}") } else { "?".to_owned() };
    let tenant: String = {
        let sql = format!("SELECT tenant_id FROM audit_logs WHERE id = {}", ph(1));
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                db.get_database_backend(),
                &sql,
                [rows[0]["id"].as_str().unwrap().into()],
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index(0).unwrap()
    };
    let mut prev = GENESIS_HASH.to_owned();
    for r in &rows {
        let at = chrono::DateTime::parse_from_rfc3339(r["created_at"].as_str().unwrap()).unwrap().to_utc()
            - chrono::Duration::days(days);
        let at = chrono::DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap();
        let header = EntryHeader {
            tenant_id: &tenant,
            id: r["id"].as_str().unwrap(),
            seq: r["seq"].as_i64().unwrap(),
            action: r["action"].as_str().unwrap(),
            created_at: at,
            resource_type: r["resource_type"].as_str(),
            resource_id: r["resource_id"].as_str(),
            connector_id: r["connector_id"].as_str(),
        };
        let digest = body_digest(&EntryBody { actor: r["actor"].as_str().unwrap(), details: &r["details"] });
        let hash = key.entry_hash(&prev, &header, &digest);
        let sql = format!(
            "UPDATE audit_logs SET created_at = {}, prev_hash = {}, entry_hash = {} WHERE id = {}",
            ph(1),
            ph(2),
            ph(3),
            ph(4)
        );
        let values: Vec<DbValue> = vec![at.into(), prev.clone().into(), hash.clone().into(), header.id.into()];
        db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), &sql, values)).await.unwrap();
        prev = hash;
    }
    db.close().await.ok();
}

async fn refusal_bodies_follow_the_event_window_and_the_chain_still_verifies(b: Backend) {
    let settings = Settings {
        event_retention_days: Some("1".into()),
        retention_interval_secs: Some("1".into()),
        ..Settings::default()
    };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let erp = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(204)).mount(&erp).await;
    let s = shop(&app, &erp).await;
    deliver(&app, &s, "msg_ok", json!({"type": "customer.created", "data": {"id": 1}})).await;
    let unsigned = app.client.post(app.url(s.receiver_url())).header("content-type", "application/json").body("{}");
    assert_eq!(unsigned.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // Let processing finish so that no new entry lands while the trail is aged.
    tokio::time::sleep(Duration::from_millis(500)).await;
    age_audit_trail(&app, &s.admin, 3).await;
    let (_, v) = app.call(Method::GET, &format!("{API}/audit-logs/verify"), Some(&s.admin), None).await;
    assert_eq!(v["data"]["valid"], json!(true), "aged as the server would have written it: {v}");

    // Retention runs every second: wait (bounded) for the refusal's body to go.
    let find = |action: &'static str| {
        let (app, admin) = (&app, s.admin.clone());
        async move {
            let (_, l) = app.call(Method::GET, &format!("{API}/audit-logs?action={action}"), Some(&admin), None).await;
            l["data"][0].clone()
        }
    };
    let mut rejected = Value::Null;
    for _ in 0..100 {
        rejected = find("webhook.rejected").await;
        if rejected["pruned_at"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rejected["pruned_at"].is_string(), "the refusal was not pruned: {rejected}");
    assert_eq!(rejected["details"], json!({}), "its source and detail are gone");
    assert_eq!(rejected["actor"], json!(""));
    assert!(rejected["resource_id"].is_string(), "the receiver stays, for per-connector views");
    let received = find("webhook.received").await;
    assert!(received["pruned_at"].is_null(), "accepted data stays whole: {received}");
    assert!(received["details"]["sha256"].is_string());

    let (_, v) = app.call(Method::GET, &format!("{API}/audit-logs/verify"), Some(&s.admin), None).await;
    assert_eq!(v["data"]["valid"], json!(true), "{v}");
    assert_eq!(v["data"]["pruned_entries"], json!(1));

    // A pruned stub cannot be turned into another action, nor can an
    // accepted entry be made into a stub, nor a refusal's body be rewritten
    // behind a faked prune (checked below, after this one).
    let db = Database::connect(&app.db_url).await.unwrap();
    let sql = |s: &str| Statement::from_string(db.get_database_backend(), s.to_owned());
    let received_id = received["id"].as_str().unwrap();
    db.execute_raw(sql(&format!(
        "UPDATE audit_logs SET pruned_at = created_at, body_digest = '{}' WHERE id = '{received_id}'",
        "0".repeat(64)
    )))
    .await
    .unwrap();
    let (_, v) = app.call(Method::GET, &format!("{API}/audit-logs/verify"), Some(&s.admin), None).await;
    assert_eq!(v["data"]["valid"], json!(false), "{v}");
    assert_eq!(v["data"]["first_invalid_seq"], received["seq"]);

    // Undo, then fake a prune of a *live* refusal: keep its real digest but
    // rewrite its body (the attacker can compute the digest of the original).
    db.execute_raw(sql(&format!(
        "UPDATE audit_logs SET pruned_at = NULL, body_digest = NULL WHERE id = '{received_id}'"
    )))
    .await
    .unwrap();
    // (Another kind of refusal: a repeat of the first within its minute
    // would only be counted, not written yet.)
    let not_json = app.client.post(app.url(s.receiver_url())).header("content-type", "text/plain").body("[]");
    assert_eq!(not_json.send().await.unwrap().status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let fresh = find("webhook.rejected").await;
    assert!(fresh["pruned_at"].is_null());
    let digest = weir_core::audit::body_digest(&EntryBody {
        actor: fresh["actor"].as_str().unwrap(),
        details: &fresh["details"],
    });
    db.execute_raw(sql(&format!(
        "UPDATE audit_logs SET pruned_at = created_at, body_digest = '{digest}', details = '{{\"source\": \"10.9.9.9\"}}' WHERE id = '{}'",
        fresh["id"].as_str().unwrap()
    )))
    .await
    .unwrap();
    let (_, v) = app.call(Method::GET, &format!("{API}/audit-logs/verify"), Some(&s.admin), None).await;
    assert_eq!(v["data"]["valid"], json!(false), "a faked prune hides nothing: {v}");
    assert_eq!(v["data"]["first_invalid_seq"], fresh["seq"]);
}
