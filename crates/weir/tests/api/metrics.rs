//! `GET /metrics`: Prometheus text with request counts by route template
//! and status, rejections by reason, processing outcomes — and no tenant or
//! connector ids in any label.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, SYSTEM_TOKEN, TestApp};

backend_tests!(metrics_expose_low_cardinality_counters);

async fn metrics_expose_low_cardinality_counters(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let t = app.tenant("metrics-tenant").await;
    let (_, admin) = app.token(&t, "admin").await;
    let (_, c) = app
        .call(
            Method::POST,
            "/api/v1/integration/connectors",
            Some(&admin),
            Some(json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"})),
        )
        .await;
    let cid = c["data"]["id"].as_str().unwrap().to_owned();
    let (_, r) = app
        .call(
            Method::POST,
            &format!("/api/v1/integration/connectors/{cid}/webhook-receivers"),
            Some(&admin),
            Some(json!({"event_type": "*", "auth": {"method": "bearer"}})),
        )
        .await;
    let url = app.url(r["data"]["receiver_url"].as_str().unwrap());
    let res = app.client.post(&url).bearer_auth("not-the-secret-at-all").json(&json!({})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (_, got) = app.call(Method::GET, &format!("/api/v1/integration/connectors/{cid}"), Some(&admin), None).await;
    assert_eq!(got["data"]["id"], cid.as_str());

    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = res.text().await.unwrap();
    for needle in [
        r#"weir_http_requests_total{route="/api/v1/system/tenants",method="POST",status="201"}"#,
        r#"weir_http_requests_total{route="/api/v1/integration/connectors/{id}",method="GET",status="200"}"#,
        r#"weir_webhooks_rejected_total{reason="signature_invalid"}"#,
        "# TYPE weir_http_request_duration_seconds histogram",
        "weir_ingest_batch_size",
    ] {
        assert!(text.contains(needle), "missing {needle}");
    }
    // Ids never become labels.
    assert!(!text.contains(&t) && !text.contains(&cid), "an id leaked into a label");
    assert!(!text.contains(SYSTEM_TOKEN));
    app.stop().await;
}
