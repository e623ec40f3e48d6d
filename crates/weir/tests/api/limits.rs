//! Every user-supplied text at its documented maximum goes through end to
//! end on both backends (issue 17, item 10): a record key of 255 characters
//! under a 100-character entity type was refused by PostgreSQL's
//! `audit_logs.resource_id varchar(64)`, failing its event three times.
//! Display names are counted in characters, so they are given as
//! two-byte characters.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, SYSTEM_TOKEN, TestApp};

backend_tests!(every_field_at_its_maximum_works_end_to_end);

const I: &str = "/api/v1/integration";

async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, v) = app.call(Method::POST, path, Some(token), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{path}: {v}");
    v["data"].clone()
}

async fn every_field_at_its_maximum_works_end_to_end(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let name = |n: usize| "é".repeat(n);
    let slug = format!("a{}", "-".repeat(62));
    let tenant = created(&app, SYSTEM_TOKEN, "/api/v1/system/tenants", json!({"slug": slug, "name": name(200)})).await;
    assert_eq!(tenant["slug"], slug);
    let tid = tenant["id"].as_str().unwrap();
    let token = created(
        &app,
        SYSTEM_TOKEN,
        &format!("/api/v1/system/tenants/{tid}/tokens"),
        json!({"name": name(100), "role": "admin"}),
    )
    .await;
    let admin = token["token"].as_str().unwrap().to_owned();
    let code = format!("c{}", "_".repeat(62));
    let connector = created(
        &app,
        &admin,
        &format!("{I}/connectors"),
        json!({"code": code, "name": name(200), "type": "webhook", "environment": "development"}),
    )
    .await;
    let event_type = "t".repeat(200);
    let receiver = created(
        &app,
        &admin,
        &format!("{I}/connectors/{}/webhook-receivers", connector["id"].as_str().unwrap()),
        json!({"event_type": event_type, "auth": {"method": "bearer"}}),
    )
    .await;
    let entity_type = "e".repeat(100);
    let target = "k".repeat(200);
    let mapping = created(
        &app,
        &admin,
        &format!("{I}/field-mappings"),
        json!({"name": name(200), "entity_type": entity_type,
        "key": target, "rules": [{"source": "id", "target": target, "required": true}]}),
    )
    .await;
    created(
        &app,
        &admin,
        &format!("{I}/sync-configurations"),
        json!({"connector_id": connector["id"], "name": name(200),
        "direction": "inbound", "entity_type": entity_type, "field_mapping_id": mapping["id"], "trigger": "webhook",
        "event_types": [event_type]}),
    )
    .await;

    let key = "x".repeat(255);
    let provider_id = "p".repeat(200);
    let res = app
        .client
        .post(app.url(receiver["receiver_url"].as_str().unwrap()))
        .bearer_auth(receiver["secret"].as_str().unwrap())
        .header("idempotency-key", &provider_id)
        .json(&json!({"id": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let event_id = res.json::<Value>().await.unwrap()["data"]["event_id"].as_str().unwrap().to_owned();
    let mut event = Value::Null;
    for _ in 0..300 {
        let (_, e) = app.call(Method::GET, &format!("{I}/webhook-events/{event_id}"), Some(&admin), None).await;
        event = e["data"].clone();
        if matches!(event["processing_status"].as_str(), Some("completed" | "failed")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(event["processing_status"], "completed", "{event}");
    assert_eq!(event["event_type"], event_type);
    let (_, records) =
        app.call(Method::GET, &format!("{I}/records?entity_type={entity_type}"), Some(&admin), None).await;
    assert_eq!(records["data"][0]["external_id"], key, "{records}");
    let (_, audit) = app.call(Method::GET, &format!("{I}/audit-logs?per_page=100"), Some(&admin), None).await;
    let resource = format!("{entity_type}/{key}");
    assert!(audit["data"].as_array().unwrap().iter().any(|a| a["resource_id"] == resource), "the record's audit entry");
    // A repeat with the same 200-character provider id is the same event.
    let again = app
        .client
        .post(app.url(receiver["receiver_url"].as_str().unwrap()))
        .bearer_auth(receiver["secret"].as_str().unwrap())
        .header("idempotency-key", &provider_id)
        .json(&json!({"id": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}
