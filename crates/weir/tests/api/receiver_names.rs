//! Receivers have names (issue 20: people read names, not ids): given on
//! create or defaulted to what they receive, changed with PATCH, checked
//! like other display names, and filled in for receivers made before the
//! column existed (migration 000025), on both backends.

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, Statement};
use sea_orm_migration::MigratorTrait;
use serde_json::json;
use weir_store::migration::Migrator;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, fresh_database};

backend_tests!(receivers_are_named, receivers_made_before_names_are_named_after_what_they_receive);

async fn receivers_are_named(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let t = app.tenant("acme").await;
    let (_, admin) = app.token(&t, "admin").await;
    let c = json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"});
    let (_, c) = app.call(Method::POST, "/api/v1/integration/connectors", Some(&admin), Some(c)).await;
    let create = format!("/api/v1/integration/connectors/{}/webhook-receivers", c["data"]["id"].as_str().unwrap());
    let auth = json!({"method": "standard_webhooks"});
    let make = |body: serde_json::Value| {
        let (create, admin) = (create.clone(), admin.clone());
        let app = &app;
        async move { app.call(Method::POST, &create, Some(&admin), Some(body)).await }
    };
    let (s, named) = make(json!({"name": "Shopify orders", "event_type": "order.created", "auth": auth})).await;
    assert_eq!((s, named["data"]["name"].as_str()), (StatusCode::CREATED, Some("Shopify orders")), "{named}");
    let (_, typed) = make(json!({"event_type": "order.paid", "auth": auth})).await;
    assert_eq!(typed["data"]["name"], "order.paid", "defaults to its event type");
    let (_, all) = make(json!({"event_type": "*", "auth": auth})).await;
    assert_eq!(all["data"]["name"], "All events");
    for bad in [json!(""), json!("   "), json!("x".repeat(201)), json!(7)] {
        let (s, r) = make(json!({"name": bad, "event_type": "*", "auth": auth})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {r}");
    }
    let path = format!("/api/v1/integration/webhook-receivers/{}", all["data"]["id"].as_str().unwrap());
    let (s, r) = app.call(Method::PATCH, &path, Some(&admin), Some(json!({"name": "Everything from Shopify"}))).await;
    assert_eq!((s, r["data"]["name"].as_str()), (StatusCode::OK, Some("Everything from Shopify")), "{r}");
    let (_, list) = app.call(Method::GET, "/api/v1/integration/webhook-receivers", Some(&admin), None).await;
    let mut names: Vec<&str> = list["data"].as_array().unwrap().iter().filter_map(|r| r["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["Everything from Shopify", "Shopify orders", "order.paid"]);
    let (_, audit) =
        app.call(Method::GET, "/api/v1/integration/audit-logs?action=receiver.created", Some(&admin), None).await;
    assert!(audit["data"].as_array().unwrap().iter().any(|e| e["details"]["name"] == "Shopify orders"), "{audit}");
}

async fn receivers_made_before_names_are_named_after_what_they_receive(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _guard)) = fresh_database(b, dir.path()).await else { return };
    let db = Database::connect(&url).await.unwrap();
    // Every migration before 000025.
    let before = Migrator::migrations().len() - 1;
    Migrator::up(&db, Some(before as u32)).await.unwrap();
    let now = "2026-12-01 10:00:00.000000+00:00";
    let exec = |sql: String| {
        let db = &db;
        async move { db.execute_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap() }
    };
    exec(format!(
        "INSERT INTO tenants (id, slug, name, created_at, updated_at) VALUES ('t1', 'acme', 'Acme', '{now}', '{now}')"
    ))
    .await;
    exec(format!(
        "INSERT INTO connectors (id, tenant_id, code, name, connector_type, environment, config, created_at, updated_at) \
         VALUES ('c1', 't1', 'shop', 'Shop', 'webhook', 'development', '{{}}', '{now}', '{now}')"
    ))
    .await;
    for (id, event_type) in [("r1", "*"), ("r2", "order.created")] {
        exec(format!(
            "INSERT INTO webhook_receivers (id, tenant_id, connector_id, receiver_key, event_type, auth_method, auth_options, created_at, updated_at) \
             VALUES ('{id}', 't1', 'c1', 'key-{id}', '{event_type}', 'bearer', '{{}}', '{now}', '{now}')"
        ))
        .await;
    }
    Migrator::up(&db, None).await.unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id, name FROM webhook_receivers ORDER BY id".to_owned(),
        ))
        .await
        .unwrap();
    let names: Vec<(String, String)> =
        rows.iter().map(|r| (r.try_get("", "id").unwrap(), r.try_get("", "name").unwrap())).collect();
    assert_eq!(names, [("r1".to_owned(), "All events".to_owned()), ("r2".to_owned(), "order.created".to_owned())]);
}
