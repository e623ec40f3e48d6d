//! Authentication and authorization: 401 for missing, malformed, unknown
//! and revoked tokens; 403 for a role too low or the wrong kind of token;
//! 404 across tenants.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, SYSTEM_TOKEN, TestApp, assert_problem, send};

backend_tests!(
    missing_malformed_and_unknown_tokens_are_401,
    revoked_tokens_are_401,
    roles_below_admin_cannot_manage_tokens,
    tokens_of_the_wrong_kind_are_refused,
    tenants_cannot_see_or_revoke_each_others_tokens,
);

async fn missing_malformed_and_unknown_tokens_are_401(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    for path in ["/api/v1/tokens", "/api/v1/system/tenants"] {
        let res = app.req(Method::GET, path, None).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "weir_abc", "Bearer a b c"] {
            let r = app.client.get(app.url(path)).header("authorization", header);
            let body = assert_problem(r, StatusCode::UNAUTHORIZED).await;
            assert!(body["detail"].is_string());
        }
        let long = format!("Bearer {}", "x".repeat(10_000));
        assert_problem(app.client.get(app.url(path)).header("authorization", long), StatusCode::UNAUTHORIZED).await;
        assert_problem(app.req(Method::GET, path, Some("weir_not_a_real_token")), StatusCode::UNAUTHORIZED).await;
    }
}

async fn revoked_tokens_are_401(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let (viewer_id, viewer) = app.token(&tenant, "viewer").await;
    // Live, the viewer is recognised (403: role too low); revoked, it is not (401).
    assert_problem(app.req(Method::GET, "/api/v1/tokens", Some(&viewer)), StatusCode::FORBIDDEN).await;
    let (s, _) = app.call(Method::DELETE, &format!("/api/v1/tokens/{viewer_id}"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let body = assert_problem(app.req(Method::GET, "/api/v1/tokens", Some(&viewer)), StatusCode::UNAUTHORIZED).await;
    assert!(body["detail"].as_str().unwrap().contains("revoked"));
    // Revoking again is idempotent; the admin can revoke itself, after which it is refused.
    let (s, _) = app.call(Method::DELETE, &format!("/api/v1/tokens/{viewer_id}"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = app.call(Method::GET, "/api/v1/tokens", Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    let admin_id = body["data"].as_array().unwrap().iter().find(|t| t["role"] == "admin").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = app.call(Method::DELETE, &format!("/api/v1/tokens/{admin_id}"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_problem(app.req(Method::GET, "/api/v1/tokens", Some(&admin)), StatusCode::UNAUTHORIZED).await;
}

async fn roles_below_admin_cannot_manage_tokens(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let (admin_before, _) = send(app.req(Method::GET, "/api/v1/tokens", Some(&admin))).await;
    assert_eq!(admin_before, StatusCode::OK);
    for role in ["viewer", "operator"] {
        let (id, token) = app.token(&tenant, role).await;
        let body = json!({"name": "escalate", "role": "admin"});
        let r = app.req(Method::POST, "/api/v1/tokens", Some(&token)).json(&body);
        let problem = assert_problem(r, StatusCode::FORBIDDEN).await;
        assert!(problem["detail"].as_str().unwrap().contains("admin"));
        assert_problem(app.req(Method::GET, "/api/v1/tokens", Some(&token)), StatusCode::FORBIDDEN).await;
        assert_problem(app.req(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&token)), StatusCode::FORBIDDEN)
            .await;
    }
    // Nothing was written by the refused requests: admin + viewer + operator only.
    let (_, list) = app.call(Method::GET, "/api/v1/tokens", Some(&admin), None).await;
    assert_eq!(list["meta"]["total"], 3, "{list}");
    assert!(list["data"].as_array().unwrap().iter().all(|t| t["revoked_at"].is_null() && t["name"] != "escalate"));
}

async fn tokens_of_the_wrong_kind_are_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    // A tenant admin cannot manage tenants…
    let r = app.req(Method::POST, "/api/v1/system/tenants", Some(&admin)).json(&json!({"slug": "evil", "name": "x"}));
    assert_problem(r, StatusCode::FORBIDDEN).await;
    assert_problem(app.req(Method::GET, "/api/v1/system/tenants", Some(&admin)), StatusCode::FORBIDDEN).await;
    let r = app
        .req(Method::POST, &format!("/api/v1/system/tenants/{tenant}/tokens"), Some(&admin))
        .json(&json!({"name": "x", "role": "admin"}));
    assert_problem(r, StatusCode::FORBIDDEN).await;
    // …and the system token cannot act inside a tenant.
    let r = app.req(Method::POST, "/api/v1/tokens", Some(SYSTEM_TOKEN)).json(&json!({"name": "x", "role": "admin"}));
    let body = assert_problem(r, StatusCode::FORBIDDEN).await;
    assert!(body["detail"].as_str().unwrap().contains("system token"));
    let (_, tenants) = app.call(Method::GET, "/api/v1/system/tenants", Some(SYSTEM_TOKEN), None).await;
    assert_eq!(tenants["meta"]["total"], 1, "no tenant was created by the refused request");
}

async fn tenants_cannot_see_or_revoke_each_others_tokens(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let a = app.tenant("tenant-a").await;
    let bt = app.tenant("tenant-b").await;
    let (a_admin_id, a_admin) = app.token(&a, "admin").await;
    let (a_viewer_id, _) = app.token(&a, "viewer").await;
    let (_, b_admin) = app.token(&bt, "admin").await;

    let (s, list) = app.call(Method::GET, "/api/v1/tokens", Some(&b_admin), None).await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(list["meta"]["total"], 1);
    assert!(!ids.contains(&a_admin_id.as_str()) && !ids.contains(&a_viewer_id.as_str()));

    for id in [&a_admin_id, &a_viewer_id] {
        let body = assert_problem(
            app.req(Method::DELETE, &format!("/api/v1/tokens/{id}"), Some(&b_admin)),
            StatusCode::NOT_FOUND,
        )
        .await;
        assert!(body.get("detail").is_none_or(|d| !d.as_str().unwrap_or("").contains("tenant")));
    }
    // A's tokens still work: nothing was revoked.
    let (s, list) = app.call(Method::GET, "/api/v1/tokens", Some(&a_admin), None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(list["data"].as_array().unwrap().iter().all(|t| t["revoked_at"].is_null()));
    // The system route is tenant-checked too: B's tenant id with A's token id is 404.
    let path = format!("/api/v1/system/tenants/{bt}/tokens/{a_admin_id}");
    assert_problem(app.req(Method::DELETE, &path, Some(SYSTEM_TOKEN)), StatusCode::NOT_FOUND).await;
    let (s, _) = app.call(Method::GET, "/api/v1/tokens", Some(&a_admin), None).await;
    assert_eq!(s, StatusCode::OK);
}
