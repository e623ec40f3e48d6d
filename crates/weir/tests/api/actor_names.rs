//! People read names, not ids (issue 20): a token no user owns is named by
//! its name in audit listings (`actor_name`) and on change requests
//! (`requested_by_name`), on both backends.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(tokens_of_no_user_are_named_by_their_name);

async fn tokens_of_no_user_are_named_by_their_name(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let t = app.tenant("acme").await;
    let (_, admin) = app.token(&t, "admin").await;
    let connector = json!({"code": "crm", "name": "CRM", "type": "http", "environment": "production",
        "config": {"base_url": "http://127.0.0.1:9"}});
    let (s, c) = app.call(Method::POST, "/api/v1/integration/connectors", Some(&admin), Some(connector)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let id = c["data"]["id"].as_str().unwrap();
    let path = format!("/api/v1/integration/connectors/{id}");
    let change = json!({"config": {"base_url": "http://127.0.0.1:10"}});
    let (s, held) = app.call(Method::PATCH, &path, Some(&admin), Some(change)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{held}");
    // `TestApp::token` names each token "<role> token".
    assert_eq!(held["data"]["change_request"]["requested_by_name"], "token “admin token”", "{held}");
    let (_, listed) = app.call(Method::GET, "/api/v1/integration/change-requests", Some(&admin), None).await;
    assert_eq!(listed["data"][0]["requested_by_name"], "token “admin token”", "{listed}");
    let audit = "/api/v1/integration/audit-logs?action=connector.created";
    let (_, entries) = app.call(Method::GET, audit, Some(&admin), None).await;
    assert_eq!(entries["data"][0]["actor_name"], "token “admin token”", "{entries}");
    // The system has no name to show.
    let (_, tenant_entries) =
        app.call(Method::GET, "/api/v1/integration/audit-logs?action=tenant.created", Some(&admin), None).await;
    for e in tenant_entries["data"].as_array().unwrap() {
        assert!(e["actor_name"].is_null(), "{e}");
    }
}
