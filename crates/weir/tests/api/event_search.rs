//! Finding an event by the provider's own id (issue 20): the events list
//! takes `provider_event_id` (exact), answered through the duplicate
//! check's keys; another tenant finds nothing; the bulk replay takes the
//! same filter. Both backends.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::backend_tests;
use crate::browser::{deliver, shop};
use crate::helpers::{Backend, TestApp};

backend_tests!(an_event_is_found_by_its_provider_id);

const EVENTS: &str = "/api/v1/integration/webhook-events";

async fn an_event_is_found_by_its_provider_id(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let erp = wiremock::MockServer::start().await;
    let s = shop(&app, &erp).await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(deliver(&app, &s, &format!("msg_{n}"), json!({"type": "customer.created", "data": {"id": n}})).await);
    }
    let (st, r) = app.call(Method::GET, &format!("{EVENTS}?provider_event_id=msg_2"), Some(&s.admin), None).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    let found: Vec<&str> = r["data"].as_array().unwrap().iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(found, [ids[1].as_str()], "{r}");
    assert_eq!(r["meta"]["total"], 1);
    let (_, r) = app.call(Method::GET, &format!("{EVENTS}?provider_event_id=msg_9"), Some(&s.admin), None).await;
    assert_eq!(r["meta"]["total"], 0, "{r}");
    // Combined with the other filters.
    let (_, r) =
        app.call(Method::GET, &format!("{EVENTS}?provider_event_id=msg_2&status=failed"), Some(&s.admin), None).await;
    assert!(r["data"].as_array().unwrap().iter().all(|e| e["processing_status"] == "failed"), "{r}");
    // Another tenant does not find it.
    let (_, other) = app.token(&app.tenant("globex").await, "admin").await;
    let (_, r) = app.call(Method::GET, &format!("{EVENTS}?provider_event_id=msg_2"), Some(&other), None).await;
    assert_eq!(r["meta"]["total"], 0, "{r}");
    // Bad values are 422; the bulk replay takes the filter.
    let long = "x".repeat(201);
    let (st, _) = app.call(Method::GET, &format!("{EVENTS}?provider_event_id={long}"), Some(&s.admin), None).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let (st, r) = app
        .call(Method::POST, &format!("{EVENTS}/replay"), Some(&s.admin), Some(json!({"provider_event_id": "msg_2"})))
        .await;
    assert_eq!(st, StatusCode::ACCEPTED, "{r}");
}
