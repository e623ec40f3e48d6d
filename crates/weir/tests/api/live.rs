//! The live stream (SSE): a client connected before a webhook arrives sees
//! it received and processed; another tenant's client sees nothing; on
//! PostgreSQL a client of one instance sees what another instance ingested.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir::config::Settings;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(stream_shows_the_tenants_events_only);

/// One SQLite file is one instance: crossing instances is PostgreSQL's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stream_crosses_instances() {
    stream_crosses_instances(Backend::Postgres).await
}

const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

struct Shop {
    admin: String,
    url: String,
    secret: String,
}

/// A tenant with a bearer receiver routed to a `customer` mapping.
async fn shop(app: &TestApp, slug: &str) -> Shop {
    let t = app.tenant(slug).await;
    let (_, admin) = app.token(&t, "admin").await;
    let post = |path: &str, body: Value| {
        let (app, admin, path) = (app, admin.clone(), format!("/api/v1/integration/{path}"));
        async move {
            let (s, v) = app.call(Method::POST, &path, Some(&admin), Some(body)).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            v["data"].clone()
        }
    };
    let c =
        post("connectors", json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"}))
            .await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let r = post(
        &format!("connectors/{cid}/webhook-receivers"),
        json!({"event_type": "customer.created", "auth": {"method": "bearer"}}),
    )
    .await;
    let m = post(
        "field-mappings",
        json!({"name": "m", "entity_type": "customer", "key": "external_id",
        "rules": [{"source": "id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]}]}),
    )
    .await;
    post(
        "sync-configurations",
        json!({"connector_id": cid, "name": "in", "direction": "inbound", "entity_type": "customer",
        "field_mapping_id": m["id"], "trigger": "webhook", "event_types": ["*"]}),
    )
    .await;
    Shop { admin, url: app.url(r["receiver_url"].as_str().unwrap()), secret: r["secret"].as_str().unwrap().to_owned() }
}

/// Reads SSE messages until `until` holds for the ones read, or `limit` passes.
async fn read(
    res: &mut reqwest::Response,
    limit: Duration,
    until: impl Fn(&[(String, Value)]) -> bool,
) -> Vec<(String, Value)> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = String::new();
    let mut got = Vec::new();
    while !until(&got) {
        let Ok(chunk) = tokio::time::timeout_at(deadline, res.chunk()).await else { break };
        let Some(chunk) = chunk.unwrap() else { break };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut kind = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(k) = line.strip_prefix("event: ") {
                    kind = Some(k.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str::<Value>(d).ok();
                }
            }
            if let (Some(k), Some(d)) = (kind, data) {
                got.push((k, d));
            }
        }
    }
    got
}

async fn subscribe(app: &TestApp, token: &str) -> reqwest::Response {
    let res = app.req(Method::GET, "/api/v1/integration/stream", Some(token)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    res
}

async fn deliver(app: &TestApp, s: &Shop, key: &str) -> String {
    let res = app
        .client
        .post(&s.url)
        .bearer_auth(&s.secret)
        .header("idempotency-key", key)
        .json(&json!({"id": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    res.json::<Value>().await.unwrap()["data"]["event_id"].as_str().unwrap().to_owned()
}

fn saw(events: &[(String, Value)], kind: &str, event_id: &str) -> bool {
    events.iter().any(|(k, d)| k == kind && d["event_id"] == event_id)
}

async fn stream_shows_the_tenants_events_only(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let a = shop(&app, "tenant-a").await;
    let other = shop(&app, "tenant-b").await;
    let mut mine = subscribe(&app, &a.admin).await;
    let mut theirs = subscribe(&app, &other.admin).await;
    let id = deliver(&app, &a, "k1").await;
    let events = read(&mut mine, Duration::from_secs(15), |e| saw(e, "event.processed", &id)).await;
    assert!(saw(&events, "event.received", &id), "{events:?}");
    assert!(saw(&events, "event.processed", &id), "{events:?}");
    let received = events.iter().find(|(k, _)| k == "event.received").unwrap();
    assert_eq!(received.1["event_type"], "customer.created");
    // A failure degrades the connector; the next success restores it.
    let res = app
        .client
        .post(&a.url)
        .bearer_auth(&a.secret)
        .header("idempotency-key", "k2")
        .json(&json!({"no": "id"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let changed = |to: &'static str| {
        move |e: &[(String, Value)]| e.iter().any(|(k, d)| k == "connector.health_changed" && d["to"] == to)
    };
    let events = read(&mut mine, Duration::from_secs(15), changed("degraded")).await;
    let change = events.iter().find(|(k, _)| k == "connector.health_changed").unwrap();
    assert_eq!((change.1["from"].as_str(), change.1["to"].as_str()), (Some("healthy"), Some("degraded")), "{events:?}");
    deliver(&app, &a, "k3").await;
    let events = read(&mut mine, Duration::from_secs(15), changed("healthy")).await;
    assert!(
        events.iter().any(|(k, d)| k == "connector.health_changed" && d["from"] == "degraded" && d["to"] == "healthy"),
        "{events:?}"
    );
    // The other tenant's client got nothing of it.
    let leaked = read(&mut theirs, Duration::from_millis(800), |e| !e.is_empty()).await;
    assert!(leaked.is_empty(), "{leaked:?}");
    app.stop().await;
}

async fn stream_crosses_instances(b: Backend) {
    let settings = || Settings { master_key: Some(MASTER_KEY.into()), ..Settings::default() };
    let Some(first) = TestApp::spawn_with(b, settings()).await else { return };
    let second = first.spawn_sharing(Settings { workers: Some("0".into()), ..settings() }).await;
    let s = shop(&first, "acme").await;
    // A client of the first instance; the delivery goes to the second.
    let mut client = subscribe(&first, &s.admin).await;
    let url = s.url.replace(&first.base, &second.base);
    let res = second
        .client
        .post(&url)
        .bearer_auth(&s.secret)
        .header("idempotency-key", "x1")
        .json(&json!({"id": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let id = res.json::<Value>().await.unwrap()["data"]["event_id"].as_str().unwrap().to_owned();
    let events = read(&mut client, Duration::from_secs(15), |e| saw(e, "event.received", &id)).await;
    assert!(saw(&events, "event.received", &id), "the first instance's client saw the second's event: {events:?}");
    second.stop().await;
    first.stop().await;
}
