//! Sync runs against real local partner APIs (wiremock): every pagination
//! type with auth, re-runs that change nothing, partial and failed runs,
//! `Retry-After`, cancellation, outbound pushes, 60 connectors in parallel
//! within the limits, the scheduler with two instances, exports read back,
//! and tenancy on every endpoint.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir::config::Settings;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem};

backend_tests!(
    inbound_runs_over_every_pagination_type,
    partial_failed_rate_limited_and_cancelled_runs,
    cancel_interrupts_retry_waits,
    outbound_runs_push_changed_records,
    sixty_connectors_run_in_parallel_within_limits,
    scheduler_runs_each_due_time_once,
    runs_stay_in_their_tenant,
);

const CONNECTORS: &str = "/api/v1/integration/connectors";
const SYNCS: &str = "/api/v1/integration/sync-configurations";
const RUNS: &str = "/api/v1/integration/sync-histories";
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub(crate) fn settings() -> Settings {
    Settings {
        sync_retry_backoff: Some("20ms,20ms".into()),
        scheduler_interval_ms: Some("0".into()),
        master_key: Some(MASTER_KEY.into()),
        ..Settings::default()
    }
}

pub(crate) struct Tenant {
    pub admin: String,
    pub operator: String,
    pub viewer: String,
    mapping_id: String,
}

pub(crate) async fn tenant(app: &TestApp, slug: &str) -> Tenant {
    let t = app.tenant(slug).await;
    let (_, admin) = app.token(&t, "admin").await;
    let (_, operator) = app.token(&t, "operator").await;
    let (_, viewer) = app.token(&t, "viewer").await;
    let (s, m) = app
        .call(
            Method::POST,
            "/api/v1/integration/field-mappings",
            Some(&admin),
            Some(json!({
                "name": "customers", "entity_type": "customer", "key": "external_id",
                "rules": [
                    {"source": "id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]},
                    {"source": "email", "target": "email", "transforms": [{"op": "lowercase"}]}
                ]
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    Tenant { admin, operator, viewer, mapping_id: m["data"]["id"].as_str().unwrap().to_owned() }
}

/// An `http` connector to `base` with bearer auth `secret-token`.
pub(crate) async fn connector(app: &TestApp, t: &Tenant, code: &str, base: &str) -> String {
    let body = json!({
        "code": code, "name": code, "type": "http", "environment": "development",
        "config": {"base_url": base, "auth": {"type": "bearer"}, "timeout_ms": 2000},
        "credentials": {"token": "secret-token"},
    });
    let (s, c) = app.call(Method::POST, CONNECTORS, Some(&t.admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["data"]["id"].as_str().unwrap().to_owned()
}

/// A manual inbound configuration of `customer` records.
pub(crate) async fn pull(app: &TestApp, t: &Tenant, connector_id: &str, name: &str, source: Value) -> String {
    let body = json!({
        "connector_id": connector_id, "name": name, "direction": "inbound", "entity_type": "customer",
        "field_mapping_id": t.mapping_id, "trigger": "manual", "source": source,
    });
    let (s, c) = app.call(Method::POST, SYNCS, Some(&t.admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["data"]["id"].as_str().unwrap().to_owned()
}

/// Executes a configuration; answers the run id.
pub(crate) async fn execute(app: &TestApp, token: &str, config_id: &str) -> String {
    let (s, r) = app.call(Method::POST, &format!("{SYNCS}/{config_id}/execute"), Some(token), None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["data"]["status"], "queued");
    r["data"]["sync_history_id"].as_str().unwrap().to_owned()
}

/// Polls a run until it has finished (bounded: 30 s).
pub(crate) async fn finished(app: &TestApp, token: &str, run_id: &str) -> Value {
    for _ in 0..600 {
        let (s, h) = app.call(Method::GET, &format!("{RUNS}/{run_id}"), Some(token), None).await;
        assert_eq!(s, StatusCode::OK, "{h}");
        if !matches!(h["data"]["status"].as_str(), Some("queued" | "running")) {
            return h["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {run_id} never finished");
}

fn customers(from: usize, n: usize) -> Vec<Value> {
    (from..from + n).map(|i| json!({"id": i, "email": format!("C{i}@X.COM")})).collect()
}

async fn records_total(app: &TestApp, token: &str) -> u64 {
    let (_, l) = app.call(Method::GET, "/api/v1/integration/records?entity_type=customer", Some(token), None).await;
    l["meta"]["total"].as_u64().unwrap()
}

async fn inbound_runs_over_every_pagination_type(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, settings()).await else { return };
    let api = MockServer::start().await;
    // Page numbers: 230 records over 5 pages (50 each, then 30), bearer required.
    for page in 1..=5usize {
        let n = if page == 5 { 30 } else { 50 };
        let next = if page == 5 { Value::Null } else { json!(page + 1) };
        Mock::given(method("GET"))
            .and(path("/customers"))
            .and(query_param("page", page.to_string()))
            .and(header("authorization", "Bearer secret-token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"data": customers((page - 1) * 50, n), "next_page": next})),
            )
            .mount(&api)
            .await;
    }
    let t = tenant(&app, "acme").await;
    let c = connector(&app, &t, "crm", &api.uri()).await;
    let pages = pull(
        &app,
        &t,
        &c,
        "by page",
        json!({"path": "/customers", "records_path": "data", "pagination": {"type": "page", "param": "page", "start": 1, "next_path": "next_page"}}),
    )
    .await;
    let run = execute(&app, &t.operator, &pages).await;
    let h = finished(&app, &t.viewer, &run).await;
    assert_eq!(h["status"], "succeeded", "{h}");
    assert_eq!(
        (h["records_read"].as_i64(), h["records_created"].as_i64(), h["pages"].as_i64()),
        (Some(230), Some(230), Some(5))
    );
    assert!(h["bytes"].as_i64().unwrap() > 0 && h["duration_ms"].is_i64());
    assert_eq!(records_total(&app, &t.viewer).await, 230);
    let (_, r) = app.call(Method::GET, "/api/v1/integration/records/customer/7", Some(&t.viewer), None).await;
    assert_eq!((r["data"]["data"]["email"].as_str(), r["data"]["version"].as_i64()), (Some("c7@x.com"), Some(1)));
    // Again: nothing new, nothing updated.
    let h = finished(&app, &t.viewer, &execute(&app, &t.operator, &pages).await).await;
    assert_eq!(
        (h["status"].as_str(), h["records_created"].as_i64(), h["records_updated"].as_i64()),
        (Some("succeeded"), Some(0), Some(0))
    );
    assert_eq!(
        app.call(Method::GET, "/api/v1/integration/records/customer/7", Some(&t.viewer), None).await.1["data"]["version"],
        1
    );

    // Offsets: 25 records, limit 10 → 10, 10, 5.
    for (offset, n) in [(0usize, 10usize), (10, 10), (20, 5)] {
        Mock::given(method("GET"))
            .and(path("/offset"))
            .and(query_param("skip", offset.to_string()))
            .and(query_param("take", "10"))
            .and(header("authorization", "Bearer secret-token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!(customers(1000 + offset, n))))
            .mount(&api)
            .await;
    }
    let cfg = pull(&app, &t, &c, "by offset", json!({"path": "/offset", "pagination": {"type": "offset", "offset_param": "skip", "limit_param": "take", "limit": 10}})).await;
    let h = finished(&app, &t.viewer, &execute(&app, &t.operator, &cfg).await).await;
    assert_eq!(
        (h["status"].as_str(), h["records_created"].as_i64(), h["pages"].as_i64()),
        (Some("succeeded"), Some(25), Some(3)),
        "{h}"
    );

    // Cursors from the body.
    Mock::given(method("GET"))
        .and(path("/cursor"))
        .and(query_param("after", "c2"))
        .and(header("authorization", "Bearer secret-token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": customers(2010, 3), "meta": {"next": null}})),
        )
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/cursor"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"items": customers(2000, 4), "meta": {"next": "c2"}})),
        )
        .mount(&api)
        .await;
    let cfg = pull(&app, &t, &c, "by cursor", json!({"path": "/cursor", "records_path": "items", "pagination": {"type": "cursor", "param": "after", "next_path": "meta.next"}})).await;
    let h = finished(&app, &t.viewer, &execute(&app, &t.operator, &cfg).await).await;
    assert_eq!(
        (h["status"].as_str(), h["records_created"].as_i64(), h["pages"].as_i64()),
        (Some("succeeded"), Some(7), Some(2)),
        "{h}"
    );

    // RFC 8288 Link headers (relative and absolute), with auth on every page.
    Mock::given(method("GET"))
        .and(path("/linked"))
        .and(query_param("p", "2"))
        .and(header("authorization", "Bearer secret-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(customers(3010, 2))))
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/linked"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", format!(r#"<{}/linked?p=2>; rel="next", </linked>; rel="first""#, api.uri()))
                .set_body_json(json!(customers(3000, 3))),
        )
        .mount(&api)
        .await;
    let cfg = pull(&app, &t, &c, "by link", json!({"path": "/linked", "pagination": {"type": "link_header"}})).await;
    let h = finished(&app, &t.viewer, &execute(&app, &t.operator, &cfg).await).await;
    assert_eq!(
        (h["status"].as_str(), h["records_created"].as_i64(), h["pages"].as_i64()),
        (Some("succeeded"), Some(5), Some(2)),
        "{h}"
    );
    assert_eq!(records_total(&app, &t.viewer).await, 230 + 25 + 7 + 5);

    // Audited with counts; listed with filters.
    let (_, l) = app
        .call(Method::GET, &format!("{RUNS}?sync_configuration_id={pages}&status=succeeded"), Some(&t.viewer), None)
        .await;
    assert_eq!(l["meta"]["total"], 2);
    let store = app.store().await;
    let scope = store.authenticate(&t.admin).await.unwrap().unwrap().scope;
    let audit = store.list_audit(&scope, weir_core::PageRequest::parse(Some(1), Some(100)).unwrap()).await.unwrap();
    let finished_runs: Vec<_> = audit.items.iter().filter(|a| a.action == "sync.finished").collect();
    assert_eq!(finished_runs.len(), 5);
    assert!(finished_runs.iter().any(|a| a.details["records_created"] == 230));
    assert_eq!(audit.items.iter().filter(|a| a.action == "sync.started").count(), 5);
    store.close().await;
    app.stop().await;
}

async fn partial_failed_rate_limited_and_cancelled_runs(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, settings()).await else { return };
    let api = MockServer::start().await;
    let t = tenant(&app, "acme").await;
    let c = connector(&app, &t, "crm", &api.uri()).await;

    // Partial: one record without an id.
    Mock::given(method("GET"))
        .and(path("/mixed"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 1}, {"email": "no-id@x.com", "note": "x".repeat(2000)}, {"id": 3}])),
        )
        .mount(&api)
        .await;
    let cfg = pull(&app, &t, &c, "mixed", json!({"path": "/mixed"})).await;
    let run = execute(&app, &t.operator, &cfg).await;
    let h = finished(&app, &t.viewer, &run).await;
    assert_eq!(
        (h["status"].as_str(), h["records_created"].as_i64(), h["records_failed"].as_i64()),
        (Some("partial"), Some(2), Some(1)),
        "{h}"
    );
    let (_, errs) = app.call(Method::GET, &format!("{RUNS}/{run}/errors"), Some(&t.viewer), None).await;
    assert_eq!(errs["meta"]["total"], 1);
    let e = &errs["data"][0];
    assert_eq!((e["record_ref"].as_str(), e["error_type"].as_str()), (Some("page 1 item 2"), Some("mapping_error")));
    assert!(e["message"].as_str().unwrap().contains("external_id"));
    assert!(e["excerpt"].as_str().unwrap().chars().count() <= 500, "bounded excerpt");
    // Export: CSV read back with the csv crate, JSON parsed; both downloads.
    let res = app.req(Method::GET, &format!("{RUNS}/{run}/export?format=csv"), Some(&t.viewer)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment;") && disposition.contains(".csv"), "{disposition}");
    let text = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(&reader.headers().unwrap()[0], "kind");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!((&rows[0][0], &rows[0][2], &rows[0][6]), ("summary", "partial", "1"));
    assert_eq!((&rows[1][0], &rows[1][8], &rows[1][9]), ("error", "page 1 item 2", "mapping_error"));
    let res = app.req(Method::GET, &format!("{RUNS}/{run}/export?format=json"), Some(&t.viewer)).send().await.unwrap();
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains(".json"));
    let j: Value = res.json().await.unwrap();
    assert_eq!(
        (j["sync_history"]["status"].as_str(), j["errors"].as_array().map(Vec::len)),
        (Some("partial"), Some(1))
    );
    assert_problem(
        app.req(Method::GET, &format!("{RUNS}/{run}/export?format=xml"), Some(&t.viewer)),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // Failed: 5xx on every try → three attempts, then failed with the error.
    Mock::given(method("GET")).and(path("/down")).respond_with(ResponseTemplate::new(502)).mount(&api).await;
    let cfg = pull(&app, &t, &c, "down", json!({"path": "/down"})).await;
    let h = finished(&app, &t.viewer, &execute(&app, &t.operator, &cfg).await).await;
    assert_eq!((h["status"].as_str(), h["error_type"].as_str()), (Some("failed"), Some("http_error")), "{h}");
    assert!(h["error_message"].as_str().unwrap().contains("after 3 attempts"), "{h}");
    let tries = api.received_requests().await.unwrap().iter().filter(|r| r.url.path() == "/down").count();
    assert_eq!(tries, 3);

    // 429 with Retry-After: 1 → waited out, then succeeded.
    Mock::given(method("GET"))
        .and(path("/busy"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/busy"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(customers(50, 2))))
        .mount(&api)
        .await;
    let cfg = pull(&app, &t, &c, "busy", json!({"path": "/busy"})).await;
    let h = finished(&app, &t.viewer, &execute(&app, &t.operator, &cfg).await).await;
    assert_eq!((h["status"].as_str(), h["records_created"].as_i64()), (Some("succeeded"), Some(2)), "{h}");
    assert!(h["duration_ms"].as_i64().unwrap() >= 950, "Retry-After was honoured: {h}");

    // Cancel: a slow endless source stops at a page boundary.
    Mock::given(method("GET"))
        .and(path("/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(200))
                .set_body_json(json!({"data": customers(500, 1), "next": 1})),
        )
        .mount(&api)
        .await;
    let cfg = pull(
        &app,
        &t,
        &c,
        "slow",
        json!({"path": "/slow", "records_path": "data", "pagination": {"type": "page", "next_path": "next"}}),
    )
    .await;
    let run = execute(&app, &t.operator, &cfg).await;
    // One run at a time per configuration.
    assert_problem(app.req(Method::POST, &format!("{SYNCS}/{cfg}/execute"), Some(&t.operator)), StatusCode::CONFLICT)
        .await;
    for _ in 0..100 {
        let (_, h) = app.call(Method::GET, &format!("{RUNS}/{run}"), Some(&t.viewer), None).await;
        if h["data"]["pages"].as_i64().unwrap_or(0) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_problem(app.req(Method::POST, &format!("{RUNS}/{run}/cancel"), Some(&t.viewer)), StatusCode::FORBIDDEN)
        .await;
    let (s, _) = app.call(Method::POST, &format!("{RUNS}/{run}/cancel"), Some(&t.operator), None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let h = finished(&app, &t.viewer, &run).await;
    assert_eq!(h["status"], "cancelled", "{h}");
    assert!(h["pages"].as_i64().unwrap() < 20, "{h}");
    assert_problem(app.req(Method::POST, &format!("{RUNS}/{run}/cancel"), Some(&t.operator)), StatusCode::CONFLICT)
        .await;
    app.stop().await;
}

async fn outbound_runs_push_changed_records(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, settings()).await else { return };
    let erp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/push"))
        .and(header("authorization", "Bearer secret-token"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&erp)
        .await;
    let t = tenant(&app, "acme").await;
    let c = connector(&app, &t, "erp", &erp.uri()).await;
    let store = app.store().await;
    let scope = store.authenticate(&t.admin).await.unwrap().unwrap().scope;
    let write = |i: usize, email: &str| weir_store::RecordWrite {
        entity_type: "customer".into(),
        external_id: i.to_string(),
        data: json!({"external_id": i.to_string(), "email": email}),
        source_connector_id: None,
        last_event_id: None,
        ordering_value: None,
    };
    for i in 0..150 {
        store.upsert_record(&scope, write(i, "a@x.com")).await.unwrap();
    }
    let body = json!({
        "connector_id": c, "name": "push", "direction": "outbound", "entity_type": "customer",
        "trigger": "manual", "destination": {"path": "/push"},
    });
    let (s, cfg) = app.call(Method::POST, SYNCS, Some(&t.admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{cfg}");
    let cfg = cfg["data"]["id"].as_str().unwrap().to_owned();
    let h = finished(&app, &t.viewer, &execute(&app, &t.operator, &cfg).await).await;
    assert_eq!(
        (h["status"].as_str(), h["records_read"].as_i64(), h["records_updated"].as_i64(), h["pages"].as_i64()),
        (Some("succeeded"), Some(150), Some(150), Some(2)),
        "{h}"
    );
    let pushed: usize = erp
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice::<Vec<Value>>(&r.body).unwrap().len())
        .sum();
    assert_eq!(pushed, 150);
    // Only what changed since the last successful run goes out next time.
    store.upsert_record(&scope, write(7, "changed@x.com")).await.unwrap();
    let h = finished(&app, &t.viewer, &execute(&app, &t.operator, &cfg).await).await;
    assert_eq!((h["records_read"].as_i64(), h["records_updated"].as_i64()), (Some(1), Some(1)), "{h}");
    let last: Vec<Value> =
        serde_json::from_slice(&erp.received_requests().await.unwrap().last().unwrap().body).unwrap();
    assert_eq!(last, vec![json!({"external_id": "7", "email": "changed@x.com"})]);
    // A refused batch: its records are errors, the run is partial.
    erp.reset().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(422)).mount(&erp).await;
    store.upsert_record(&scope, write(8, "again@x.com")).await.unwrap();
    let run = execute(&app, &t.operator, &cfg).await;
    let h = finished(&app, &t.viewer, &run).await;
    assert_eq!((h["status"].as_str(), h["records_failed"].as_i64()), (Some("partial"), Some(1)), "{h}");
    let (_, errs) = app.call(Method::GET, &format!("{RUNS}/{run}/errors"), Some(&t.viewer), None).await;
    assert_eq!(
        (errs["data"][0]["record_ref"].as_str(), errs["data"][0]["error_type"].as_str()),
        (Some("8"), Some("push_error"))
    );
    store.close().await;
    app.stop().await;
}

/// The greatest number of runs whose [started, finished] intervals overlap.
fn max_overlap(runs: &[(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)]) -> usize {
    let mut points: Vec<(chrono::DateTime<chrono::Utc>, i32)> = Vec::new();
    for (s, f) in runs {
        points.push((*s, 1));
        points.push((*f, -1));
    }
    points.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut cur, mut best) = (0i32, 0i32);
    for (_, d) in points {
        cur += d;
        best = best.max(cur);
    }
    best as usize
}

async fn sixty_connectors_run_in_parallel_within_limits(b: Backend) {
    // This server runs no syncs: the test's own engine does, with known limits.
    let s = Settings { sync_concurrency: Some("0".into()), ..settings() };
    let Some(app) = TestApp::spawn_with(b, s).await else { return };
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_delay(Duration::from_millis(150)).set_body_json(json!(customers(1, 3))),
        )
        .mount(&api)
        .await;
    let t = tenant(&app, "acme").await;
    let mut configs = Vec::new();
    for i in 0..60 {
        let c = connector(&app, &t, &format!("c{i:02}"), &api.uri()).await;
        configs.push(pull(&app, &t, &c, &format!("pull {i}"), json!({"path": format!("/c{i}")})).await);
    }
    // One connector with four configurations: at most two of them at once.
    let shared = connector(&app, &t, "shared", &api.uri()).await;
    for i in 0..4 {
        configs.push(pull(&app, &t, &shared, &format!("shared {i}"), json!({"path": "/shared"})).await);
    }
    let mut runs = Vec::new();
    for c in &configs {
        runs.push(execute(&app, &t.operator, c).await);
    }
    let key = weir_core::MasterKey::from_bytes(std::array::from_fn(|i| i as u8));
    let outbound = weir_engine::Outbound::new(weir_engine::OutboundPolicy::default()).unwrap();
    let opts = weir_engine::SyncOptions { concurrency: 16, per_connector: 2, ..weir_engine::SyncOptions::default() };
    let engine = weir_engine::SyncEngine::new(app.store().await, key, outbound, opts);
    assert_eq!(engine.run_pending_once().await.unwrap(), 64);
    let mut all = Vec::new();
    let mut on_shared = Vec::new();
    for r in &runs {
        let h = finished(&app, &t.viewer, r).await;
        assert_eq!(h["status"], "succeeded", "{h}");
        let at = |k: &str| h[k].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        all.push((at("started_at"), at("finished_at")));
        if h["connector_id"] == shared.as_str() {
            on_shared.push((at("started_at"), at("finished_at")));
        }
    }
    let overall = max_overlap(&all);
    assert!(overall > 1 && overall <= 16, "observed concurrency {overall}");
    assert!(max_overlap(&on_shared) <= 2, "per-connector limit: {}", max_overlap(&on_shared));
    app.stop().await;
}

async fn scheduler_runs_each_due_time_once(b: Backend) {
    let s = Settings { sync_concurrency: Some("0".into()), ..settings() };
    let Some(app) = TestApp::spawn_with(b, s).await else { return };
    let api = MockServer::start().await;
    let t = tenant(&app, "acme").await;
    let c = connector(&app, &t, "crm", &api.uri()).await;
    let body = json!({
        "connector_id": c, "name": "every minute", "direction": "inbound", "entity_type": "customer",
        "field_mapping_id": t.mapping_id, "trigger": "schedule", "schedule": "* * * * *",
        "source": {"path": "/customers"},
    });
    let (s, cfg) = app.call(Method::POST, SYNCS, Some(&t.admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{cfg}");
    let id = cfg["data"]["id"].as_str().unwrap().to_owned();
    // Pretend the instance was down for an hour: 60 slots were missed.
    let store = app.store().await;
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        use weir_store::entities::sync_configurations as sc;
        sc::Entity::update_many()
            .col_expr(sc::Column::NextRunAt, Expr::value(chrono::Utc::now() - chrono::Duration::hours(1)))
            .filter(sc::Column::Id.eq(id.as_str()))
            .exec(store.connection())
            .await
            .unwrap();
    }
    let engine = |store| {
        let key = weir_core::MasterKey::from_bytes(std::array::from_fn(|i| i as u8));
        let outbound = weir_engine::Outbound::new(weir_engine::OutboundPolicy::default()).unwrap();
        weir_engine::SyncEngine::new(store, key, outbound, weir_engine::SyncOptions::default())
    };
    let (a, b2) = (engine(app.store().await), engine(app.store().await));
    let (qa, qb) = tokio::join!(a.schedule_once(), b2.schedule_once());
    assert_eq!(qa.unwrap() + qb.unwrap(), 1, "two schedulers queue the due run once");
    // Let the run finish (the partner has no such path: it fails), then
    // look again: the 59 other missed slots do not queue anything.
    assert_eq!(a.run_pending_once().await.unwrap(), 1);
    assert_eq!(a.schedule_once().await.unwrap(), 0, "missed slots collapse into that one run");
    let (_, l) = app.call(Method::GET, &format!("{RUNS}?sync_configuration_id={id}"), Some(&t.viewer), None).await;
    assert_eq!((l["meta"]["total"].as_u64(), l["data"][0]["trigger"].as_str()), (Some(1), Some("schedule")));
    assert_eq!(l["data"][0]["status"], "failed");
    let (_, shown) = app.call(Method::GET, &format!("{SYNCS}/{id}"), Some(&t.viewer), None).await;
    let next: chrono::DateTime<chrono::Utc> = shown["data"]["next_run_at"].as_str().unwrap().parse().unwrap();
    assert!(next > chrono::Utc::now() && next <= chrono::Utc::now() + chrono::Duration::minutes(1));
    // Status: the finished run, nothing pending, the next time.
    let status = format!("/api/v1/integration/sync-status?sync_configuration_id={id}");
    let (s, st) = app.call(Method::GET, &status, Some(&t.viewer), None).await;
    assert_eq!(s, StatusCode::OK, "{st}");
    assert_eq!(
        (st["data"]["pending_jobs"].as_u64(), st["data"]["last_sync"]["status"].as_str()),
        (Some(0), Some("failed"))
    );
    assert!(st["data"]["next_scheduled_at"].is_string());
    // A queued run (this server runs none) shows as pending, and cancels at once.
    let (s, r) = app.call(Method::POST, &format!("{SYNCS}/{id}/execute"), Some(&t.operator), None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let run = r["data"]["sync_history_id"].as_str().unwrap().to_owned();
    assert_eq!(app.call(Method::GET, &status, Some(&t.viewer), None).await.1["data"]["pending_jobs"], 1);
    let (s, c) = app.call(Method::POST, &format!("{RUNS}/{run}/cancel"), Some(&t.operator), None).await;
    assert_eq!((s, c["data"]["status"].as_str()), (StatusCode::ACCEPTED, Some("cancelled")), "{c}");
    assert_eq!(a.run_pending_once().await.unwrap(), 0, "a cancelled run is not run");
    store.close().await;
    app.stop().await;
}

async fn runs_stay_in_their_tenant(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, settings()).await else { return };
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"email": "bad"}])))
        .mount(&api)
        .await;
    let a = tenant(&app, "tenant-a").await;
    let c = connector(&app, &a, "crm", &api.uri()).await;
    let cfg = pull(&app, &a, &c, "pull", json!({"path": "/x"})).await;
    let run = execute(&app, &a.operator, &cfg).await;
    assert_eq!(finished(&app, &a.viewer, &run).await["status"], "partial");
    let bt = tenant(&app, "tenant-b").await;
    for (m, p) in [
        (Method::GET, format!("{RUNS}/{run}")),
        (Method::GET, format!("{RUNS}/{run}/errors")),
        (Method::GET, format!("{RUNS}/{run}/export?format=json")),
        (Method::POST, format!("{RUNS}/{run}/cancel")),
        (Method::POST, format!("{SYNCS}/{cfg}/execute")),
        (Method::GET, format!("/api/v1/integration/sync-status?sync_configuration_id={cfg}")),
        (Method::GET, format!("/api/v1/integration/sync-status?connector_id={c}")),
    ] {
        assert_problem(app.req(m, &p, Some(&bt.admin)), StatusCode::NOT_FOUND).await;
    }
    let (_, l) = app.call(Method::GET, RUNS, Some(&bt.admin), None).await;
    assert_eq!(l["meta"]["total"], 0);
    // Bad input is 422, not 500.
    for q in ["status=bogus", "connector_id=nope", "from=soon", "from=2026-02-01&to=2026-01-01"] {
        assert_problem(app.req(Method::GET, &format!("{RUNS}?{q}"), Some(&a.viewer)), StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    }
    assert_problem(
        app.req(Method::GET, "/api/v1/integration/sync-status", Some(&a.viewer)),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Viewers cannot run syncs.
    assert_problem(app.req(Method::POST, &format!("{SYNCS}/{cfg}/execute"), Some(&a.viewer)), StatusCode::FORBIDDEN)
        .await;
    app.stop().await;
}

/// A cancel (or shutdown) does not wait for every retry of a failing page:
/// the backoff waits notice it within a progress interval.
async fn cancel_interrupts_retry_waits(b: Backend) {
    let settings = Settings { sync_retry_backoff: Some("5s,5s".into()), ..settings() };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let api = MockServer::start().await;
    Mock::given(method("GET")).and(path("/down")).respond_with(ResponseTemplate::new(502)).mount(&api).await;
    let t = tenant(&app, "acme").await;
    let c = connector(&app, &t, "crm", &api.uri()).await;
    let cfg = pull(&app, &t, &c, "down", json!({"path": "/down"})).await;
    let run = execute(&app, &t.operator, &cfg).await;
    // Wait for the first attempt (the run is now in its 5 s backoff).
    for _ in 0..200 {
        if !api.received_requests().await.unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(api.received_requests().await.unwrap().len(), 1);
    let asked = std::time::Instant::now();
    let (s, _) = app.call(Method::POST, &format!("{RUNS}/{run}/cancel"), Some(&t.operator), None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let h = finished(&app, &t.viewer, &run).await;
    assert_eq!(h["status"], "cancelled", "{h}");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "cancelled during the backoff, not after it: {:?}",
        asked.elapsed()
    );
    assert_eq!(api.received_requests().await.unwrap().len(), 1, "no retry after the cancel");
}
