//! Webhook intake end to end: every verification method (valid, wrong
//! secret, tampered body, missing header, stale timestamp, rotation),
//! duplicates under concurrency, every bad-payload case, rate limits,
//! receivers and events APIs across tenants — and nothing stored for any
//! rejected request.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::webhook::sign::sign_headers;
use weir_core::webhook::{ReceiverAuth, key_material};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem};

backend_tests!(
    every_method_accepts_valid_and_refuses_forged,
    rotation_keeps_the_old_secret_during_grace,
    duplicates_store_one_event_even_concurrently,
    bad_payloads_are_refused_and_audited,
    costly_schema_checks_are_refused_and_healthz_stays_fast,
    rate_limit_answers_429,
    inactive_and_unknown_receivers,
    receivers_and_events_are_tenant_scoped,
);

const CONNECTORS: &str = "/api/v1/integration/connectors";

/// No workers: these tests look at events as intake stored them
/// (processing has its own suite).
fn intake_only() -> weir::config::Settings {
    weir::config::Settings { workers: Some("0".into()), ..weir::config::Settings::default() }
}

struct Fixture {
    admin: String,
    connector_id: String,
}

async fn fixture(app: &TestApp, slug: &str, connector: Value) -> Fixture {
    let t = app.tenant(slug).await;
    let (_, admin) = app.token(&t, "admin").await;
    let (s, c) = app.call(Method::POST, CONNECTORS, Some(&admin), Some(connector)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    Fixture { admin, connector_id: c["data"]["id"].as_str().unwrap().to_owned() }
}

fn shop() -> Value {
    json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"})
}

async fn receiver(app: &TestApp, f: &Fixture, body: Value) -> Value {
    let path = format!("{CONNECTORS}/{}/webhook-receivers", f.connector_id);
    let (s, r) = app.call(Method::POST, &path, Some(&f.admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    r["data"].clone()
}

/// Sends `body` to the receiver with `headers`.
async fn deliver(app: &TestApp, r: &Value, headers: &[(String, String)], body: &[u8]) -> (StatusCode, Value) {
    let mut req =
        app.client.post(app.url(r["receiver_url"].as_str().unwrap())).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    crate::helpers::send(req.body(body.to_vec())).await
}

fn signed(r: &Value, secret: &str, id: &str, ts: i64, body: &[u8]) -> Vec<(String, String)> {
    let auth = ReceiverAuth::parse(&r["auth"]).unwrap();
    let key = key_material(auth.method(), secret).unwrap();
    sign_headers(&auth, &key, id, ts, body)
}

async fn event_count(app: &TestApp, f: &Fixture) -> u64 {
    let (s, list) = app.call(Method::GET, "/api/v1/integration/webhook-events", Some(&f.admin), None).await;
    assert_eq!(s, StatusCode::OK);
    list["meta"]["total"].as_u64().unwrap()
}

async fn audit_actions(app: &TestApp, token: &str) -> Vec<weir_store::AuditRecord> {
    let store = app.store().await;
    let p = store.authenticate(token).await.unwrap().unwrap();
    let a = store.list_audit(&p.scope, weir_core::PageRequest::parse(Some(1), Some(100)).unwrap()).await.unwrap();
    assert_eq!(
        store.verify_audit_chain(&p.scope, None).await.unwrap().outcome(),
        Ok(a.total),
        "the audit chain verifies"
    );
    store.close().await;
    a.items
}

async fn every_method_accepts_valid_and_refuses_forged(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let f = fixture(&app, "acme", shop()).await;
    let now = chrono::Utc::now().timestamp();
    let methods = [
        json!({"method": "hmac_sha256", "header": "X-Signature", "prefix": "sha256="}),
        json!({"method": "hmac_sha256", "header": "X-Sig", "encoding": "base64", "timestamp_header": "X-Timestamp"}),
        json!({"method": "standard_webhooks"}),
        json!({"method": "github"}),
        json!({"method": "stripe"}),
        json!({"method": "shopify"}),
        json!({"method": "slack"}),
        json!({"method": "bearer"}),
        json!({"method": "api_key", "header": "X-Shop-Key"}),
    ];
    let mut stored = 0;
    for (i, auth) in methods.iter().enumerate() {
        let r = receiver(&app, &f, json!({"event_type": "order.created", "auth": auth})).await;
        let secret = r["secret"].as_str().expect("secret on create").to_owned();
        let parsed = ReceiverAuth::parse(&r["auth"]).unwrap();
        let body = format!(r#"{{"id": "evt_{i}", "order": {{"total": 42}}}}"#);
        let (s, ok) =
            deliver(&app, &r, &signed(&r, &secret, &format!("msg_{i}"), now, body.as_bytes()), body.as_bytes()).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{auth}: {ok}");
        assert_eq!((ok["data"]["status"].as_str(), ok["data"]["duplicate"].as_bool()), (Some("pending"), Some(false)));
        stored += 1;

        // Wrong secret.
        let forged =
            sign_headers(&parsed, b"an-entirely-different-key-0000", &format!("msg_w{i}"), now, body.as_bytes());
        let (s, p) = deliver(&app, &r, &forged, body.as_bytes()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{auth}: wrong secret {p}");
        assert!(!p.to_string().contains(&secret), "the detail never leaks the secret");
        // Tampered body (methods that sign it).
        if !matches!(parsed, ReceiverAuth::Bearer | ReceiverAuth::ApiKey { .. }) {
            let h = signed(&r, &secret, &format!("msg_t{i}"), now, body.as_bytes());
            let tampered = body.replace("42", "4200");
            let (s, p) = deliver(&app, &r, &h, tampered.as_bytes()).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{auth}: tampered {p}");
            assert!(p["detail"].as_str().unwrap().contains("signature"), "{p}");
        }
        // Missing header.
        let (s, p) = deliver(&app, &r, &[], body.as_bytes()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{auth}: no headers");
        assert!(p["detail"].as_str().unwrap().contains("missing"), "{p}");
        // Stale and future timestamps.
        if parsed.is_timestamped() {
            let (s, p) = deliver(
                &app,
                &r,
                &signed(&r, &secret, &format!("msg_s{i}"), now - 600, body.as_bytes()),
                body.as_bytes(),
            )
            .await;
            assert_eq!(s, StatusCode::UNAUTHORIZED);
            assert!(p["detail"].as_str().unwrap().contains("stale"), "{auth}: {p}");
            let (s, p) = deliver(
                &app,
                &r,
                &signed(&r, &secret, &format!("msg_f{i}"), now + 600, body.as_bytes()),
                body.as_bytes(),
            )
            .await;
            assert_eq!(s, StatusCode::UNAUTHORIZED);
            assert!(p["detail"].as_str().unwrap().contains("future"), "{auth}: {p}");
        }
        assert_eq!(event_count(&app, &f).await, stored, "{auth}: nothing stored for refusals");
    }
    // Every delivery, accepted or not, left an audit entry with its hash and size; no body.
    let audit = audit_actions(&app, &f.admin).await;
    let received = audit.iter().filter(|e| e.action == "webhook.received").count();
    let rejected: Vec<_> = audit.iter().filter(|e| e.action == "webhook.rejected").collect();
    assert_eq!(received, methods.len());
    assert!(rejected.len() >= methods.len() * 2);
    for e in &rejected {
        assert_eq!(e.details["status"], 401);
        assert!(
            e.details["error_type"].as_str().unwrap().starts_with("signature_")
                || e.details["error_type"] == "timestamp_stale"
        );
        assert!(e.details.get("payload").is_none() && !e.details.to_string().contains("order"), "no body in audit");
    }
    // The event is readable with its payload; the receiver saw it.
    let (_, list) = app
        .call(Method::GET, "/api/v1/integration/webhook-events?event_type=order.created", Some(&f.admin), None)
        .await;
    let id = list["data"][0]["id"].as_str().unwrap();
    let (s, ev) =
        app.call(Method::GET, &format!("/api/v1/integration/webhook-events/{id}"), Some(&f.admin), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ev["data"]["payload"]["order"]["total"], 42);
    assert_eq!(ev["data"]["processing_status"], "pending");
    assert_eq!(ev["data"]["payload_sha256"].as_str().unwrap().len(), 64);
    let (_, recv) = app
        .call(
            Method::GET,
            &format!("/api/v1/integration/webhook-receivers/{}", ev["data"]["receiver_id"].as_str().unwrap()),
            Some(&f.admin),
            None,
        )
        .await;
    assert!(recv["data"]["last_received_at"].is_string(), "{recv}");
    assert!(recv["data"].get("secret").is_none(), "secret only on create and rotate");
}

async fn rotation_keeps_the_old_secret_during_grace(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let f = fixture(&app, "acme", shop()).await;
    let r = receiver(&app, &f, json!({"event_type": "*", "auth": {"method": "standard_webhooks"}, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})).await;
    assert_eq!(r["secret"], "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "a supplied secret is kept");
    let old = r["secret"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now().timestamp();
    let path = format!("/api/v1/integration/webhook-receivers/{}/rotate-secret", r["id"].as_str().unwrap());
    let (s, rotated) = app.call(Method::POST, &path, Some(&f.admin), None).await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    let new = rotated["data"]["secret"].as_str().unwrap().to_owned();
    assert!(new.starts_with("whsec_") && new != old);
    assert!(rotated["data"]["previous_secret_expires_at"].is_string());
    let body = br#"{"type": "customer.updated"}"#;
    for (i, secret) in [&old, &new].into_iter().enumerate() {
        let (s, ok) = deliver(&app, &r, &signed(&r, secret, &format!("m{i}"), now, body), body).await;
        assert_eq!(s, StatusCode::ACCEPTED, "secret {i} accepted during grace: {ok}");
    }
    let (_, list) = app.call(Method::GET, "/api/v1/integration/webhook-events", Some(&f.admin), None).await;
    assert_eq!(list["data"][0]["event_type"], "customer.updated", "event type from the body for *");
    // expire_old ends the old secret at once.
    let (s, again) = app.call(Method::POST, &path, Some(&f.admin), Some(json!({"expire_old": true}))).await;
    assert_eq!(s, StatusCode::OK);
    let newest = again["data"]["secret"].as_str().unwrap().to_owned();
    let (s, _) = deliver(&app, &r, &signed(&r, &new, "m3", now, body), body).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "old secret refused after expire_old");
    let (s, _) = deliver(&app, &r, &signed(&r, &newest, "m4", now, body), body).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let bad = app.req(Method::POST, &path, Some(&f.admin)).json(&json!({"secret": "not-whsec"}));
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
}

async fn duplicates_store_one_event_even_concurrently(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let f = fixture(&app, "acme", shop()).await;
    let r = receiver(&app, &f, json!({"event_type": "push", "auth": {"method": "github"}})).await;
    let secret = r["secret"].as_str().unwrap().to_owned();
    let body = br#"{"ref": "main"}"#;
    let headers = signed(&r, &secret, "delivery-777", 0, body);
    let sends = (0..20).map(|_| deliver(&app, &r, &headers, body));
    let answers = futures::future::join_all(sends).await;
    let ids: std::collections::HashSet<String> =
        answers.iter().map(|(_, a)| a["data"]["event_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 1, "every answer names the same event");
    let fresh = answers.iter().filter(|(s, _)| *s == StatusCode::ACCEPTED).count();
    let dups = answers.iter().filter(|(s, a)| *s == StatusCode::OK && a["data"]["duplicate"] == true).count();
    assert_eq!((fresh, dups), (1, 19));
    assert_eq!(event_count(&app, &f).await, 1);
    // A different delivery id is a different event; Idempotency-Key works for other methods.
    let (s, _) = deliver(&app, &r, &signed(&r, &secret, "delivery-778", 0, body), body).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let rb = receiver(&app, &f, json!({"event_type": "x", "auth": {"method": "bearer"}})).await;
    let mut h = signed(&rb, rb["secret"].as_str().unwrap(), "", 0, b"{}");
    h.push(("Idempotency-Key".into(), "idem-1".into()));
    assert_eq!(deliver(&app, &rb, &h, b"{}").await.0, StatusCode::ACCEPTED);
    assert_eq!(deliver(&app, &rb, &h, b"{}").await.0, StatusCode::OK);
    assert_eq!(event_count(&app, &f).await, 3);
}

/// Issue 17, item 2: the review's reproduction — 50,000 15-character
/// strings against a backtracking pattern, about 9 s of CPU per delivery
/// before — is refused within the per-delivery budget, audited, and four
/// such deliveries at once leave `/healthz` answering within 100 ms.
async fn costly_schema_checks_are_refused_and_healthz_stays_fast(b: Backend) {
    let settings = weir::Settings { max_body_bytes: Some("2097152".into()), ..intake_only() };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let f = fixture(&app, "acme", shop()).await;
    let schema = json!({"type": "array", "items": {"type": "string", "pattern": "^(?:(?=(a|aa)*)(a|aa)*(?!x)c$|a+$)"}});
    let r = receiver(&app, &f, json!({"event_type": "x", "auth": {"method": "bearer"}, "schema": schema})).await;
    let token = vec![("authorization".to_owned(), format!("Bearer {}", r["secret"].as_str().unwrap()))];
    let body = serde_json::to_vec(&vec!["a".repeat(15); 50_000]).unwrap();
    let deliveries: Vec<_> = (0..4)
        .map(|_| {
            let (app_client, url, auth, body) =
                (app.client.clone(), app.url(r["receiver_url"].as_str().unwrap()), token[0].1.clone(), body.clone());
            tokio::spawn(async move {
                let res = app_client
                    .post(url)
                    .header("authorization", auth)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                (res.status(), res.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut slowest = std::time::Duration::ZERO;
    while !deliveries.iter().all(|d| d.is_finished()) {
        let started = std::time::Instant::now();
        let res = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(slowest < std::time::Duration::from_millis(100), "/healthz took {slowest:?} during the refusals");
    for d in deliveries {
        let (status, problem) = d.await.unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("schema-checking work"), "{problem}");
    }
    // An ordinary delivery to the same receiver is still checked and taken.
    let (s, _) = deliver(&app, &r, &token, br#"["aaa", "aaaa"]"#).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(event_count(&app, &f).await, 1, "nothing stored for the refused deliveries");
    let audit = audit_actions(&app, &f.admin).await;
    let refused = audit.iter().filter(|e| e.details["error_type"] == "schema_budget_exceeded").count();
    assert_eq!(refused, 4, "each refusal audited");
}

async fn bad_payloads_are_refused_and_audited(b: Backend) {
    let settings = weir::Settings { max_body_bytes: Some("4096".into()), ..intake_only() };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let f = fixture(&app, "acme", shop()).await;
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object", "required": ["order"],
        "properties": {"order": {"type": "object", "required": ["total"], "properties": {"total": {"type": "number"}}}}
    });
    let r = receiver(&app, &f, json!({"event_type": "order.created", "auth": {"method": "bearer"}, "schema": schema}))
        .await;
    let token = vec![("authorization".to_owned(), format!("Bearer {}", r["secret"].as_str().unwrap()))];
    let url = app.url(r["receiver_url"].as_str().unwrap());

    let (s, _) = deliver(&app, &r, &token, br#"{"order": {"total": 1}}"#).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // 422: schema violations keyed by JSON pointer.
    let (s, p) = deliver(&app, &r, &token, br#"{"order": {"total": "ten"}}"#).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["errors"]["/order/total"].is_array(), "{p}");
    let (s, p) = deliver(&app, &r, &token, br#"{"other": 1}"#).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["errors"]["/"].is_array(), "{p}");
    // 400: malformed and absurdly nested JSON.
    assert_eq!(deliver(&app, &r, &token, b"{\"order\": ").await.0, StatusCode::BAD_REQUEST);
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    assert_eq!(deliver(&app, &r, &token, deep.as_bytes()).await.0, StatusCode::BAD_REQUEST);
    // 415: not JSON.
    let req =
        app.client.post(&url).header("authorization", &token[0].1).header("content-type", "text/plain").body("{}");
    assert_problem(req, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    // 413: announced and streamed beyond the limit.
    let big = format!(r#"{{"order": {{"total": 1}}, "pad": "{}"}}"#, "x".repeat(10_000));
    assert_eq!(deliver(&app, &r, &token, big.as_bytes()).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..16).map(|_| Ok(vec![b' '; 1024])).collect();
    let req = app
        .client
        .post(&url)
        .header("authorization", &token[0].1)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
    assert_problem(req, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(event_count(&app, &f).await, 1, "nothing stored for any refused delivery");

    let audit = audit_actions(&app, &f.admin).await;
    let mut types: Vec<&str> = audit
        .iter()
        .filter(|e| e.action == "webhook.rejected")
        .map(|e| e.details["error_type"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "malformed_json",
            "malformed_json",
            "payload_too_large",
            "payload_too_large",
            "schema_invalid",
            "schema_invalid",
            "unsupported_media_type"
        ]
    );

    // NUL characters cannot be stored (PostgreSQL's jsonb refuses them): 400 on both backends.
    let (s, p) = deliver(&app, &r, &token, br#"{"order": {"total": 1}, "note": "a\u0000b"}"#).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{p}");
    assert_eq!(event_count(&app, &f).await, 1);

    // Draft 7 schemas work too (the draft is taken from `$schema`).
    let r7 = receiver(
        &app,
        &f,
        json!({"event_type": "x", "auth": {"method": "bearer"}, "schema": {
        "$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
        "properties": {"qty": {"type": "integer", "minimum": 1}}, "required": ["qty"]}}),
    )
    .await;
    let t7 = vec![("authorization".to_owned(), format!("Bearer {}", r7["secret"].as_str().unwrap()))];
    assert_eq!(deliver(&app, &r7, &t7, br#"{"qty": 2}"#).await.0, StatusCode::ACCEPTED);
    let (s, p) = deliver(&app, &r7, &t7, br#"{"qty": 0}"#).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["errors"]["/qty"].is_array(), "{p}");

    // An invalid schema is refused when the receiver is created.
    let path = format!("{CONNECTORS}/{}/webhook-receivers", f.connector_id);
    let bad = app
        .req(Method::POST, &path, Some(&f.admin))
        .json(&json!({"event_type": "x", "auth": {"method": "bearer"}, "schema": {"type": "no-such-type"}}));
    let p = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["errors"]["schema"].is_array(), "{p}");
    for (body, field) in [
        (json!({"event_type": "x", "auth": {"method": "md5"}}), "auth.method"),
        (json!({"event_type": "x", "auth": {"method": "bearer", "header": "X"}}), "auth.header"),
        (json!({"event_type": "", "auth": {"method": "bearer"}}), "event_type"),
        (json!({"event_type": "x", "auth": {"method": "standard_webhooks"}, "secret": "plain"}), "secret"),
        (
            json!({"event_type": "x", "auth": {"method": "bearer"}, "timestamp_tolerance_secs": 0}),
            "timestamp_tolerance_secs",
        ),
    ] {
        let p =
            assert_problem(app.req(Method::POST, &path, Some(&f.admin)).json(&body), StatusCode::UNPROCESSABLE_ENTITY)
                .await;
        assert!(p["errors"].get(field).is_some(), "{field}: {p}");
    }
}

async fn rate_limit_answers_429(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let mut c = shop();
    c["rate_limit_per_minute"] = json!(3);
    let f = fixture(&app, "acme", c).await;
    let r = receiver(&app, &f, json!({"event_type": "x", "auth": {"method": "bearer"}})).await;
    let token = vec![("authorization".to_owned(), format!("Bearer {}", r["secret"].as_str().unwrap()))];
    for _ in 0..3 {
        assert_eq!(deliver(&app, &r, &token, b"{}").await.0, StatusCode::ACCEPTED);
    }
    let res = app
        .client
        .post(app.url(r["receiver_url"].as_str().unwrap()))
        .header("authorization", &token[0].1)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(event_count(&app, &f).await, 3);
    let audit = audit_actions(&app, &f.admin).await;
    assert!(audit.iter().any(|e| e.details["error_type"] == "rate_limited"));
}

async fn inactive_and_unknown_receivers(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let f = fixture(&app, "acme", shop()).await;
    let r = receiver(&app, &f, json!({"event_type": "x", "auth": {"method": "api_key"}})).await;
    let key = vec![("x-api-key".to_owned(), r["secret"].as_str().unwrap().to_owned())];
    let url = r["receiver_url"].as_str().unwrap().to_owned();
    // Wrong connector code or key → 404.
    let other = url.replace("/shop/", "/nope/");
    let res =
        app.client.post(app.url(&other)).header("content-type", "application/json").body("{}").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app
        .client
        .post(app.url(&format!("{url}x")))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Inactive receiver → 410; active again → 202.
    let rpath = format!("/api/v1/integration/webhook-receivers/{}", r["id"].as_str().unwrap());
    let (s, _) = app.call(Method::PATCH, &rpath, Some(&f.admin), Some(json!({"is_active": false}))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(deliver(&app, &r, &key, b"{}").await.0, StatusCode::GONE);
    app.call(Method::PATCH, &rpath, Some(&f.admin), Some(json!({"is_active": true}))).await;
    assert_eq!(deliver(&app, &r, &key, b"{}").await.0, StatusCode::ACCEPTED);
    // Inactive connector → 410 at once (the receiver cache is refreshed).
    let cpath = format!("{CONNECTORS}/{}", f.connector_id);
    app.call(Method::PATCH, &cpath, Some(&f.admin), Some(json!({"is_active": false}))).await;
    assert_eq!(deliver(&app, &r, &key, b"{}").await.0, StatusCode::GONE);
    // Deleted receiver → 404.
    app.call(Method::PATCH, &cpath, Some(&f.admin), Some(json!({"is_active": true}))).await;
    let (s, _) = app.call(Method::DELETE, &rpath, Some(&f.admin), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(deliver(&app, &r, &key, b"{}").await.0, StatusCode::NOT_FOUND);
    assert_problem(app.req(Method::GET, &rpath, Some(&f.admin)), StatusCode::NOT_FOUND).await;
}

async fn receivers_and_events_are_tenant_scoped(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, intake_only()).await else { return };
    let fa = fixture(&app, "tenant-a", shop()).await;
    let fb = fixture(&app, "tenant-b", shop()).await;
    let r = receiver(&app, &fa, json!({"event_type": "x", "auth": {"method": "bearer"}})).await;
    let token = vec![("authorization".to_owned(), format!("Bearer {}", r["secret"].as_str().unwrap()))];
    let (_, ok) = deliver(&app, &r, &token, b"{}").await;
    let event_id = ok["data"]["event_id"].as_str().unwrap().to_owned();
    let rid = r["id"].as_str().unwrap();
    // B's admin: every receiver and event endpoint on A's objects is 404.
    let endpoints = [
        (Method::GET, format!("/api/v1/integration/webhook-receivers/{rid}"), None),
        (Method::PATCH, format!("/api/v1/integration/webhook-receivers/{rid}"), Some(json!({"is_active": false}))),
        (Method::DELETE, format!("/api/v1/integration/webhook-receivers/{rid}"), None),
        (Method::POST, format!("/api/v1/integration/webhook-receivers/{rid}/rotate-secret"), None),
        (
            Method::POST,
            format!("{CONNECTORS}/{}/webhook-receivers", fa.connector_id),
            Some(json!({"event_type": "x", "auth": {"method": "bearer"}})),
        ),
        (Method::GET, format!("/api/v1/integration/webhook-events/{event_id}"), None),
    ];
    for (m, p, body) in endpoints {
        let mut req = app.req(m.clone(), &p, Some(&fb.admin));
        if let Some(b) = body {
            req = req.json(&b);
        }
        assert_problem(req, StatusCode::NOT_FOUND).await;
    }
    for list in ["/api/v1/integration/webhook-receivers", "/api/v1/integration/webhook-events"] {
        let (s, l) = app.call(Method::GET, list, Some(&fb.admin), None).await;
        assert_eq!((s, l["meta"]["total"].as_u64()), (StatusCode::OK, Some(0)), "{list}");
        let (_, l) = app.call(Method::GET, list, Some(&fa.admin), None).await;
        assert_eq!(l["meta"]["total"], 1, "{list}");
    }
    // Roles inside A: viewers and operators read receivers, only admins change them.
    let (ta, _) = {
        let store = app.store().await;
        let p = store.authenticate(&fa.admin).await.unwrap().unwrap();
        store.close().await;
        (p.scope.tenant_id().to_owned(), ())
    };
    for role in ["viewer", "operator"] {
        let (_, t) = app.token(&ta, role).await;
        let (s, _) =
            app.call(Method::GET, &format!("/api/v1/integration/webhook-receivers/{rid}"), Some(&t), None).await;
        assert_eq!(s, StatusCode::OK, "{role} reads");
        let writes = [
            (Method::PATCH, format!("/api/v1/integration/webhook-receivers/{rid}"), Some(json!({"is_active": false}))),
            (Method::DELETE, format!("/api/v1/integration/webhook-receivers/{rid}"), None),
            (Method::POST, format!("/api/v1/integration/webhook-receivers/{rid}/rotate-secret"), None),
            (
                Method::POST,
                format!("{CONNECTORS}/{}/webhook-receivers", fa.connector_id),
                Some(json!({"event_type": "x", "auth": {"method": "bearer"}})),
            ),
        ];
        for (m, p, body) in writes {
            let mut req = app.req(m, &p, Some(&t));
            if let Some(b) = body {
                req = req.json(&b);
            }
            assert_problem(req, StatusCode::FORBIDDEN).await;
        }
    }
    // A's receiver still works: nothing was changed by B.
    assert_eq!(deliver(&app, &r, &token, b"{}").await.0, StatusCode::ACCEPTED);
    // Filters.
    let q = |q: String| {
        let app = &app;
        let t = fa.admin.clone();
        async move { app.call(Method::GET, &format!("/api/v1/integration/webhook-events?{q}"), Some(&t), None).await }
    };
    assert_eq!(q(format!("receiver_id={rid}")).await.1["meta"]["total"], 2);
    assert_eq!(q("status=failed".into()).await.1["meta"]["total"], 0);
    assert_eq!(q("from=2000-01-01&to=2999-01-01".into()).await.1["meta"]["total"], 2);
    assert_eq!(q("to=2000-01-01".into()).await.1["meta"]["total"], 0);
    for bad in ["status=done", "from=yesterday", "receiver_id=nope", "from=2026-02-01&to=2026-01-01"] {
        assert_eq!(q(bad.into()).await.0, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}
