//! A replayed event's attempt log numbers its attempts on — #1, #2 — rather
//! than starting again at #1 (issue 17, item 17).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(a_replayed_event_numbers_its_attempts_on);

const I: &str = "/api/v1/integration";

async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, v) = app.call(Method::POST, &format!("{I}/{path}"), Some(token), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{path}: {v}");
    v["data"].clone()
}

/// Waits until the event is `failed` or `completed`; answers it.
async fn finished(app: &TestApp, token: &str, id: &str) -> Value {
    for _ in 0..300 {
        let (_, e) = app.call(Method::GET, &format!("{I}/webhook-events/{id}"), Some(token), None).await;
        if matches!(e["data"]["processing_status"].as_str(), Some("completed" | "failed")) {
            return e["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("event {id} never finished");
}

async fn a_replayed_event_numbers_its_attempts_on(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let shop = created(
        &app,
        &admin,
        "connectors",
        json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"}),
    )
    .await;
    let receiver = created(
        &app,
        &admin,
        &format!("connectors/{}/webhook-receivers", shop["id"].as_str().unwrap()),
        json!({"event_type": "order", "auth": {"method": "bearer"}}),
    )
    .await;
    // The key is required: an event without it fails for good (mapping_error) at once.
    let mapping = created(
        &app,
        &admin,
        "field-mappings",
        json!({"name": "m", "entity_type": "order", "key": "id",
        "rules": [{"source": "id", "target": "id", "required": true}]}),
    )
    .await;
    created(
        &app,
        &admin,
        "sync-configurations",
        json!({"connector_id": shop["id"], "name": "orders", "direction": "inbound",
        "entity_type": "order", "field_mapping_id": mapping["id"], "trigger": "webhook", "event_types": ["order"]}),
    )
    .await;
    let res = app
        .client
        .post(app.url(receiver["receiver_url"].as_str().unwrap()))
        .bearer_auth(receiver["secret"].as_str().unwrap())
        .json(&json!({"no_id": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let id = res.json::<Value>().await.unwrap()["data"]["event_id"].as_str().unwrap().to_owned();
    let first = finished(&app, &admin, &id).await;
    assert_eq!(first["processing_status"], "failed", "{first}");
    for replay in 1..=2 {
        let (s, r) = app.call(Method::POST, &format!("{I}/webhook-events/{id}/replay"), Some(&admin), None).await;
        assert!(s.is_success(), "replay {replay}: {s} {r}");
        // Wait for the replayed attempt to be logged.
        for _ in 0..300 {
            let e = finished(&app, &admin, &id).await;
            if e["attempt_log"].as_array().map(Vec::len) == Some(1 + replay) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let last = finished(&app, &admin, &id).await;
    let numbers: Vec<i64> =
        last["attempt_log"].as_array().unwrap().iter().filter_map(|a| a["attempt"].as_i64()).collect();
    assert_eq!(numbers, [1, 2, 3], "{last}");
    assert_eq!(last["attempts"], 1, "the attempt budget starts afresh with each replay");
}
