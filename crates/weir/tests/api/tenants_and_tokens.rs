//! The tenant and token routes of API.md, end to end.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, SYSTEM_TOKEN, TestApp, assert_problem};

backend_tests!(
    tenant_lifecycle,
    duplicate_and_invalid_tenants,
    token_lifecycle_shows_the_secret_once,
    pagination_of_tenants,
);

async fn tenant_lifecycle(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (s, body) = app
        .call(
            Method::POST,
            "/api/v1/system/tenants",
            Some(SYSTEM_TOKEN),
            Some(json!({"slug": "acme", "name": "  Acme Ltd "})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let t = &body["data"];
    let id = t["id"].as_str().unwrap();
    assert_eq!(
        (t["slug"].as_str(), t["name"].as_str(), t["is_active"].as_bool()),
        (Some("acme"), Some("Acme Ltd"), Some(true))
    );
    assert!(chrono::DateTime::parse_from_rfc3339(t["created_at"].as_str().unwrap()).is_ok());

    let (s, got) = app.call(Method::GET, &format!("/api/v1/system/tenants/{id}"), Some(SYSTEM_TOKEN), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["data"], *t);

    // Unknown and unparseable ids are both 404.
    let unknown = uuid::Uuid::now_v7();
    assert_problem(
        app.req(Method::GET, &format!("/api/v1/system/tenants/{unknown}"), Some(SYSTEM_TOKEN)),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(app.req(Method::GET, "/api/v1/system/tenants/not-an-id", Some(SYSTEM_TOKEN)), StatusCode::NOT_FOUND)
        .await;
    let r = app
        .req(Method::POST, &format!("/api/v1/system/tenants/{unknown}/tokens"), Some(SYSTEM_TOKEN))
        .json(&json!({"name": "x", "role": "admin"}));
    assert_problem(r, StatusCode::NOT_FOUND).await;
}

async fn duplicate_and_invalid_tenants(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    app.tenant("acme").await;
    let r = app
        .req(Method::POST, "/api/v1/system/tenants", Some(SYSTEM_TOKEN))
        .json(&json!({"slug": "acme", "name": "Other"}));
    let body = assert_problem(r, StatusCode::CONFLICT).await;
    assert!(body["errors"]["slug"].is_array(), "{body}");

    let r = app
        .req(Method::POST, "/api/v1/system/tenants", Some(SYSTEM_TOKEN))
        .json(&json!({"slug": "Not A Slug", "name": ""}));
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body["errors"]["slug"].is_array() && body["errors"]["name"].is_array(), "both fields reported: {body}");

    let (_, list) = app.call(Method::GET, "/api/v1/system/tenants", Some(SYSTEM_TOKEN), None).await;
    assert_eq!(list["meta"]["total"], 1, "refused requests wrote nothing");
}

async fn token_lifecycle_shows_the_secret_once(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    assert!(admin.starts_with("weir_") && admin.len() == 5 + 43, "{admin}");

    let (s, created) = app
        .call(Method::POST, "/api/v1/tokens", Some(&admin), Some(json!({"name": "CI reader", "role": "viewer"})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let d = &created["data"];
    let secret = d["token"].as_str().unwrap().to_owned();
    assert_eq!((d["name"].as_str(), d["role"].as_str()), (Some("CI reader"), Some("viewer")));
    assert!(secret.starts_with("weir_"));
    assert!(d["token_hint"].as_str().unwrap().starts_with(&secret[..9]));

    // The new token authenticates (viewer: recognised, not allowed here).
    assert_problem(app.req(Method::GET, "/api/v1/tokens", Some(&secret)), StatusCode::FORBIDDEN).await;

    let (s, list) = app.call(Method::GET, "/api/v1/tokens", Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["meta"], json!({"page": 1, "per_page": 25, "total": 2}));
    let text = list.to_string();
    assert!(!text.contains(&secret[5..]) && !text.contains(&admin[5..]), "listings never carry secrets");
    assert!(list["data"].as_array().unwrap().iter().all(|t| t.get("token").is_none()));
    let viewer = list["data"].as_array().unwrap().iter().find(|t| t["role"] == "viewer").unwrap();
    assert_eq!(
        viewer["created_by"].as_str(),
        list["data"].as_array().unwrap().iter().find(|t| t["role"] == "admin").unwrap()["id"].as_str()
    );

    // The system token can list and revoke a tenant's tokens too.
    let (s, sys_list) =
        app.call(Method::GET, &format!("/api/v1/system/tenants/{tenant}/tokens"), Some(SYSTEM_TOKEN), None).await;
    assert_eq!((s, sys_list["meta"]["total"].as_u64()), (StatusCode::OK, Some(2)));
    let viewer_id = viewer["id"].as_str().unwrap();
    let (s, _) = app
        .call(Method::DELETE, &format!("/api/v1/system/tenants/{tenant}/tokens/{viewer_id}"), Some(SYSTEM_TOKEN), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_problem(app.req(Method::GET, "/api/v1/tokens", Some(&secret)), StatusCode::UNAUTHORIZED).await;
    let (_, list) = app.call(Method::GET, "/api/v1/tokens", Some(&admin), None).await;
    let viewer = list["data"].as_array().unwrap().iter().find(|t| t["id"] == viewer_id).unwrap();
    assert!(viewer["revoked_at"].is_string());
}

async fn pagination_of_tenants(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    for i in 0..5 {
        app.tenant(&format!("t{i}")).await;
    }
    let (s, p1) = app.call(Method::GET, "/api/v1/system/tenants?page=1&per_page=2", Some(SYSTEM_TOKEN), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(p1["meta"], json!({"page": 1, "per_page": 2, "total": 5}));
    let (_, p3) = app.call(Method::GET, "/api/v1/system/tenants?page=3&per_page=2", Some(SYSTEM_TOKEN), None).await;
    assert_eq!(p3["data"].as_array().unwrap().len(), 1);
    let (_, p9) = app.call(Method::GET, "/api/v1/system/tenants?page=9&per_page=2", Some(SYSTEM_TOKEN), None).await;
    assert_eq!(p9["data"].as_array().unwrap().len(), 0);
    assert_eq!(p9["meta"]["total"], 5);
    // Newest first, no repeats across pages.
    let (_, all) = app.call(Method::GET, "/api/v1/system/tenants?per_page=100", Some(SYSTEM_TOKEN), None).await;
    let slugs: Vec<&str> = all["data"].as_array().unwrap().iter().map(|t| t["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["t4", "t3", "t2", "t1", "t0"]);
}
