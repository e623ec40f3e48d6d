//! Health, readiness, the OpenAPI document, request ids, unknown routes.

use reqwest::{Method, StatusCode};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem, send};

backend_tests!(health_and_readiness, openapi_is_served_and_matches_the_code, request_ids, unknown_routes_and_methods);

async fn health_and_readiness(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (s, body) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!((s, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    app.stop().await;
}

async fn openapi_is_served_and_matches_the_code(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let res = app.req(Method::GET, "/api/v1/openapi.json", None).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let served: serde_json::Value = res.json().await.unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&weir_api::openapi::render(weir_api::openapi::document())).unwrap();
    assert_eq!(served, expected);
    for path in ["/api/v1/system/tenants", "/api/v1/system/tenants/{tenant_id}/tokens", "/api/v1/tokens", "/readyz"] {
        assert!(served["paths"].get(path).is_some(), "{path} missing from the document");
    }
}

async fn request_ids(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let res = app.req(Method::GET, "/healthz", None).send().await.unwrap();
    let generated = res.headers().get("x-request-id").expect("x-request-id").to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
    let res = app.req(Method::GET, "/healthz", None).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-me-42");
    // Error answers carry it too.
    let res = app.req(Method::GET, "/nope", None).send().await.unwrap();
    assert!(res.headers().get("x-request-id").is_some());
}

async fn unknown_routes_and_methods(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    assert_problem(app.req(Method::GET, "/api/v1/nothing-here", None), StatusCode::NOT_FOUND).await;
    let body = assert_problem(app.req(Method::PUT, "/api/v1/tokens", None), StatusCode::METHOD_NOT_ALLOWED).await;
    assert!(body["type"].as_str().unwrap().contains("method-not-allowed"), "{body}");
    let (s, _) = send(app.req(Method::DELETE, "/healthz", None)).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
}

/// PostgreSQL only: SQLite is a file the process holds open, so it has no
/// "server gone" state to simulate here (issue 9 covers outages through a
/// cuttable proxy for both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_503_never_500() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let (s, c) = app
        .call(
            Method::POST,
            "/api/v1/integration/connectors",
            Some(&admin),
            Some(serde_json::json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let path = format!("/api/v1/integration/connectors/{}/webhook-receivers", c["data"]["id"].as_str().unwrap());
    let (_, r) = app
        .call(
            Method::POST,
            &path,
            Some(&admin),
            Some(serde_json::json!({"event_type": "x", "auth": {"method": "bearer"}})),
        )
        .await;
    let url = r["data"]["receiver_url"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {}", r["data"]["secret"].as_str().unwrap());
    let deliver = || {
        app.client
            .post(app.url(&url))
            .header("authorization", bearer.as_str())
            .header("content-type", "application/json")
            .body("{}")
    };
    assert_eq!(deliver().send().await.unwrap().status(), StatusCode::ACCEPTED);
    app.drop_database_now().await;
    // A delivery that cannot be committed is 503, never 2xx (the receiver itself is still cached).
    let res = deliver().send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().get("retry-after").is_some());
    for (path, token) in [("/readyz", None), ("/api/v1/tokens", Some(admin.as_str()))] {
        let res = app.req(Method::GET, path, token).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(res.headers().get("retry-after").is_some(), "{path}: Retry-After");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/problem+json"));
    }
}

/// Several instances starting at once on one PostgreSQL take turns
/// migrating (advisory lock) instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_on_postgres_take_turns() {
    if crate::helpers::skip_postgres() {
        return;
    }
    let (url, _guard) = crate::helpers::create_pg_database().await;
    let url = weir_store::DatabaseUrl::parse(&url).unwrap();
    let opts = weir_store::DbOptions::default();
    let starts = (0..4).map(|_| {
        let (url, opts) = (url.clone(), opts.clone());
        tokio::spawn(async move {
            let store = weir_store::Store::connect(&url, &opts).await?;
            let r = store.migrate().await;
            store.close().await;
            r
        })
    });
    for r in futures::future::join_all(starts).await {
        r.unwrap().expect("every instance migrates");
    }
}
