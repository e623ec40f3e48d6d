//! Running a webhook-triggered configuration by hand can never succeed (it
//! runs on the events it receives), so the API answers 422, not 409 — a
//! conflict a client would retry (issue 17, item 16). The console offers no
//! "Run now" for it (checked in `browser.rs`).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem};

backend_tests!(running_a_webhook_configuration_is_422_and_queues_nothing);

const I: &str = "/api/v1/integration";

async fn running_a_webhook_configuration_is_422_and_queues_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let created = |path: &'static str, body: serde_json::Value| {
        let admin = admin.clone();
        let app = &app;
        async move {
            let (s, v) = app.call(Method::POST, &format!("{I}/{path}"), Some(&admin), Some(body)).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            v["data"]["id"].as_str().unwrap().to_owned()
        }
    };
    let shop =
        created("connectors", json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"}))
            .await;
    let mapping = created(
        "field-mappings",
        json!({"name": "m", "entity_type": "order", "key": "id",
        "rules": [{"source": "id", "target": "id"}]}),
    )
    .await;
    let cfg = created(
        "sync-configurations",
        json!({"connector_id": shop, "name": "orders", "direction": "inbound",
        "entity_type": "order", "field_mapping_id": mapping, "trigger": "webhook", "event_types": ["*"]}),
    )
    .await;

    let problem = assert_problem(
        app.req(Method::POST, &format!("{I}/sync-configurations/{cfg}/execute"), Some(&admin)),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("cannot be run by hand"), "{problem}");
    let (_, runs) =
        app.call(Method::GET, &format!("{I}/sync-histories?sync_configuration_id={cfg}"), Some(&admin), None).await;
    assert_eq!(runs["meta"]["total"], 0, "nothing queued");
}
