//! Field mappings: CRUD with save-time validation, preview that writes
//! nothing, roles and tenants.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem};

backend_tests!(crud_validation_and_preview, roles_and_tenants, a_422_names_every_bad_field);

const FM: &str = "/api/v1/integration/field-mappings";

fn customer() -> serde_json::Value {
    json!({"name": "Shop customers", "entity_type": "customer", "key": "external_id", "rules": [
        {"source": "data.customer.id", "target": "external_id", "transforms": [{"op": "to_string"}], "required": true},
        {"source": "data.customer.email", "target": "email", "transforms": [{"op": "trim"}, {"op": "lowercase"}], "required": true},
        {"target": "name", "transforms": [{"op": "template", "template": "{data.customer.first} {data.customer.last}"}]}
    ]})
}

async fn crud_validation_and_preview(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let t = app.tenant("acme").await;
    let (_, admin) = app.token(&t, "admin").await;
    let (s, created) = app.call(Method::POST, FM, Some(&admin), Some(customer())).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["data"]["rules"][1]["transforms"][1]["op"], "lowercase");

    // Preview maps a sample and writes nothing.
    let store = app.store().await;
    let scope = store.authenticate(&admin).await.unwrap().unwrap().scope;
    let audit_before = store.list_audit(&scope, weir_core::PageRequest::default()).await.unwrap().total;
    let sample =
        json!({"sample": {"data": {"customer": {"id": 7, "email": " Ada@X.COM ", "first": "Ada", "last": "L"}}}});
    let (s, p) = app.call(Method::POST, &format!("{FM}/{id}/preview"), Some(&admin), Some(sample)).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["data"]["output"], json!({"external_id": "7", "email": "ada@x.com", "name": "Ada L"}));
    assert_eq!(p["data"]["errors"], json!([]));
    let (_, p) = app
        .call(Method::POST, &format!("{FM}/{id}/preview"), Some(&admin), Some(json!({"sample": {"data": {}}})))
        .await;
    let targets: Vec<&str> =
        p["data"]["errors"].as_array().unwrap().iter().map(|e| e["target"].as_str().unwrap()).collect();
    assert_eq!(targets, ["external_id", "email"], "{p}");
    assert_eq!(
        store.list_audit(&scope, weir_core::PageRequest::default()).await.unwrap().total,
        audit_before,
        "preview wrote nothing"
    );
    store.close().await;

    // Save-time validation: unknown op, bad path, key not a target, unknown field, duplicate name.
    let mut bad_op = customer();
    bad_op["name"] = json!("x");
    bad_op["rules"][0]["transforms"][0]["op"] = json!("explode");
    let p =
        assert_problem(app.req(Method::POST, FM, Some(&admin)).json(&bad_op), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["errors"].as_object().unwrap().keys().any(|k| k.starts_with("rules[0]")), "{p}");
    let mut bad_path = customer();
    bad_path["name"] = json!("y");
    bad_path["rules"][1]["source"] = json!("data..email");
    let p =
        assert_problem(app.req(Method::POST, FM, Some(&admin)).json(&bad_path), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["errors"]["rules[1].source"].is_array(), "{p}");
    let mut bad_key = customer();
    bad_key["name"] = json!("z");
    bad_key["key"] = json!("sku");
    let p =
        assert_problem(app.req(Method::POST, FM, Some(&admin)).json(&bad_key), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["errors"]["key"].is_array(), "{p}");
    let p = assert_problem(app.req(Method::POST, FM, Some(&admin)).json(&customer()), StatusCode::CONFLICT).await;
    assert!(p["errors"]["name"].is_array(), "{p}");
    let (_, list) = app.call(Method::GET, FM, Some(&admin), None).await;
    assert_eq!(list["meta"]["total"], 1, "refusals wrote nothing");

    // Replace, filter, delete.
    let mut renamed = customer();
    renamed["name"] = json!("Customers v2");
    let (s, u) = app.call(Method::PATCH, &format!("{FM}/{id}"), Some(&admin), Some(renamed)).await;
    assert_eq!((s, u["data"]["name"].as_str()), (StatusCode::OK, Some("Customers v2")));
    let (_, f) = app.call(Method::GET, &format!("{FM}?entity_type=order"), Some(&admin), None).await;
    assert_eq!(f["meta"]["total"], 0);
    let (s, _) = app.call(Method::DELETE, &format!("{FM}/{id}"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_problem(app.req(Method::GET, &format!("{FM}/{id}"), Some(&admin)), StatusCode::NOT_FOUND).await;
}

async fn roles_and_tenants(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let ta = app.tenant("tenant-a").await;
    let (_, a_admin) = app.token(&ta, "admin").await;
    let (_, a_viewer) = app.token(&ta, "viewer").await;
    let tb = app.tenant("tenant-b").await;
    let (_, b_admin) = app.token(&tb, "admin").await;
    let (_, created) = app.call(Method::POST, FM, Some(&a_admin), Some(customer())).await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let sample = json!({"sample": {}});
    // A viewer reads and previews, but does not write.
    let (s, _) = app.call(Method::POST, &format!("{FM}/{id}/preview"), Some(&a_viewer), Some(sample.clone())).await;
    assert_eq!(s, StatusCode::OK);
    assert_problem(app.req(Method::POST, FM, Some(&a_viewer)).json(&customer()), StatusCode::FORBIDDEN).await;
    assert_problem(app.req(Method::DELETE, &format!("{FM}/{id}"), Some(&a_viewer)), StatusCode::FORBIDDEN).await;
    // Another tenant sees nothing and reaches nothing.
    for (m, p, body) in [
        (Method::GET, format!("{FM}/{id}"), None),
        (Method::PATCH, format!("{FM}/{id}"), Some(customer())),
        (Method::DELETE, format!("{FM}/{id}"), None),
        (Method::POST, format!("{FM}/{id}/preview"), Some(sample.clone())),
    ] {
        let mut r = app.req(m, &p, Some(&b_admin));
        if let Some(b) = body {
            r = r.json(&b);
        }
        assert_problem(r, StatusCode::NOT_FOUND).await;
    }
    let (_, list) = app.call(Method::GET, FM, Some(&b_admin), None).await;
    assert_eq!(list["meta"]["total"], 0);
    let (s, _) = app.call(Method::GET, &format!("{FM}/{id}"), Some(&a_admin), None).await;
    assert_eq!(s, StatusCode::OK, "untouched by tenant B");
}

/// Issue 17, item 20: a body with several bad parts — a mistyped name, an
/// unknown field, two bad rules and a mistyped key — is answered with one
/// 422 naming each of them (before: only the first serde met), on create
/// and on replace; nothing is written.
async fn a_422_names_every_bad_field(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let t = app.tenant("acme").await;
    let (_, admin) = app.token(&t, "admin").await;
    let bad = json!({"name": 7, "entity_type": "customer", "key": ["external_id"], "colour": "red", "rules": [
        {"source": "id", "target": "external_id", "transforms": [{"op": "explode"}]},
        {"source": "email", "target": "email"},
        {"source": "name", "target": "name", "required": "yes"}
    ]});
    let p = assert_problem(app.req(Method::POST, FM, Some(&admin)).json(&bad), StatusCode::UNPROCESSABLE_ENTITY).await;
    let errors = p["errors"].as_object().unwrap();
    for field in ["name", "key", "colour"] {
        assert!(errors.contains_key(field), "{field} named: {p}");
    }
    assert!(errors.keys().any(|k| k.starts_with("rules[0]")), "the first bad rule: {p}");
    assert!(errors.keys().any(|k| k.starts_with("rules[2]")), "the second bad rule: {p}");
    assert!(!errors.keys().any(|k| k.starts_with("rules[1]")), "the good rule is not blamed: {p}");
    let (_, list) = app.call(Method::GET, FM, Some(&admin), None).await;
    assert_eq!(list["meta"]["total"], 0, "nothing written");
    // The same on replace.
    let (s, created) = app.call(Method::POST, FM, Some(&admin), Some(customer())).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let url = format!("{FM}/{}", created["data"]["id"].as_str().unwrap());
    let p =
        assert_problem(app.req(Method::PATCH, &url, Some(&admin)).json(&bad), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["errors"].as_object().unwrap().len() >= 5, "{p}");
    // Not an object at all.
    let p = assert_problem(app.req(Method::POST, FM, Some(&admin)).json(&json!([1])), StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    assert!(p["errors"]["body"].is_array(), "{p}");
}
