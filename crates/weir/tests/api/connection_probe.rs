//! Testing connector settings before saving them (issue 20):
//! `POST /connectors/test-connection` reaches the partner with the settings
//! given, writes nothing but its audit entry, names bad fields, and sends a
//! saved connector's stored credentials only to that connector's own
//! `base_url`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(unsaved_settings_are_tested_and_nothing_is_saved, stored_credentials_go_only_to_their_own_address);

const PROBE: &str = "/api/v1/integration/connectors/test-connection";

fn settings(base_url: &str, token: Option<&str>) -> Value {
    let mut body = json!({"type": "http", "config": {"base_url": base_url, "health_path": "/health",
        "auth": {"type": "bearer"}}});
    if let Some(t) = token {
        body["credentials"] = json!({"token": t});
    }
    body
}

async fn partner() -> MockServer {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .and(header("authorization", "Bearer s3cret"))
        .respond_with(ResponseTemplate::new(200).insert_header("api-version", "2026-01"))
        .mount(&api)
        .await;
    api
}

async fn unsaved_settings_are_tested_and_nothing_is_saved(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let t = app.tenant("acme").await;
    let (_, admin) = app.token(&t, "admin").await;
    let (_, operator) = app.token(&t, "operator").await;
    let api = partner().await;

    let (s, r) = app.call(Method::POST, PROBE, Some(&admin), Some(settings(&api.uri(), Some("s3cret")))).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!((r["data"]["success"].as_bool(), r["data"]["api_version"].as_str()), (Some(true), Some("2026-01")));
    // Wrong credentials reach the partner and fail there, in words.
    let (_, r) = app.call(Method::POST, PROBE, Some(&admin), Some(settings(&api.uri(), Some("wrong")))).await;
    assert_eq!(r["data"]["success"], false, "{r}");
    assert!(r["data"]["error"].as_str().unwrap_or("").contains("404"), "{r}");

    // Bad settings are 422 naming each field; a webhook connector has no remote.
    let (s, r) = app.call(Method::POST, PROBE, Some(&admin), Some(settings("ftp://x", Some("s3cret")))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert!(r["errors"]["config.base_url"].is_array(), "{r}");
    let (s, r) = app.call(Method::POST, PROBE, Some(&admin), Some(settings(&api.uri(), None))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert!(r["errors"]["credentials"].is_array(), "{r}");
    let (s, _) = app.call(Method::POST, PROBE, Some(&admin), Some(json!({"type": "webhook"}))).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Admins only: an operator may test saved connectors, not arbitrary settings.
    let (s, _) = app.call(Method::POST, PROBE, Some(&operator), Some(settings(&api.uri(), Some("s3cret")))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Nothing was saved; the two tests that ran are audited, without the secret.
    let (_, list) = app.call(Method::GET, "/api/v1/integration/connectors", Some(&admin), None).await;
    assert_eq!(list["meta"]["total"], 0, "{list}");
    let (_, audit) =
        app.call(Method::GET, "/api/v1/integration/audit-logs?action=connector.tested", Some(&admin), None).await;
    let entries = audit["data"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{audit}");
    assert!(entries.iter().all(|e| e["details"]["unsaved"] == true && e["resource_type"] == "tenant"), "{audit}");
    assert!(!audit.to_string().contains("s3cret"), "{audit}");
}

async fn stored_credentials_go_only_to_their_own_address(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let t = app.tenant("acme").await;
    let (_, admin) = app.token(&t, "admin").await;
    let api = partner().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).mount(&elsewhere).await;
    let mut body = settings(&api.uri(), Some("s3cret"));
    body["code"] = json!("crm");
    body["name"] = json!("CRM");
    let (s, c) = app.call(Method::POST, "/api/v1/integration/connectors", Some(&admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let id = c["data"]["id"].as_str().unwrap().to_owned();

    // An edit form that leaves the credentials blank: the stored ones are used
    // with the connector's own base_url (a changed timeout, say)...
    let mut same = settings(&api.uri(), None);
    same["config"]["timeout_ms"] = json!(5000);
    same["connector_id"] = json!(id);
    let (s, r) = app.call(Method::POST, PROBE, Some(&admin), Some(same)).await;
    assert_eq!((s, r["data"]["success"].as_bool()), (StatusCode::OK, Some(true)), "{r}");
    // ...and never sent to another address.
    let mut other = settings(&elsewhere.uri(), None);
    other["connector_id"] = json!(id);
    let (s, r) = app.call(Method::POST, PROBE, Some(&admin), Some(other)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert!(r["errors"]["credentials"][0].as_str().unwrap().contains("base_url"), "{r}");
    assert!(elsewhere.received_requests().await.unwrap().is_empty(), "nothing reached the other address");
    // Another tenant's connector is not found.
    let t2 = app.tenant("globex").await;
    let (_, admin2) = app.token(&t2, "admin").await;
    let mut foreign = settings(&api.uri(), None);
    foreign["connector_id"] = json!(id);
    let (s, _) = app.call(Method::POST, PROBE, Some(&admin2), Some(foreign)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The test with stored credentials is audited against the connector.
    let path = "/api/v1/integration/audit-logs?action=connector.tested";
    let (_, audit) = app.call(Method::GET, path, Some(&admin), None).await;
    assert_eq!(audit["data"][0]["resource_id"].as_str(), Some(id.as_str()), "{audit}");
}
