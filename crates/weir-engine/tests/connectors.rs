//! The connector framework against real local HTTP servers (wiremock).

use std::time::Duration;

use serde_json::json;
use weir_core::{ConnectorConfig, ConnectorType, Credentials};
use weir_engine::{ConnectorError, Outbound, OutboundPolicy, build_connector};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn outbound(block_private: bool) -> Outbound {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Outbound::new(OutboundPolicy { block_private, ..OutboundPolicy::default() }).unwrap()
}

fn http(base_url: &str, extra: serde_json::Value) -> ConnectorConfig {
    let mut config = json!({"base_url": base_url, "health_path": "/health", "timeout_ms": 500});
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    ConnectorConfig::parse(ConnectorType::Http, Some(&config)).unwrap()
}

#[tokio::test]
async fn healthy_remote_reports_latency_and_version() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(200).insert_header("x-api-version", "2024-06"))
        .mount(&server)
        .await;
    let c = build_connector(&http(&server.uri(), json!({})), Credentials::None, &outbound(false));
    let t = c.test_connection().await.unwrap();
    assert!(t.success, "{t:?}");
    assert_eq!((t.status_code, t.api_version.as_deref(), t.error.as_deref()), (Some(200), Some("2024-06"), None));

    // The body's `version` is used when no header says it.
    let server = MockServer::start().await;
    Mock::given(path("/health"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "3.1.4"})))
        .mount(&server)
        .await;
    let c = build_connector(&http(&server.uri(), json!({})), Credentials::None, &outbound(false));
    assert_eq!(c.test_connection().await.unwrap().api_version.as_deref(), Some("3.1.4"));
}

#[tokio::test]
async fn failures_have_readable_reasons() {
    let server = MockServer::start().await;
    Mock::given(path("/health")).respond_with(ResponseTemplate::new(500)).mount(&server).await;
    let c = build_connector(&http(&server.uri(), json!({})), Credentials::None, &outbound(false));
    let t = c.test_connection().await.unwrap();
    assert!(!t.success);
    assert_eq!((t.status_code, t.error.as_deref()), (Some(500), Some("HTTP 500 Internal Server Error")));

    let slow = MockServer::start().await;
    Mock::given(path("/health"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&slow)
        .await;
    let c = build_connector(&http(&slow.uri(), json!({"timeout_ms": 200})), Credentials::None, &outbound(false));
    let t = c.test_connection().await.unwrap();
    assert_eq!((t.success, t.status_code, t.error.as_deref()), (false, None, Some("timed out after 200 ms")));
    assert!(t.latency_ms >= 200 && t.latency_ms < 2_000, "{}", t.latency_ms);

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let c = build_connector(&http(&format!("http://127.0.0.1:{port}"), json!({})), Credentials::None, &outbound(false));
    let t = c.test_connection().await.unwrap();
    assert!(!t.success);
    assert_eq!(t.error.as_deref(), Some(format!("connection refused by 127.0.0.1:{port}").as_str()));

    let c = build_connector(&http("http://no-such-host.invalid", json!({})), Credentials::None, &outbound(false));
    let t = c.test_connection().await.unwrap();
    assert!(t.error.unwrap().contains("could not resolve host no-such-host.invalid"));
}

#[tokio::test]
async fn auth_and_default_headers_are_sent() {
    let server = MockServer::start().await;
    Mock::given(path("/health"))
        .and(header("authorization", "Bearer tok-123"))
        .and(header("x-tenant", "acme"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(path("/health"))
        // base64("user:pa:ss") — the password may contain ':'.
        .and(header("authorization", "Basic dXNlcjpwYTpzcw=="))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    Mock::given(path("/health"))
        .and(header("x-shop-key", "k-999"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    Mock::given(path("/health")).respond_with(ResponseTemplate::new(401)).mount(&server).await;

    let ob = outbound(false);
    let bearer = http(&server.uri(), json!({"headers": {"X-Tenant": "acme"}, "auth": {"type": "bearer"}}));
    let t =
        build_connector(&bearer, Credentials::Bearer { token: "tok-123".into() }, &ob).test_connection().await.unwrap();
    assert_eq!(t.status_code, Some(200));
    let basic = http(&server.uri(), json!({"auth": {"type": "basic"}}));
    let creds = Credentials::Basic { username: "user".into(), password: "pa:ss".into() };
    assert_eq!(build_connector(&basic, creds, &ob).test_connection().await.unwrap().status_code, Some(201));
    let key = http(&server.uri(), json!({"auth": {"type": "api_key", "header": "X-Shop-Key"}}));
    let t = build_connector(&key, Credentials::ApiKey { key: "k-999".into() }, &ob).test_connection().await.unwrap();
    assert_eq!(t.status_code, Some(202));
    // Without credentials the remote refuses: the header really was what mattered.
    let t = build_connector(&http(&server.uri(), json!({})), Credentials::None, &ob).test_connection().await.unwrap();
    assert_eq!((t.success, t.status_code), (false, Some(401)));
}

#[tokio::test]
async fn private_targets_are_refused_when_blocking() {
    let server = MockServer::start().await;
    Mock::given(path("/health")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let port = server.address().port();
    for base in [server.uri(), format!("http://localhost:{port}")] {
        let c = build_connector(&http(&base, json!({})), Credentials::None, &outbound(true));
        let t = c.test_connection().await.unwrap();
        assert!(!t.success, "{base}");
        assert!(t.error.as_deref().unwrap().contains("not public"), "{base}: {t:?}");
    }
    assert!(server.received_requests().await.unwrap().is_empty(), "nothing reached the private server");
    let c = build_connector(&http(&server.uri(), json!({})), Credentials::None, &outbound(false));
    assert!(c.test_connection().await.unwrap().success, "allowed by default (self-hosting)");
}

#[tokio::test]
async fn fetch_and_push() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/customers"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", "<http://x/customers?page=3>; rel=\"next\"")
                .set_body_json(json!({"data": [{"id": 1}]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/limited"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .and(body_json(json!([{"n": 1}, {"n": 2}])))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"accepted": 2})))
        .mount(&server)
        .await;
    let c = build_connector(&http(&server.uri(), json!({})), Credentials::None, &outbound(false));
    let page = c.fetch_page("/customers", &[("page".into(), "2".into())]).await.unwrap();
    assert_eq!(page.body["data"][0]["id"], 1);
    assert!(page.headers["link"].contains("rel=\"next\""));
    assert_eq!(
        c.fetch_page("/limited", &[]).await.unwrap_err(),
        ConnectorError::Status { status: 429, retry_after_secs: Some(7) }
    );
    let pushed = c.push_batch("/orders", &[json!({"n": 1}), json!({"n": 2})]).await.unwrap();
    assert_eq!((pushed.status, &pushed.body), (200, &json!({"accepted": 2})));
}

#[tokio::test]
async fn webhook_connectors_are_inbound_only() {
    let c = build_connector(&ConnectorConfig::Webhook, Credentials::None, &outbound(false));
    let e = c.test_connection().await.unwrap_err();
    assert!(matches!(e, ConnectorError::Unsupported(m) if m.contains("inbound only")));
    assert!(c.fetch_page("/x", &[]).await.is_err() && c.push_batch("/x", &[]).await.is_err());
}
