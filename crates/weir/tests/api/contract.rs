//! The served OpenAPI document against the server's answers: regressions
//! for what Schemathesis (`scripts/schemathesis.sh`) found — enum values
//! documented in another spelling than the one sent, body errors (400,
//! 413, 415, 422) and pagination bounds missing from the document, optional
//! bodies that refused the `null` the document allows, and JSON exports
//! documented as CSV only.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem};

backend_tests!(
    enum_values_are_documented_as_sent,
    body_errors_and_page_bounds_are_documented,
    optional_bodies_accept_null,
    exports_answer_documented_content_types,
);

const I: &str = "/api/v1/integration";

/// The document the server serves.
async fn served_document(app: &TestApp) -> Value {
    let (s, doc) = app.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    doc
}

/// The values a component schema enumerates.
fn documented_enum(doc: &Value, component: &str) -> Vec<String> {
    doc["components"]["schemas"][component]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{component} has no enum"))
        .iter()
        .map(|v| v.as_str().expect("string enum").to_owned())
        .collect()
}

/// A tenant's admin token.
async fn admin(app: &TestApp) -> String {
    let tenant = app.tenant("contract").await;
    app.token(&tenant, "admin").await.1
}

async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, b) = app.call(Method::POST, path, Some(token), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{path}: {b}");
    b["data"].clone()
}

async fn enum_values_are_documented_as_sent(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let admin = admin(&app).await;
    let doc = served_document(&app).await;
    assert_eq!(documented_enum(&doc, "ConnectorType"), ["http", "webhook"]);
    assert_eq!(documented_enum(&doc, "Environment"), ["production", "staging", "development"]);
    assert_eq!(documented_enum(&doc, "Direction"), ["inbound", "outbound"]);
    assert_eq!(documented_enum(&doc, "Trigger"), ["webhook", "schedule", "manual"]);

    let connector = created(
        &app,
        &admin,
        &format!("{I}/connectors"),
        json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "staging"}),
    )
    .await;
    let mapping = created(
        &app,
        &admin,
        &format!("{I}/field-mappings"),
        json!({"name": "Orders", "entity_type": "order", "key": "external_id",
               "rules": [{"source": "data.id", "target": "external_id", "transforms": [{"op": "to_string"}]}]}),
    )
    .await;
    let sync = created(
        &app,
        &admin,
        &format!("{I}/sync-configurations"),
        json!({"connector_id": connector["id"], "name": "Orders in", "direction": "inbound", "entity_type": "order",
               "field_mapping_id": mapping["id"], "trigger": "webhook", "event_types": ["*"]}),
    )
    .await;
    let (_, shown) = app
        .call(Method::GET, &format!("{I}/connectors/{}", connector["id"].as_str().unwrap()), Some(&admin), None)
        .await;
    for (value, component) in [
        (&shown["data"]["type"], "ConnectorType"),
        (&shown["data"]["environment"], "Environment"),
        (&sync["direction"], "Direction"),
        (&sync["trigger"], "Trigger"),
    ] {
        let value = value.as_str().expect("a string");
        assert!(
            documented_enum(&doc, component).iter().any(|v| v == value),
            "{value:?} is not a documented {component}"
        );
    }
}

async fn body_errors_and_page_bounds_are_documented(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let admin = admin(&app).await;
    let doc = served_document(&app).await;
    let mut bodies = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["requestBody"]["content"].get("application/json").is_some() {
                bodies += 1;
                for status in ["400", "413", "415", "422"] {
                    let content = &op["responses"][status]["content"];
                    assert!(
                        content.get("application/problem+json").is_some(),
                        "{method} {path} does not document {status}"
                    );
                }
            }
            for param in op["parameters"].as_array().into_iter().flatten() {
                let bounds = (&param["schema"]["minimum"], &param["schema"]["maximum"]);
                match (param["in"].as_str(), param["name"].as_str()) {
                    (Some("query"), Some("page")) => assert_eq!(bounds, (&json!(1), &json!(1_000_000)), "{path}"),
                    (Some("query"), Some("per_page")) => assert_eq!(bounds, (&json!(1), &json!(100)), "{path}"),
                    _ => {}
                }
            }
        }
    }
    assert!(bodies > 15, "only {bodies} operations take a body");

    // What the document now says is what the server does.
    let connectors = format!("{I}/connectors");
    let malformed =
        app.req(Method::POST, &connectors, Some(&admin)).header("content-type", "application/json").body("m?");
    assert_problem(malformed, StatusCode::BAD_REQUEST).await;
    assert_problem(app.req(Method::POST, &connectors, Some(&admin)), StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let nul = app.req(Method::POST, &format!("{I}/field-mappings"), Some(&admin)).json(&json!({"name": "a\u{0}"}));
    assert_problem(nul, StatusCode::BAD_REQUEST).await;
    let (s, _) = app.call(Method::GET, &format!("{connectors}?page=1000000&per_page=100"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    for bad in ["page=0", "page=1000001", "per_page=0", "per_page=101"] {
        assert_problem(
            app.req(Method::GET, &format!("{connectors}?{bad}"), Some(&admin)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
}

async fn optional_bodies_accept_null(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("contract").await;
    let (_, admin1) = app.token(&tenant, "admin").await;
    let (_, admin2) = app.token(&tenant, "admin").await;
    let doc = served_document(&app).await;
    for path in [
        "/api/v1/integration/change-requests/{id}/approve",
        "/api/v1/integration/change-requests/{id}/reject",
        "/api/v1/integration/webhook-events/replay",
    ] {
        let body = &doc["paths"][path]["post"]["requestBody"];
        assert_ne!(body["required"], true, "{path}: the body is optional");
        let allows_null = body["content"]["application/json"]["schema"]["oneOf"]
            .as_array()
            .is_some_and(|alts| alts.iter().any(|s| s["type"] == "null"));
        assert!(allows_null, "{path}: the document allows null");
    }

    let connector =
        created(&app, &admin1, &format!("{I}/connectors"), json!({"code": "erp", "name": "ERP", "type": "webhook"}))
            .await;
    let url = format!("{I}/connectors/{}", connector["id"].as_str().unwrap());
    let mut requests = Vec::new();
    for env in ["staging", "development"] {
        let (s, held) = app.call(Method::PATCH, &url, Some(&admin1), Some(json!({"environment": env}))).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{held}");
        requests.push(held["data"]["change_request"]["id"].as_str().unwrap().to_owned());
    }
    // A JSON `null` body is no note, as an empty body is (it was 422).
    let (s, withdrawn) = app
        .call(Method::POST, &format!("{I}/change-requests/{}/reject", requests[0]), Some(&admin1), Some(Value::Null))
        .await;
    assert_eq!(
        (s, withdrawn["data"]["change_request"]["status"].as_str()),
        (StatusCode::OK, Some("rejected")),
        "{withdrawn}"
    );
    let (s, approved) = app
        .call(Method::POST, &format!("{I}/change-requests/{}/approve", requests[1]), Some(&admin2), Some(Value::Null))
        .await;
    assert_eq!(
        (s, approved["data"]["change_request"]["status"].as_str()),
        (StatusCode::OK, Some("approved")),
        "{approved}"
    );
    assert_eq!(approved["data"]["connector"]["environment"], "development");
    let (s, replayed) =
        app.call(Method::POST, &format!("{I}/webhook-events/replay"), Some(&admin1), Some(Value::Null)).await;
    assert_eq!((s, replayed["data"]["replayed"].as_u64()), (StatusCode::ACCEPTED, Some(0)), "{replayed}");
    // Anything else still has to be the documented object.
    let wrong = app.req(Method::POST, &format!("{I}/webhook-events/replay"), Some(&admin1)).json(&json!([1]));
    assert_problem(wrong, StatusCode::UNPROCESSABLE_ENTITY).await;
}

/// Asserts that `value` has every property `component` requires.
fn assert_required(doc: &Value, component: &str, value: &Value) {
    let schema = &doc["components"]["schemas"][component];
    for key in schema["required"].as_array().unwrap_or_else(|| panic!("{component} requires nothing")) {
        let key = key.as_str().unwrap();
        assert!(value.get(key).is_some(), "{component} requires {key}: {value}");
    }
}

async fn exports_answer_documented_content_types(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let admin = admin(&app).await;
    let doc = served_document(&app).await;
    // A queued run to export (its connector's address refuses at once).
    let connector = created(
        &app,
        &admin,
        &format!("{I}/connectors"),
        json!({"code": "partner", "name": "Partner", "type": "http", "environment": "development",
               "config": {"base_url": "http://127.0.0.1:9", "auth": {"type": "none"}}}),
    )
    .await;
    let mapping = created(
        &app,
        &admin,
        &format!("{I}/field-mappings"),
        json!({"name": "Orders", "entity_type": "order", "key": "external_id",
               "rules": [{"source": "id", "target": "external_id", "transforms": [{"op": "to_string"}]}]}),
    )
    .await;
    let sync = created(
        &app,
        &admin,
        &format!("{I}/sync-configurations"),
        json!({"connector_id": connector["id"], "name": "Pull", "direction": "inbound", "entity_type": "order",
               "field_mapping_id": mapping["id"], "trigger": "manual", "source": {"path": "/orders"}}),
    )
    .await;
    let (s, run) = app
        .call(
            Method::POST,
            &format!("{I}/sync-configurations/{}/execute", sync["id"].as_str().unwrap()),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{run}");
    let run = run["data"]["sync_history_id"].as_str().unwrap().to_owned();

    for (template, path) in [
        ("/api/v1/integration/audit-logs/export", format!("{I}/audit-logs/export")),
        ("/api/v1/integration/dashboard/export", format!("{I}/dashboard/export")),
        ("/api/v1/integration/sync-histories/{id}/export", format!("{I}/sync-histories/{run}/export")),
    ] {
        let documented = doc["paths"][template]["get"]["responses"]["200"]["content"].as_object().unwrap().clone();
        for format in ["csv", "json"] {
            let res = app.req(Method::GET, &format!("{path}?format={format}"), Some(&admin)).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path} {format}");
            let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
            let essence = ct.split(';').next().unwrap().trim().to_owned();
            assert!(documented.contains_key(&essence), "{template}: {ct} is not documented ({documented:?})");
            if format == "json" {
                let body: Value = res.json().await.unwrap();
                let schema = &documented["application/json"]["schema"];
                match (schema["$ref"].as_str(), schema["items"]["$ref"].as_str()) {
                    (Some(r), _) => assert_required(&doc, r.rsplit('/').next().unwrap(), &body),
                    (None, Some(r)) => {
                        let items = body.as_array().expect("a JSON array");
                        assert!(!items.is_empty(), "{template}: the audit trail has entries");
                        for item in items {
                            assert_required(&doc, r.rsplit('/').next().unwrap(), item);
                        }
                    }
                    _ => panic!("{template}: no JSON schema"),
                }
            }
        }
    }
}
