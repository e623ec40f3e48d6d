//! Processing end to end (TEST-003, TEST-010): a signed webhook through the
//! real server, the worker pool, the mapping and the records store — create,
//! update, no-op, ignored, mapping failure, ordering; HTTP destinations with
//! retries (wiremock); leases taken over and two pools with no double
//! effect; replay single and bulk; sync configuration validation; every
//! endpoint here across tenants.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir::config::Settings;
use weir_core::webhook::sign::sign_headers;
use weir_core::webhook::{ReceiverAuth, key_material};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem};

backend_tests!(
    webhook_to_record_end_to_end,
    older_events_never_overwrite_newer_records,
    destination_retries_then_succeeds,
    destination_failures_fail_after_budget_or_at_once,
    leases_expire_and_two_pools_never_double_process,
    one_key_from_two_pools_keeps_the_newest,
    deliveries_longer_than_the_lease_keep_it,
    shutdown_finishes_the_batch_in_flight,
    replay_single_and_bulk,
    sync_configurations_validate_and_stay_in_their_tenant,
);

const CONNECTORS: &str = "/api/v1/integration/connectors";
const SYNCS: &str = "/api/v1/integration/sync-configurations";
const EVENTS: &str = "/api/v1/integration/webhook-events";
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Fast retries and polling, a known master key.
fn fast() -> Settings {
    Settings {
        retry_backoff: Some("40ms,40ms".into()),
        worker_poll_ms: Some("20".into()),
        master_key: Some(MASTER_KEY.into()),
        ..Settings::default()
    }
}

struct Pipeline {
    admin: String,
    operator: String,
    viewer: String,
    connector_id: String,
    mapping_id: String,
    receiver: Value,
    secret: String,
}

/// A tenant with a webhook connector, a Standard Webhooks receiver for any
/// event type, and a `customer` mapping: `data.id` → `external_id`
/// (required), `data.email` → `email` (trimmed, lower-cased),
/// `data.updated_at` → `updated_at`.
async fn pipeline(app: &TestApp, slug: &str) -> Pipeline {
    let t = app.tenant(slug).await;
    let (_, admin) = app.token(&t, "admin").await;
    let (_, operator) = app.token(&t, "operator").await;
    let (_, viewer) = app.token(&t, "viewer").await;
    let (s, c) = app
        .call(
            Method::POST,
            CONNECTORS,
            Some(&admin),
            Some(json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let connector_id = c["data"]["id"].as_str().unwrap().to_owned();
    let (s, r) = app
        .call(
            Method::POST,
            &format!("{CONNECTORS}/{connector_id}/webhook-receivers"),
            Some(&admin),
            Some(json!({"event_type": "*", "auth": {"method": "standard_webhooks"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, m) = app
        .call(
            Method::POST,
            "/api/v1/integration/field-mappings",
            Some(&admin),
            Some(json!({
                "name": "customers", "entity_type": "customer", "key": "external_id",
                "rules": [
                    {"source": "data.id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]},
                    {"source": "data.email", "target": "email", "transforms": [{"op": "trim"}, {"op": "lowercase"}]},
                    {"source": "data.updated_at", "target": "updated_at"}
                ]
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    Pipeline {
        admin,
        operator,
        viewer,
        connector_id,
        mapping_id: m["data"]["id"].as_str().unwrap().to_owned(),
        secret: r["data"]["secret"].as_str().unwrap().to_owned(),
        receiver: r["data"].clone(),
    }
}

/// Creates a webhook sync configuration for `customer.*` events; `extra`
/// fields are merged in.
async fn route(app: &TestApp, p: &Pipeline, extra: Value) -> Value {
    let mut body = json!({
        "connector_id": p.connector_id, "name": "customers in", "direction": "inbound",
        "entity_type": "customer", "field_mapping_id": p.mapping_id, "trigger": "webhook",
        "event_types": ["customer.created", "customer.updated"],
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let (s, c) = app.call(Method::POST, SYNCS, Some(&p.admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["data"].clone()
}

/// Sends a signed event; answers its id.
async fn send_event(app: &TestApp, p: &Pipeline, id: &str, event_type: &str, data: Value) -> String {
    let body = serde_json::to_vec(&json!({"type": event_type, "data": data})).unwrap();
    let auth = ReceiverAuth::parse(&p.receiver["auth"]).unwrap();
    let key = key_material(auth.method(), &p.secret).unwrap();
    let mut req = app
        .client
        .post(app.url(p.receiver["receiver_url"].as_str().unwrap()))
        .header("content-type", "application/json");
    for (k, v) in sign_headers(&auth, &key, id, chrono::Utc::now().timestamp(), &body) {
        req = req.header(k, v);
    }
    let (s, r) = crate::helpers::send(req.body(body)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    r["data"]["event_id"].as_str().unwrap().to_owned()
}

/// Polls an event until it is `completed` or `failed` (bounded: 20 s).
async fn finished(app: &TestApp, token: &str, id: &str) -> Value {
    for _ in 0..400 {
        let (s, e) = app.call(Method::GET, &format!("{EVENTS}/{id}"), Some(token), None).await;
        assert_eq!(s, StatusCode::OK, "{e}");
        if matches!(e["data"]["processing_status"].as_str(), Some("completed" | "failed")) {
            return e["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("event {id} never finished");
}

async fn record(app: &TestApp, token: &str, id: &str) -> (StatusCode, Value) {
    app.call(Method::GET, &format!("/api/v1/integration/records/customer/{id}"), Some(token), None).await
}

async fn audit_actions(app: &TestApp, token: &str) -> Vec<String> {
    let store = app.store().await;
    let p = store.authenticate(token).await.unwrap().unwrap();
    let a = store.list_audit(&p.scope, weir_core::PageRequest::parse(Some(1), Some(100)).unwrap()).await.unwrap();
    assert_eq!(
        store.verify_audit_chain(&p.scope, None).await.unwrap().outcome(),
        Ok(a.total),
        "the audit chain verifies"
    );
    store.close().await;
    a.items.into_iter().map(|r| r.action).collect()
}

async fn webhook_to_record_end_to_end(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, fast()).await else { return };
    let p = pipeline(&app, "acme").await;
    route(&app, &p, json!({})).await;

    // Created: version 1, mapped.
    let e1 = send_event(&app, &p, "msg_1", "customer.created", json!({"id": 42, "email": " Ann@X.com "})).await;
    let ev = finished(&app, &p.viewer, &e1).await;
    assert_eq!(ev["processing_status"], "completed", "{ev}");
    assert_eq!((ev["attempts"].as_i64(), ev["result"]["records"][0]["action"].as_str()), (Some(1), Some("created")));
    assert_eq!(ev["attempt_log"].as_array().map(Vec::len), Some(1), "{ev}");
    let (s, r) = record(&app, &p.viewer, "42").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["data"]["data"], json!({"external_id": "42", "email": "ann@x.com"}));
    assert_eq!(r["data"]["version"], 1);

    // The same record data again (different spelling, same mapping): no-op.
    let e2 = send_event(&app, &p, "msg_2", "customer.updated", json!({"id": "42", "email": "ANN@x.com"})).await;
    let ev = finished(&app, &p.viewer, &e2).await;
    assert_eq!(ev["result"]["records"][0]["action"], "unchanged", "{ev}");
    assert_eq!(record(&app, &p.viewer, "42").await.1["data"]["version"], 1);

    // New data: version 2.
    let e3 = send_event(&app, &p, "msg_3", "customer.updated", json!({"id": 42, "email": "ann@y.com"})).await;
    let ev = finished(&app, &p.viewer, &e3).await;
    assert_eq!(ev["result"]["records"][0]["action"], "updated", "{ev}");
    let r = record(&app, &p.viewer, "42").await.1;
    assert_eq!((r["data"]["version"].as_i64(), r["data"]["data"]["email"].as_str()), (Some(2), Some("ann@y.com")));

    // No configuration takes the type: completed, ignored, with the reason.
    let e4 = send_event(&app, &p, "msg_4", "order.created", json!({"id": 7})).await;
    let ev = finished(&app, &p.viewer, &e4).await;
    assert_eq!(
        (ev["processing_status"].as_str(), ev["result"]["action"].as_str()),
        (Some("completed"), Some("ignored"))
    );
    assert!(ev["result"]["reason"].as_str().unwrap().contains("order.created"), "{ev}");

    // A mapping error is permanent: failed on the first attempt, naming the target.
    let e5 = send_event(&app, &p, "msg_5", "customer.created", json!({"email": "no-id@x.com"})).await;
    let ev = finished(&app, &p.viewer, &e5).await;
    assert_eq!(ev["processing_status"], "failed", "{ev}");
    assert_eq!((ev["attempts"].as_i64(), ev["error_type"].as_str()), (Some(1), Some("mapping_error")));
    assert!(ev["error_message"].as_str().unwrap().contains("external_id"), "{ev}");
    assert_eq!(ev["result"]["errors"][0]["target"], "external_id", "{ev}");

    // Exactly the records the events describe; every effect audited.
    let (_, list) =
        app.call(Method::GET, "/api/v1/integration/records?entity_type=customer", Some(&p.viewer), None).await;
    assert_eq!(list["meta"]["total"], 1, "{list}");
    let actions = audit_actions(&app, &p.admin).await;
    for a in ["record.created", "record.updated", "webhook_event.ignored", "webhook_event.failed"] {
        assert_eq!(actions.iter().filter(|x| *x == a).count(), 1, "{a} in {actions:?}");
    }
    // The event list shows statuses without payloads or attempt logs.
    let (_, list) = app.call(Method::GET, &format!("{EVENTS}?status=failed"), Some(&p.viewer), None).await;
    assert_eq!(list["meta"]["total"], 1);
    assert!(list["data"][0].get("payload").is_none() && list["data"][0].get("attempt_log").is_none());
    app.stop().await;
}

async fn older_events_never_overwrite_newer_records(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, fast()).await else { return };
    let p = pipeline(&app, "acme").await;
    route(&app, &p, json!({"ordering_field": "updated_at"})).await;
    let newer = json!({"id": 1, "email": "new@x.com", "updated_at": "2026-03-01T10:00:00Z"});
    let older = json!({"id": 1, "email": "old@x.com", "updated_at": "2026-03-01T09:00:00+00:00"});
    let e1 = send_event(&app, &p, "msg_new", "customer.updated", newer).await;
    finished(&app, &p.viewer, &e1).await;
    let e2 = send_event(&app, &p, "msg_old", "customer.updated", older).await;
    let ev = finished(&app, &p.viewer, &e2).await;
    assert_eq!(ev["processing_status"], "completed");
    assert_eq!(ev["result"]["records"][0]["action"], "ignored_stale", "{ev}");
    let r = record(&app, &p.viewer, "1").await.1;
    assert_eq!((r["data"]["data"]["email"].as_str(), r["data"]["version"].as_i64()), (Some("new@x.com"), Some(1)));
    assert!(audit_actions(&app, &p.admin).await.contains(&"record.ignored".to_owned()));
    app.stop().await;
}

/// Checks a delivered request's Standard Webhooks signature with `secret`.
fn assert_signed(req: &wiremock::Request, secret: &str) {
    let h = |n: &str| req.headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (id, ts) = (h("webhook-id"), h("webhook-timestamp"));
    assert!(id.starts_with("msg_"), "{id}");
    let auth = ReceiverAuth::StandardWebhooks { public_key: None };
    let key = key_material(weir_core::webhook::ReceiverMethod::StandardWebhooks, secret).unwrap();
    let expected = sign_headers(&auth, &key, &id, ts.parse().unwrap(), &req.body);
    let sig = expected.iter().find(|(k, _)| k == "webhook-signature").unwrap();
    assert_eq!(h("webhook-signature"), sig.1, "signature verifies with the configuration's secret");
}

async fn destination_retries_then_succeeds(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, fast()).await else { return };
    let erp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/erp/customers"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&erp)
        .await;
    Mock::given(method("POST")).and(path("/erp/customers")).respond_with(ResponseTemplate::new(204)).mount(&erp).await;
    let p = pipeline(&app, "acme").await;
    let c =
        route(&app, &p, json!({"destination": {"url": format!("{}/erp/customers", erp.uri()), "timeout_ms": 2000}}))
            .await;
    let secret = c["destination_secret"].as_str().expect("secret shown on create").to_owned();
    assert!(secret.starts_with("whsec_"));
    let (_, shown) =
        app.call(Method::GET, &format!("{SYNCS}/{}", c["id"].as_str().unwrap()), Some(&p.viewer), None).await;
    assert!(shown["data"].get("destination_secret").is_none(), "{shown}");
    assert_eq!(shown["data"]["destination"]["has_secret"], true);

    let id = send_event(&app, &p, "msg_r", "customer.created", json!({"id": 5, "email": "r@x.com"})).await;
    let ev = finished(&app, &p.viewer, &id).await;
    assert_eq!((ev["processing_status"].as_str(), ev["attempts"].as_i64()), (Some("completed"), Some(3)), "{ev}");
    let outcomes: Vec<&str> =
        ev["attempt_log"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["retry", "retry", "completed"]);
    assert_eq!(ev["attempt_log"][0]["error_type"], "destination_error");
    assert_eq!(ev["result"]["deliveries"][0]["outcome"], "delivered");
    let requests = erp.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_signed(r, &secret);
    }
    let body: Value = serde_json::from_slice(&requests[2].body).unwrap();
    assert_eq!(body["data"]["record"], json!({"external_id": "5", "email": "r@x.com"}));
    // The record was written once despite three attempts.
    assert_eq!(record(&app, &p.viewer, "5").await.1["data"]["version"], 1);
    let actions = audit_actions(&app, &p.admin).await;
    assert_eq!(actions.iter().filter(|a| *a == "destination.failed").count(), 2, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "destination.delivered").count(), 1, "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "record.created").count(), 1, "{actions:?}");
    app.stop().await;
}

async fn destination_failures_fail_after_budget_or_at_once(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, fast()).await else { return };
    let erp = MockServer::start().await;
    Mock::given(method("POST")).and(path("/down")).respond_with(ResponseTemplate::new(500)).mount(&erp).await;
    Mock::given(method("POST")).and(path("/refuses")).respond_with(ResponseTemplate::new(422)).mount(&erp).await;
    let p = pipeline(&app, "acme").await;
    let c = route(&app, &p, json!({"destination": {"url": format!("{}/down", erp.uri())}})).await;
    let id = send_event(&app, &p, "msg_down", "customer.created", json!({"id": 1})).await;
    let ev = finished(&app, &p.viewer, &id).await;
    assert_eq!((ev["processing_status"].as_str(), ev["attempts"].as_i64()), (Some("failed"), Some(3)), "{ev}");
    assert_eq!(ev["error_type"], "destination_error");
    assert!(ev["error_message"].as_str().unwrap().contains("500"), "{ev}");

    let cid = c["id"].as_str().unwrap();
    let (s, _) = app
        .call(
            Method::PATCH,
            &format!("{SYNCS}/{cid}"),
            Some(&p.admin),
            Some(json!({"destination": {"url": format!("{}/refuses", erp.uri())}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let id = send_event(&app, &p, "msg_refused", "customer.created", json!({"id": 2})).await;
    let ev = finished(&app, &p.viewer, &id).await;
    assert_eq!((ev["processing_status"].as_str(), ev["attempts"].as_i64()), (Some("failed"), Some(1)), "{ev}");
    assert!(ev["error_message"].as_str().unwrap().contains("422"), "{ev}");
    // 3 to /down, 1 to /refuses.
    assert_eq!(erp.received_requests().await.unwrap().len(), 4);
    app.stop().await;
}

async fn leases_expire_and_two_pools_never_double_process(b: Backend) {
    let settings = Settings { workers: Some("0".into()), ..fast() };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let p = pipeline(&app, "acme").await;
    route(&app, &p, json!({})).await;
    let first = send_event(&app, &p, "msg_l", "customer.created", json!({"id": 1, "email": "l@x.com"})).await;

    // A worker claims the event and vanishes; its lease runs out.
    let store = app.store().await;
    let gone = store.claim_events("vanished", 10, Duration::from_millis(50)).await.unwrap();
    assert_eq!(gone.len(), 1);
    assert!(store.claim_events("other", 10, Duration::from_secs(60)).await.unwrap().is_empty(), "leased");
    tokio::time::sleep(Duration::from_millis(120)).await;

    // Two pools on the same database take over and drain 60 more events.
    for i in 0..60 {
        send_event(&app, &p, &format!("msg_{i}"), "customer.created", json!({"id": 100 + i, "email": "x@x.com"})).await;
    }
    let (a, b2) = (pool(&app, 8).await, pool(&app, 8).await);
    let (ra, rb) = tokio::join!(a.run_pending_once(), b2.run_pending_once());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.completed + rb.completed, 61, "{ra:?} {rb:?}");

    // The vanished worker's late finish changes nothing: it lost the lease.
    let work = weir_store::EventWork {
        event: &gone[0],
        records: Vec::new(),
        finish: Some(weir_store::Finish::Failed {
            error_type: weir_core::EventErrorType::Database,
            error_message: "late".into(),
            result: None,
        }),
        started_at: chrono::Utc::now(),
        audits: Vec::new(),
    };
    store.process_events("vanished", vec![work]).await.unwrap();
    let ev = finished(&app, &p.viewer, &first).await;
    assert_eq!((ev["processing_status"].as_str(), ev["attempts"].as_i64()), (Some("completed"), Some(2)), "{ev}");

    // Every event once: 61 records, each created once and never updated.
    let (_, list) =
        app.call(Method::GET, "/api/v1/integration/records?entity_type=customer", Some(&p.viewer), None).await;
    assert_eq!(list["meta"]["total"], 61);
    let scope = store.authenticate(&p.admin).await.unwrap().unwrap().scope;
    let audit = store.list_audit(&scope, weir_core::PageRequest::parse(Some(1), Some(100)).unwrap()).await.unwrap();
    let created = audit.items.iter().filter(|r| r.action == "record.created").count();
    let updated = audit.items.iter().filter(|r| r.action == "record.updated").count();
    assert_eq!((created, updated), (61, 0));
    let (_, done) = app.call(Method::GET, &format!("{EVENTS}?status=completed"), Some(&p.viewer), None).await;
    assert_eq!(done["meta"]["total"], 61);

    // Release returns claims without burning an attempt.
    let id = send_event(&app, &p, "msg_rel", "customer.created", json!({"id": 999})).await;
    let held = store.claim_events("stopping", 10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(store.release_claims("stopping").await.unwrap(), 1);
    let (_, ev) = app.call(Method::GET, &format!("{EVENTS}/{id}"), Some(&p.viewer), None).await;
    assert_eq!((ev["data"]["processing_status"].as_str(), ev["data"]["attempts"].as_i64()), (Some("pending"), Some(0)));

    // A claimed event cannot be replayed (409); a pending one can.
    let held = store.claim_events("busy", 10, Duration::from_secs(60)).await.unwrap();
    assert_eq!(held.len(), 1);
    let replay = format!("{EVENTS}/{id}/replay");
    assert_problem(app.req(Method::POST, &replay, Some(&p.operator)), StatusCode::CONFLICT).await;
    store.release_claims("busy").await.unwrap();
    assert_eq!(app.call(Method::POST, &replay, Some(&p.operator), None).await.0, StatusCode::ACCEPTED);

    // An event whose every attempt loses its worker fails instead of looping.
    for attempt in 1..=3 {
        let got = store.claim_events("crashing", 10, Duration::from_millis(20)).await.unwrap();
        assert_eq!((got.len(), got[0].attempts), (1, attempt));
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let r = a.run_pending_once().await.unwrap();
    assert_eq!((r.claimed, r.failed), (1, 1), "{r:?}");
    let ev = finished(&app, &p.viewer, &id).await;
    assert_eq!((ev["processing_status"].as_str(), ev["error_type"].as_str()), (Some("failed"), Some("worker_lost")));
    store.close().await;
    app.stop().await;
}

/// A pool over a second connection to the test database, with the test
/// master key.
async fn pool(app: &TestApp, batch_size: u64) -> weir_engine::Processor {
    let key = weir_core::MasterKey::from_bytes(std::array::from_fn(|i| i as u8));
    let outbound = weir_engine::Outbound::new(weir_engine::OutboundPolicy::default()).unwrap();
    let opts = weir_engine::ProcessorOptions { batch_size, ..weir_engine::ProcessorOptions::default() };
    weir_engine::Processor::new(app.store().await, key, outbound, opts, Default::default())
}

async fn one_key_from_two_pools_keeps_the_newest(b: Backend) {
    let settings = Settings { workers: Some("0".into()), ..fast() };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let p = pipeline(&app, "acme").await;
    route(&app, &p, json!({})).await;
    let mut ids = Vec::new();
    for i in 0..40 {
        let email = format!("v{i}@x.com");
        ids.push(send_event(&app, &p, &format!("msg_{i}"), "customer.updated", json!({"id": 1, "email": email})).await);
    }
    let (a, b2) = (pool(&app, 4).await, pool(&app, 4).await);
    let (ra, rb) = tokio::join!(a.run_pending_once(), b2.run_pending_once());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!((ra.completed + rb.completed, ra.retried + rb.retried), (40, 0), "{ra:?} {rb:?}");
    // Whatever the interleaving, the newest event's data wins, and every
    // version is accounted for by exactly one audited write.
    let r = record(&app, &p.viewer, "1").await.1;
    assert_eq!(r["data"]["data"]["email"], "v39@x.com", "{r}");
    let actions = audit_actions(&app, &p.admin).await;
    let writes = actions.iter().filter(|a| *a == "record.created" || *a == "record.updated").count() as i64;
    assert_eq!(r["data"]["version"].as_i64(), Some(writes), "{actions:?}");
    // Replaying an old event does not roll the record back.
    let (s, _) = app.call(Method::POST, &format!("{EVENTS}/{}/replay", ids[0]), Some(&p.operator), None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    a.run_pending_once().await.unwrap();
    let ev = finished(&app, &p.viewer, &ids[0]).await;
    assert_eq!(ev["result"]["records"][0]["action"], "ignored_stale", "{ev}");
    assert_eq!(record(&app, &p.viewer, "1").await.1["data"]["data"]["email"], "v39@x.com");
    app.stop().await;
}

async fn deliveries_longer_than_the_lease_keep_it(b: Backend) {
    let settings = Settings { lease_secs: Some("1".into()), ..fast() };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let erp = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(2500)))
        .mount(&erp)
        .await;
    let p = pipeline(&app, "acme").await;
    route(&app, &p, json!({"destination": {"url": format!("{}/slow", erp.uri()), "timeout_ms": 5000}})).await;
    let id = send_event(&app, &p, "msg_slow", "customer.created", json!({"id": 1})).await;
    let ev = finished(&app, &p.viewer, &id).await;
    // The lease was renewed while the delivery ran: no second worker took
    // the event over, so one attempt and one delivery.
    assert_eq!((ev["processing_status"].as_str(), ev["attempts"].as_i64()), (Some("completed"), Some(1)), "{ev}");
    assert_eq!(erp.received_requests().await.unwrap().len(), 1);
    app.stop().await;
}

async fn shutdown_finishes_the_batch_in_flight(b: Backend) {
    let Some(mut app) = TestApp::spawn_with(b, fast()).await else { return };
    let erp = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(1500)))
        .mount(&erp)
        .await;
    let p = pipeline(&app, "acme").await;
    route(&app, &p, json!({"destination": {"url": format!("{}/slow", erp.uri())}})).await;
    let id = send_event(&app, &p, "msg_stop", "customer.created", json!({"id": 1})).await;
    // Wait until a worker holds it (its delivery is under way), then stop.
    for _ in 0..100 {
        let (_, e) = app.call(Method::GET, &format!("{EVENTS}/{id}"), Some(&p.viewer), None).await;
        if e["data"]["processing_status"] == "processing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let store = app.store().await;
    let scope = store.authenticate(&p.viewer).await.unwrap().unwrap().scope;
    app.shut_down().await;
    // The worker finished its batch before the process ended: nothing is
    // left claimed for a lease to expire.
    let ev = store.get_event(&scope, &id).await.unwrap();
    assert_eq!((ev.processing_status.as_str(), ev.attempts), ("completed", 1), "{ev:?}");
    assert_eq!(erp.received_requests().await.unwrap().len(), 1);
    store.close().await;
}

async fn replay_single_and_bulk(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, fast()).await else { return };
    let erp = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(400)).mount(&erp).await;
    let p = pipeline(&app, "acme").await;
    route(&app, &p, json!({"destination": {"url": format!("{}/erp", erp.uri())}})).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = send_event(&app, &p, &format!("msg_{i}"), "customer.created", json!({"id": i})).await;
        assert_eq!(finished(&app, &p.viewer, &id).await["processing_status"], "failed");
        ids.push(id);
    }
    // The destination is fixed; replay one, then the rest in bulk.
    erp.reset().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&erp).await;
    let one = format!("{EVENTS}/{}/replay", ids[0]);
    assert_problem(app.req(Method::POST, &one, Some(&p.viewer)), StatusCode::FORBIDDEN).await;
    let (s, r) = app.call(Method::POST, &one, Some(&p.operator), None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["data"]["status"], "pending");
    let ev = finished(&app, &p.viewer, &ids[0]).await;
    assert_eq!((ev["processing_status"].as_str(), ev["attempts"].as_i64()), (Some("completed"), Some(1)), "{ev}");
    assert_eq!(ev["attempt_log"].as_array().unwrap().len(), 2, "history kept: {ev}");

    let bulk = format!("{EVENTS}/replay");
    let (s, r) = app
        .call(Method::POST, &bulk, Some(&p.operator), Some(json!({"status": "failed", "connector_id": p.connector_id})))
        .await;
    assert_eq!((s, r["data"]["replayed"].as_u64()), (StatusCode::ACCEPTED, Some(2)), "{r}");
    for id in &ids[1..] {
        assert_eq!(finished(&app, &p.viewer, id).await["processing_status"], "completed");
    }
    // Nothing failed is left; an empty body means "failed".
    let (s, r) = app.call(Method::POST, &bulk, Some(&p.operator), None).await;
    assert_eq!((s, r["data"]["replayed"].as_u64()), (StatusCode::ACCEPTED, Some(0)));
    let bad = app.req(Method::POST, &bulk, Some(&p.operator)).json(&json!({"status": "pending"}));
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
    let bad = app.req(Method::POST, &bulk, Some(&p.operator)).json(&json!({"bogus": 1}));
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
    // Replays are audited.
    let actions = audit_actions(&app, &p.admin).await;
    assert!(
        actions.contains(&"webhook_event.replayed".to_owned())
            && actions.contains(&"webhook_event.bulk_replayed".to_owned())
    );

    // Another tenant sees none of it.
    let other = pipeline(&app, "other").await;
    assert_problem(app.req(Method::POST, &one, Some(&other.admin)), StatusCode::NOT_FOUND).await;
    let (_, r) = app.call(Method::POST, &bulk, Some(&other.admin), Some(json!({"status": "completed"}))).await;
    assert_eq!(r["data"]["replayed"], 0);
    assert_problem(app.req(Method::GET, &format!("{EVENTS}/{}", ids[0]), Some(&other.admin)), StatusCode::NOT_FOUND)
        .await;
    app.stop().await;
}

async fn sync_configurations_validate_and_stay_in_their_tenant(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, fast()).await else { return };
    let p = pipeline(&app, "acme").await;
    let create = |body: Value| app.req(Method::POST, SYNCS, Some(&p.admin)).json(&body);
    let base = json!({
        "connector_id": p.connector_id, "name": "in", "direction": "inbound", "entity_type": "customer",
        "field_mapping_id": p.mapping_id, "trigger": "webhook", "event_types": ["a"],
    });
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("direction", json!("outbound")), "trigger"),
        (with("event_types", json!([])), "event_types"),
        (with("schedule", json!("*/5 * * * *")), "schedule"),
        (with("trigger", json!("schedule")), "connector_id"),
        (with("entity_type", json!("order")), "field_mapping_id"),
        (with("ordering_field", json!("nope")), "ordering_field"),
        (with("connector_id", json!("not-an-id")), "connector_id"),
        (with("destination", json!({"url": "ftp://x"})), "destination.url"),
        (with("destination", json!({"url": "http://127.0.0.1:9/x", "secret": "short"})), "destination.secret"),
    ] {
        let problem = assert_problem(create(body.clone()), StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(problem["errors"][field].is_array(), "{field}: {problem} for {body}");
    }
    assert_problem(create(with("direction", json!("sideways"))), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_problem(app.req(Method::POST, SYNCS, Some(&p.operator)).json(&base), StatusCode::FORBIDDEN).await;

    // A scheduled pull from an http connector gets its next run time.
    let (_, http) = app
        .call(
            Method::POST,
            CONNECTORS,
            Some(&p.admin),
            Some(json!({"code": "crm", "name": "CRM", "type": "http", "environment": "development",
                "config": {"base_url": "http://127.0.0.1:9"}})),
        )
        .await;
    let pull = json!({
        "connector_id": http["data"]["id"], "name": "pull", "direction": "inbound", "entity_type": "customer",
        "field_mapping_id": p.mapping_id, "trigger": "schedule", "schedule": "*/15 * * * *",
        "source": {"path": "/customers", "records_path": "data", "pagination": {"type": "page", "next_path": "next_page"}},
    });
    let (s, c) = app.call(Method::POST, SYNCS, Some(&p.admin), Some(pull)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let next: chrono::DateTime<chrono::Utc> = c["data"]["next_run_at"].as_str().unwrap().parse().unwrap();
    assert!(next > chrono::Utc::now() && next <= chrono::Utc::now() + chrono::Duration::minutes(15));
    assert_eq!(c["data"]["last_run"], Value::Null);
    let id = c["data"]["id"].as_str().unwrap().to_owned();
    let bad = app.req(Method::PATCH, &format!("{SYNCS}/{id}"), Some(&p.admin)).json(&json!({"schedule": "nope"}));
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
    let (s, c) =
        app.call(Method::PATCH, &format!("{SYNCS}/{id}"), Some(&p.admin), Some(json!({"name": "renamed"}))).await;
    assert_eq!((s, c["data"]["name"].as_str()), (StatusCode::OK, Some("renamed")), "{c}");
    assert_eq!(c["data"]["schedule"], "*/15 * * * *");
    // The mapping is in use now.
    let fm = format!("/api/v1/integration/field-mappings/{}", p.mapping_id);
    assert_problem(app.req(Method::DELETE, &fm, Some(&p.admin)), StatusCode::CONFLICT).await;

    // Another tenant: 404 on every id, and no links to this tenant's objects.
    let other = pipeline(&app, "other").await;
    for m in [Method::GET, Method::PATCH, Method::DELETE] {
        let r = app.req(m.clone(), &format!("{SYNCS}/{id}"), Some(&other.admin)).json(&json!({"name": "x"}));
        assert_problem(r, StatusCode::NOT_FOUND).await;
    }
    let (_, list) = app.call(Method::GET, SYNCS, Some(&other.admin), None).await;
    assert_eq!(list["meta"]["total"], 0);
    let steal = json!({
        "connector_id": p.connector_id, "name": "x", "direction": "inbound", "entity_type": "customer",
        "field_mapping_id": p.mapping_id, "trigger": "webhook", "event_types": ["*"],
    });
    let problem =
        assert_problem(app.req(Method::POST, SYNCS, Some(&other.admin)).json(&steal), StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert!(problem["errors"]["connector_id"].is_array() && problem["errors"]["field_mapping_id"].is_array());

    // Delete: gone from show and list; audited.
    let (s, _) = app.call(Method::DELETE, &format!("{SYNCS}/{id}"), Some(&p.admin), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_problem(app.req(Method::GET, &format!("{SYNCS}/{id}"), Some(&p.viewer)), StatusCode::NOT_FOUND).await;
    let (_, list) = app.call(Method::GET, &format!("{SYNCS}?trigger=schedule"), Some(&p.viewer), None).await;
    assert_eq!(list["meta"]["total"], 0);
    let actions = audit_actions(&app, &p.admin).await;
    for a in ["sync_configuration.created", "sync_configuration.updated", "sync_configuration.deleted"] {
        assert!(actions.contains(&a.to_owned()), "{a}");
    }
    app.stop().await;
}
