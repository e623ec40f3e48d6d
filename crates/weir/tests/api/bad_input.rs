//! Bad input gets the documented 4xx with a problem+json body, never a 500,
//! and writes nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, SYSTEM_TOKEN, TestApp, assert_problem};

backend_tests!(
    malformed_and_mistyped_bodies,
    oversized_bodies_are_413,
    hostile_pagination_is_422,
    deeply_nested_json_is_refused,
    slow_requests_are_cut_with_408,
);

async fn malformed_and_mistyped_bodies(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let post = |body: &'static str, ct: Option<&'static str>| {
        let mut r = app.req(Method::POST, "/api/v1/system/tenants", Some(SYSTEM_TOKEN)).body(body);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r
    };
    let json_ct = Some("application/json");
    for bad in ["{\"slug\": ", "not json", "", "{\"slug\": \"a\" \"name\": \"b\"}", "\u{0}"] {
        let body = assert_problem(post(bad, json_ct), StatusCode::BAD_REQUEST).await;
        assert!(body["detail"].as_str().unwrap().contains("JSON"), "{body}");
    }
    let body = assert_problem(post(r#"{"slug": 42, "name": "x"}"#, json_ct), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body["errors"]["slug"].is_array(), "{body}");
    let body = assert_problem(post(r#"{"slug": "ok-slug"}"#, json_ct), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body["errors"]["name"].is_array(), "missing field named: {body}");
    let body = assert_problem(
        post(r#"{"slug": "ok", "name": "x", "admin": true}"#, json_ct),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(body["errors"].as_object().unwrap().keys().any(|k| k.contains("admin")), "unknown field named: {body}");
    assert_problem(post(r#"[1, 2, 3]"#, json_ct), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_problem(post(r#"{"slug": "ok", "name": "x"}"#, Some("text/plain")), StatusCode::UNSUPPORTED_MEDIA_TYPE)
        .await;
    assert_problem(post(r#"{"slug": "ok", "name": "x"}"#, None), StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    // Tokens: a role that does not exist.
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let r = app.req(Method::POST, "/api/v1/tokens", Some(&admin)).json(&json!({"name": "x", "role": "root"}));
    let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body["errors"]["role"].is_array(), "{body}");
    let r =
        app.req(Method::POST, "/api/v1/tokens", Some(&admin)).json(&json!({"name": "x".repeat(101), "role": "viewer"}));
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    let (_, list) = app.call(Method::GET, "/api/v1/system/tenants", Some(SYSTEM_TOKEN), None).await;
    assert_eq!(list["meta"]["total"], 1, "only the valid tenant exists");
    let (_, tokens) = app.call(Method::GET, "/api/v1/tokens", Some(&admin), None).await;
    assert_eq!(tokens["meta"]["total"], 1, "no token was written by refused requests");
}

async fn oversized_bodies_are_413(b: Backend) {
    let settings = weir::Settings { max_body_bytes: Some("4096".into()), ..Default::default() };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let big = json!({"slug": "big", "name": "x".repeat(10_000)});
    let r = app.req(Method::POST, "/api/v1/system/tenants", Some(SYSTEM_TOKEN)).json(&big);
    assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE).await;
    // Streamed without a Content-Length: still cut at the limit. (Small
    // enough to fit the socket buffers: a larger body races the server's
    // close after its 413 and the client may see a broken pipe instead.)
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..6).map(|_| Ok(vec![b' '; 1024])).collect();
    let r = app
        .req(Method::POST, "/api/v1/system/tenants", Some(SYSTEM_TOKEN))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
    assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE).await;
    let (_, list) = app.call(Method::GET, "/api/v1/system/tenants", Some(SYSTEM_TOKEN), None).await;
    assert_eq!(list["meta"]["total"], 0);
}

async fn hostile_pagination_is_422(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let cases = [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=99999999999999999999999", "page"),
        ("page=1000001", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=-5", "per_page"),
        ("per_page=abc", "per_page"),
        ("per_page=1e3", "per_page"),
        ("sort=desc", "sort"),
    ];
    for (query, field) in cases {
        let r = app.req(Method::GET, &format!("/api/v1/system/tenants?{query}"), Some(SYSTEM_TOKEN));
        let body = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(
            body["errors"].as_object().unwrap().keys().any(|k| k.contains(field)),
            "{query}: expected an error naming {field}: {body}"
        );
    }
    let (s, _) =
        app.call(Method::GET, "/api/v1/system/tenants?page=1000000&per_page=100", Some(SYSTEM_TOKEN), None).await;
    assert_eq!(s, StatusCode::OK, "the largest accepted page is answered, empty");
}

async fn deeply_nested_json_is_refused(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = app
        .req(Method::POST, "/api/v1/system/tenants", Some(SYSTEM_TOKEN))
        .header("content-type", "application/json")
        .body(deep);
    let res = r.send().await.unwrap();
    assert!(matches!(res.status().as_u16(), 400 | 422), "{}", res.status());
    let for_a_field = format!(r#"{{"slug": "deep", "name": {}1{}}}"#, "[".repeat(50_000), "]".repeat(50_000));
    let r = app
        .req(Method::POST, "/api/v1/system/tenants", Some(SYSTEM_TOKEN))
        .header("content-type", "application/json")
        .body(for_a_field);
    let res = r.send().await.unwrap();
    assert!(matches!(res.status().as_u16(), 400 | 422), "{}", res.status());
    let (s, _) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK, "the server survived");
}

async fn slow_requests_are_cut_with_408(b: Backend) {
    let settings = weir::Settings { request_timeout_secs: Some("1".into()), ..Default::default() };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(br#"{"slug": "slow", "#.to_vec())).await.unwrap();
    let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let r = app
        .req(Method::POST, "/api/v1/system/tenants", Some(SYSTEM_TOKEN))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream));
    assert_problem(r, StatusCode::REQUEST_TIMEOUT).await;
    drop(tx);
    let (_, list) = app.call(Method::GET, "/api/v1/system/tenants", Some(SYSTEM_TOKEN), None).await;
    assert_eq!(list["meta"]["total"], 0, "nothing written");
}
