//! Previewing rules that are not saved yet (issue 20, the mapping editor):
//! `POST /field-mappings/preview` maps a pasted sample or a stored event's
//! payload with the rules given, shows each rule's error, names bad rules
//! with 422 as saving would, and writes nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::backend_tests;
use crate::browser::{deliver, shop};
use crate::helpers::{Backend, TestApp};

backend_tests!(draft_rules_are_previewed_on_a_sample_or_a_stored_event);

const PREVIEW: &str = "/api/v1/integration/field-mappings/preview";

async fn draft_rules_are_previewed_on_a_sample_or_a_stored_event(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let erp = wiremock::MockServer::start().await;
    let s = shop(&app, &erp).await;
    let (_, viewer) = app.token(&app.tenant("viewers").await, "viewer").await;
    let rules = json!([
        {"source": "data.id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]},
        {"source": "data.email", "target": "email", "transforms": [{"op": "lowercase"}]},
        {"source": "data.age", "target": "age", "transforms": [{"op": "to_integer"}]}
    ]);
    // A pasted sample: the record, and the one rule that fails, by target.
    let body = json!({"key": "external_id", "rules": rules,
        "sample": {"data": {"id": 123456789012345678901234567890u128, "email": "ANN@X.COM", "age": "old"}}});
    let (st, r) = app.call(Method::POST, PREVIEW, Some(&s.admin), Some(body)).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(r["data"]["output"]["email"], "ann@x.com", "{r}");
    assert_eq!(r["data"]["output"]["external_id"], "123456789012345678901234567890", "every digit: {r}");
    assert_eq!(r["data"]["errors"][0]["target"], "age", "{r}");

    // A stored event's payload, as it was received.
    let event =
        deliver(&app, &s, "msg-p", json!({"type": "customer.created", "data": {"id": 7, "email": "B@Y.COM"}})).await;
    let body = json!({"key": "external_id", "rules": rules, "event_id": event});
    let (st, r) = app.call(Method::POST, PREVIEW, Some(&s.admin), Some(body)).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(
        (r["data"]["output"]["external_id"].as_str(), r["data"]["output"]["email"].as_str()),
        (Some("7"), Some("b@y.com"))
    );
    // Another tenant's event is not found.
    let body = json!({"key": "external_id", "rules": rules, "event_id": event});
    let (st, _) = app.call(Method::POST, PREVIEW, Some(&viewer), Some(body)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Bad rules are named as saving names them; sample and event_id go alone.
    let bad = json!({"key": "external_id", "rules": [{"source": "data.id", "target": "external_id"}, {"source": "data..x", "target": "y"}, {"target": "z", "transforms": [{"op": "explode"}]}], "sample": {}});
    let (st, r) = app.call(Method::POST, PREVIEW, Some(&s.admin), Some(bad)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    let named: Vec<&String> = r["errors"].as_object().unwrap().keys().collect();
    assert!(named.iter().any(|k| k.starts_with("rules[1]")) && named.iter().any(|k| k.starts_with("rules[2]")), "{r}");
    assert!(!named.iter().any(|k| k.starts_with("rules[0]")), "{r}");
    let both = json!({"key": "external_id", "rules": rules, "sample": {}, "event_id": event});
    let (st, r) = app.call(Method::POST, PREVIEW, Some(&s.admin), Some(both)).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    let (_, list) = app.call(Method::GET, "/api/v1/integration/field-mappings", Some(&s.admin), None).await;
    assert_eq!(list["meta"]["total"], 1, "nothing saved: only the shop's own mapping");
}
