//! The dashboard (TEST-004): a known history — today's real deliveries,
//! processing and runs, plus rollups of earlier days seeded on the range's
//! boundaries — and every number asserted; ranges, 422s, roles, tenancy.
//! And (issue 17, item 11) the current outcome of replayed events and
//! partial runs, as the other pages and a rebuild show them.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Days, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir::config::Settings;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem};

backend_tests!(dashboard_counts_a_known_history, the_dashboard_counts_current_outcomes_as_the_pages_do);

const API: &str = "/api/v1/integration";

async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, v) = app.call(Method::POST, &format!("{API}/{path}"), Some(token), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{path}: {v}");
    v["data"].clone()
}

async fn wait_for(app: &TestApp, token: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..400 {
        let (_, v) = app.call(Method::GET, &format!("{API}/{path}"), Some(token), None).await;
        if done(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never got there");
}

async fn dashboard_counts_a_known_history(b: Backend) {
    let settings = Settings {
        sync_retry_backoff: Some("10ms,10ms".into()),
        scheduler_interval_ms: Some("0".into()),
        ..Settings::default()
    };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let partner = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}, {"id": 2}])))
        .mount(&partner)
        .await;
    Mock::given(method("GET"))
        .and(path("/mixed"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 3}, {"x": 1}])))
        .mount(&partner)
        .await;
    Mock::given(method("GET")).and(path("/down")).respond_with(ResponseTemplate::new(502)).mount(&partner).await;

    let t = app.tenant("acme").await;
    let (_, admin) = app.token(&t, "admin").await;
    let (_, operator) = app.token(&t, "operator").await;
    let (_, viewer) = app.token(&t, "viewer").await;
    let mapping = created(
        &app,
        &admin,
        "field-mappings",
        json!({
            "name": "m", "entity_type": "customer", "key": "external_id",
            "rules": [{"source": "id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]}]
        }),
    )
    .await;
    let shop = created(
        &app,
        &admin,
        "connectors",
        json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"}),
    )
    .await;
    let crm = created(&app, &admin, "connectors", json!({"code": "crm", "name": "CRM", "type": "http", "environment": "development", "config": {"base_url": partner.uri()}})).await;
    created(
        &app,
        &admin,
        "connectors",
        json!({"code": "idle", "name": "Idle", "type": "webhook", "environment": "development", "is_active": false}),
    )
    .await;
    let (shop_id, crm_id) = (shop["id"].as_str().unwrap().to_owned(), crm["id"].as_str().unwrap().to_owned());
    let receiver = created(
        &app,
        &admin,
        &format!("connectors/{shop_id}/webhook-receivers"),
        json!({"event_type": "customer.created", "auth": {"method": "bearer"}}),
    )
    .await;
    created(
        &app,
        &admin,
        "sync-configurations",
        json!({
            "connector_id": shop_id, "name": "in", "direction": "inbound", "entity_type": "customer",
            "field_mapping_id": mapping["id"], "trigger": "webhook", "event_types": ["*"]
        }),
    )
    .await;

    // Today's deliveries: 2 that map, 1 that fails mapping, 1 duplicate, 1 refused.
    let url = app.url(receiver["receiver_url"].as_str().unwrap());
    let secret = receiver["secret"].as_str().unwrap();
    let deliver = |body: Value, token: &str, key: &str| {
        app.client.post(&url).bearer_auth(token).header("idempotency-key", key).json(&body)
    };
    for (i, body) in [json!({"id": 1}), json!({"id": 2}), json!({"no": "id"})].into_iter().enumerate() {
        let (s, _) = crate::helpers::send(deliver(body, secret, &format!("k{i}"))).await;
        assert_eq!(s, StatusCode::ACCEPTED);
    }
    assert_eq!(crate::helpers::send(deliver(json!({"id": 1}), secret, "k0")).await.0, StatusCode::OK, "duplicate");
    assert_eq!(
        crate::helpers::send(deliver(json!({"id": 9}), "wrong-token-000000000000", "k9")).await.0,
        StatusCode::UNAUTHORIZED
    );
    wait_for(&app, &admin, "webhook-events?status=pending", |v| v["meta"]["total"] == 0).await;
    wait_for(&app, &admin, "webhook-events?status=processing", |v| v["meta"]["total"] == 0).await;

    // Today's runs on crm: succeeded, partial, failed (in that order).
    for (name, p) in [("ok", "/ok"), ("mixed", "/mixed"), ("down", "/down")] {
        let c = created(
            &app,
            &admin,
            "sync-configurations",
            json!({
                "connector_id": crm_id, "name": name, "direction": "inbound", "entity_type": "customer",
                "field_mapping_id": mapping["id"], "trigger": "manual", "source": {"path": p}
            }),
        )
        .await;
        let (s, r) = app
            .call(
                Method::POST,
                &format!("{API}/sync-configurations/{}/execute", c["id"].as_str().unwrap()),
                Some(&operator),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{r}");
        let run = r["data"]["sync_history_id"].as_str().unwrap().to_owned();
        wait_for(&app, &admin, &format!("sync-histories/{run}"), |v| {
            !matches!(v["data"]["status"].as_str(), Some("queued" | "running"))
        })
        .await;
    }

    // Rebuilding the rollups from the raw tables gives what the writers counted.
    let store = app.store().await;
    let incremental = rollup_rows(&store).await;
    assert!(incremental.len() >= 4, "{incremental:?}");
    store.rebuild_rollups(&weir_store::SystemScope::local_operator()).await.unwrap();
    assert_eq!(rollup_rows(&store).await, incremental, "rebuild == incremental");
    store.close().await;

    // Earlier days, as the system would have rolled them up: one inside the
    // default range's first day, one the day before it.
    let today = Utc::now().date_naive();
    let first = today.checked_sub_days(Days::new(6)).unwrap();
    let before = today.checked_sub_days(Days::new(7)).unwrap();
    let store = app.store().await;
    {
        use sea_orm::{ConnectionTrait, Statement};
        let db = store.connection();
        let backend = db.get_database_backend();
        for (day, total, ok, failed, records) in [(first, 4i64, 3i64, 1i64, 10i64), (before, 100, 0, 100, 0)] {
            let sql = "INSERT INTO daily_rollups (tenant_id, connector_id, day, webhooks_received, webhooks_duplicate, webhooks_rejected, webhooks_failed, webhooks_completed, syncs_total, syncs_succeeded, syncs_partial, syncs_failed, records_processed, updated_at) VALUES ($1, $2, $3, 0, 0, 0, 0, 0, $4, $5, 0, $6, $7, $8)";
            let sql = if backend == sea_orm::DbBackend::Sqlite {
                strip_numbers(&sql.replace('$', "?"))
            } else {
                sql.to_owned()
            };
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [
                    t.clone().into(),
                    crm_id.clone().into(),
                    day.into(),
                    total.into(),
                    ok.into(),
                    failed.into(),
                    records.into(),
                    Utc::now().into(),
                ],
            ))
            .await
            .unwrap();
        }
        let sql = "INSERT INTO daily_error_rollups (tenant_id, connector_id, day, error_type, error_count) VALUES ($1, $2, $3, 'http_error', 1)";
        let sql =
            if backend == sea_orm::DbBackend::Sqlite { strip_numbers(&sql.replace('$', "?")) } else { sql.to_owned() };
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [t.clone().into(), crm_id.clone().into(), first.into()],
        ))
        .await
        .unwrap();
    }
    store.close().await;

    // Admin only.
    for token in [&viewer, &operator] {
        assert_problem(app.req(Method::GET, &format!("{API}/dashboard"), Some(token)), StatusCode::FORBIDDEN).await;
    }
    let (s, d) = app.call(Method::GET, &format!("{API}/dashboard"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let d = &d["data"];
    assert_eq!(
        (d["from"].as_str(), d["to"].as_str()),
        (Some(first.to_string().as_str()), Some(today.to_string().as_str()))
    );
    let sum = &d["summary"];
    assert_eq!(
        (sum["total_connectors"].as_u64(), sum["active_connectors"].as_u64(), sum["inactive_connectors"].as_u64()),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!((sum["webhooks_received"].as_i64(), sum["webhooks_failed"].as_i64()), (Some(3), Some(1)), "{sum}");
    assert_eq!(
        (sum["total_syncs"].as_i64(), sum["failed_syncs"].as_i64(), sum["active_syncs"].as_u64()),
        (Some(3 + 4), Some(1 + 1), Some(0))
    );
    // Successes: 2 completed events + 1 succeeded + 1 partial today + 3 seeded = 7; failures: 1 event + 1 + 1 runs = 3.
    assert!((sum["success_rate"].as_f64().unwrap() - 0.7).abs() < 1e-9, "{sum}");
    let breakdown: Vec<(String, i64)> = d["error_breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["error_type"].as_str().unwrap().to_owned(), e["count"].as_i64().unwrap()))
        .collect();
    let count = |t: &str| breakdown.iter().find(|(k, _)| k == t).map(|(_, n)| *n);
    // The mixed run's record without a key is a `mapping_error`, as its run page says (issue 17, item 11).
    assert_eq!(
        (count("http_error"), count("mapping_error"), count("record_error"), count("signature_invalid")),
        (Some(2), Some(1 + 1), None, Some(1)),
        "{breakdown:?}"
    );
    assert_eq!(sum["total_errors"].as_i64().unwrap(), breakdown.iter().map(|(_, n)| n).sum::<i64>());
    assert_eq!(breakdown[0].0, "http_error", "most frequent first");
    let trends = d["sync_trends"].as_array().unwrap();
    assert_eq!(trends.len(), 7, "one entry per day, zero-filled");
    assert_eq!(
        trends[0],
        json!({"date": first.to_string(), "total": 4, "succeeded": 3, "partial": 0, "failed": 1, "records_processed": 10})
    );
    assert_eq!(trends[3]["total"], 0);
    assert_eq!(
        (
            trends[6]["total"].as_i64(),
            trends[6]["succeeded"].as_i64(),
            trends[6]["partial"].as_i64(),
            trends[6]["failed"].as_i64()
        ),
        (Some(3), Some(1), Some(1), Some(1))
    );
    // Records processed today: 2 by events, 2 + 1 by runs (the same ids again are unchanged).
    assert!(trends[6]["records_processed"].as_i64().unwrap() >= 3, "{}", trends[6]);
    assert_eq!(d["recent_syncs"].as_array().unwrap().len(), 3);
    let health: Vec<(&str, &str)> = d["connector_health"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["code"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(health, vec![("crm", "degraded"), ("idle", "inactive"), ("shop", "degraded")]);
    let crm_health = d["connector_health"].as_array().unwrap().iter().find(|c| c["code"] == "crm").unwrap();
    assert_eq!(
        (crm_health["consecutive_failures"].as_i64(), crm_health["failures"].as_u64()),
        (Some(1), Some(2)),
        "{crm_health}"
    );
    assert!((crm_health["success_rate"].as_f64().unwrap() - 5.0 / 7.0).abs() < 1e-9);
    let top: Vec<&str> =
        d["top_failing_connectors"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
    assert_eq!(top, vec!["crm", "shop"]);

    // The report export carries the same numbers: JSON is the document, CSV one row per number.
    let res = app.req(Method::GET, &format!("{API}/dashboard/export?format=json"), Some(&admin)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert_eq!(disposition, format!("attachment; filename=\"weir-dashboard-{first}-{today}.json\""));
    let exported: Value = res.json().await.unwrap();
    assert_eq!(exported["summary"], d["summary"]);
    assert_eq!(exported["sync_trends"], d["sync_trends"]);
    let res = app.req(Method::GET, &format!("{API}/dashboard/export"), Some(&admin)).send().await.unwrap();
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv_text = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    assert_eq!(reader.headers().unwrap(), vec!["section", "date", "subject", "metric", "value"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let cell = |section: &str, subject: &str, metric: &str, date: Option<&str>| -> String {
        rows.iter()
            .find(|r| r[0] == *section && r[2] == *subject && r[3] == *metric && date.is_none_or(|d| r[1] == *d))
            .map(|r| r[4].to_owned())
            .unwrap_or_else(|| panic!("no {section}/{subject}/{metric} row in {csv_text}"))
    };
    for field in
        ["total_connectors", "webhooks_received", "webhooks_failed", "total_syncs", "failed_syncs", "total_errors"]
    {
        assert_eq!(cell("summary", "", field, None), sum[field].to_string(), "{field}");
    }
    assert_eq!(
        cell("summary", "", "success_rate", None).parse::<f64>().unwrap(),
        sum["success_rate"].as_f64().unwrap()
    );
    assert_eq!(cell("trend", "", "total", Some(&first.to_string())), "4");
    assert_eq!(cell("error", "http_error", "count", None), "2");
    assert_eq!(cell("connector", "crm", "status", None), "degraded");
    assert_eq!(cell("trend", "", "partial", Some(&today.to_string())), "1");
    assert_eq!(rows.iter().filter(|r| &r[0] == "trend").count(), 7 * 5);
    for token in [&viewer, &operator] {
        assert_problem(app.req(Method::GET, &format!("{API}/dashboard/export"), Some(token)), StatusCode::FORBIDDEN)
            .await;
    }
    assert_problem(
        app.req(Method::GET, &format!("{API}/dashboard/export?format=xml"), Some(&admin)),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // The day before the default range, alone; an RFC 3339 bound means its whole day.
    let (_, old) = app
        .call(Method::GET, &format!("{API}/dashboard?from={before}&to={before}T12:00:00Z"), Some(&admin), None)
        .await;
    let old = &old["data"];
    assert_eq!(
        (old["summary"]["total_syncs"].as_i64(), old["summary"]["failed_syncs"].as_i64()),
        (Some(100), Some(100)),
        "{old}"
    );
    assert_eq!(old["sync_trends"].as_array().unwrap().len(), 1);
    assert_eq!(old["summary"]["webhooks_received"], 0);
    for bad in [
        format!("from={today}&to={first}"),
        "from=2024-01-01&to=2025-06-01".to_owned(),
        "from=soon".to_owned(),
        "range=7".to_owned(),
    ] {
        assert_problem(
            app.req(Method::GET, &format!("{API}/dashboard?{bad}"), Some(&admin)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }

    // Another tenant's numbers include none of this (SEC-003).
    let other = app.tenant("other").await;
    let (_, other_admin) = app.token(&other, "admin").await;
    let (_, o) = app.call(Method::GET, &format!("{API}/dashboard?from={before}"), Some(&other_admin), None).await;
    let o = &o["data"];
    assert_eq!(
        (
            o["summary"]["total_connectors"].as_u64(),
            o["summary"]["total_syncs"].as_i64(),
            o["summary"]["webhooks_received"].as_i64(),
            o["summary"]["total_errors"].as_i64()
        ),
        (Some(0), Some(0), Some(0), Some(0))
    );
    assert!(o["recent_syncs"].as_array().unwrap().is_empty() && o["error_breakdown"].as_array().unwrap().is_empty());
    app.stop().await;
}

/// `$1`, `$2`… → `?` (SQLite's positional parameters, in the same order).
fn strip_numbers(sql: &str) -> String {
    let mut out = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '?' {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
        }
    }
    out
}

/// Every rollup row as text (both tables), sorted.
pub(crate) async fn rollup_rows(store: &weir_store::Store) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = store.connection();
    let backend = db.get_database_backend();
    let mut out = Vec::new();
    let q = "SELECT tenant_id, connector_id, CAST(day AS TEXT) AS d, webhooks_received, webhooks_duplicate, webhooks_rejected, webhooks_failed, webhooks_completed, syncs_total, syncs_succeeded, syncs_partial, syncs_failed, records_processed FROM daily_rollups";
    for r in db.query_all_raw(Statement::from_string(backend, q)).await.unwrap() {
        let mut line = format!(
            "{}|{}|{}",
            r.try_get::<String>("", "tenant_id").unwrap(),
            r.try_get::<String>("", "connector_id").unwrap(),
            r.try_get::<String>("", "d").unwrap()
        );
        for c in [
            "webhooks_received",
            "webhooks_duplicate",
            "webhooks_rejected",
            "webhooks_failed",
            "webhooks_completed",
            "syncs_total",
            "syncs_succeeded",
            "syncs_partial",
            "syncs_failed",
            "records_processed",
        ] {
            line.push_str(&format!("|{c}={}", r.try_get::<i64>("", c).unwrap()));
        }
        out.push(line);
    }
    let q = "SELECT tenant_id, connector_id, CAST(day AS TEXT) AS d, error_type, error_count FROM daily_error_rollups";
    for r in db.query_all_raw(Statement::from_string(backend, q)).await.unwrap() {
        out.push(format!(
            "error|{}|{}|{}|{}={}",
            r.try_get::<String>("", "tenant_id").unwrap(),
            r.try_get::<String>("", "connector_id").unwrap(),
            r.try_get::<String>("", "d").unwrap(),
            r.try_get::<String>("", "error_type").unwrap(),
            r.try_get::<i64>("", "error_count").unwrap()
        ));
    }
    out.sort();
    out
}

/// Polls an event until it is `completed` or `failed`.
async fn finished(app: &TestApp, token: &str, id: &str) -> Value {
    let e = wait_for(app, token, &format!("webhook-events/{id}"), |v| {
        matches!(v["data"]["processing_status"].as_str(), Some("completed" | "failed"))
    })
    .await;
    e["data"].clone()
}

/// Issue 17, item 11: an event that failed for good and then succeeded on
/// replay counts as completed (not failed as well), its connector is healthy
/// again; one that fails again on replay counts once; a partial run is
/// `partial`; per-record run errors have the type the run's page shows. The
/// dashboard equals what the events and run pages say, and a rebuild.
async fn the_dashboard_counts_current_outcomes_as_the_pages_do(b: Backend) {
    let settings = Settings {
        retry_backoff: Some("40ms,40ms".into()),
        worker_poll_ms: Some("20".into()),
        sync_retry_backoff: Some("10ms,10ms".into()),
        scheduler_interval_ms: Some("0".into()),
        ..Settings::default()
    };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let partner = MockServer::start().await;
    let mixed = || {
        Mock::given(method("GET"))
            .and(path("/mixed"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 3}, {"x": 1}])))
    };
    mixed().mount(&partner).await;
    Mock::given(method("POST")).and(path("/erp")).respond_with(ResponseTemplate::new(400)).mount(&partner).await;
    let t = app.tenant("acme").await;
    let (_, admin) = app.token(&t, "admin").await;
    let (_, operator) = app.token(&t, "operator").await;
    let mapping = created(
        &app,
        &admin,
        "field-mappings",
        json!({
            "name": "m", "entity_type": "customer", "key": "external_id",
            "rules": [{"source": "id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]}]
        }),
    )
    .await;
    // `shop` delivers its events to the partner; `legacy` only maps them.
    let mut receivers = Vec::new();
    for (code, destination) in [("shop", Some(format!("{}/erp", partner.uri()))), ("legacy", None)] {
        let c = created(
            &app,
            &admin,
            "connectors",
            json!({"code": code, "name": code, "type": "webhook", "environment": "development"}),
        )
        .await;
        let id = c["id"].as_str().unwrap();
        let receiver = json!({"event_type": "customer.created", "auth": {"method": "bearer"}});
        receivers.push(created(&app, &admin, &format!("connectors/{id}/webhook-receivers"), receiver).await);
        let mut config = json!({
            "connector_id": id, "name": "in", "direction": "inbound", "entity_type": "customer",
            "field_mapping_id": mapping["id"], "trigger": "webhook", "event_types": ["*"]
        });
        if let Some(url) = destination {
            config["destination"] = json!({"url": url});
        }
        created(&app, &admin, "sync-configurations", config).await;
    }
    let deliver = |r: &Value, key: &str, body: Value| {
        let req = app
            .client
            .post(app.url(r["receiver_url"].as_str().unwrap()))
            .bearer_auth(r["secret"].as_str().unwrap())
            .header("idempotency-key", key)
            .json(&body);
        async move {
            let (s, v) = crate::helpers::send(req).await;
            assert_eq!(s, StatusCode::ACCEPTED, "{v}");
            v["data"]["event_id"].as_str().unwrap().to_owned()
        }
    };

    // Both fail for good: the partner refuses shop's (400), legacy's has no key.
    let shop_event = deliver(&receivers[0], "k1", json!({"id": 1})).await;
    let legacy_event = deliver(&receivers[1], "k2", json!({"no": "id"})).await;
    assert_eq!(finished(&app, &admin, &shop_event).await["error_type"], "destination_error");
    assert_eq!(finished(&app, &admin, &legacy_event).await["error_type"], "mapping_error");

    // The partner is fixed; both are replayed: shop's succeeds, legacy's fails again.
    partner.reset().await;
    mixed().mount(&partner).await;
    Mock::given(method("POST")).and(path("/erp")).respond_with(ResponseTemplate::new(200)).mount(&partner).await;
    for (id, now) in [(&shop_event, "completed"), (&legacy_event, "failed")] {
        let (s, r) = app.call(Method::POST, &format!("{API}/webhook-events/{id}/replay"), Some(&operator), None).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{r}");
        let e = finished(&app, &admin, id).await;
        assert_eq!(e["processing_status"], now, "{e}");
        assert_eq!(e["attempt_log"].as_array().map(Vec::len), Some(2), "{e}");
    }

    // A partial run: one record maps, one has no key.
    let crm = created(&app, &admin, "connectors", json!({"code": "crm", "name": "CRM", "type": "http", "environment": "development", "config": {"base_url": partner.uri()}})).await;
    let config = created(
        &app,
        &admin,
        "sync-configurations",
        json!({
            "connector_id": crm["id"], "name": "mixed", "direction": "inbound", "entity_type": "customer",
            "field_mapping_id": mapping["id"], "trigger": "manual", "source": {"path": "/mixed"}
        }),
    )
    .await;
    let execute = format!("{API}/sync-configurations/{}/execute", config["id"].as_str().unwrap());
    let (s, r) = app.call(Method::POST, &execute, Some(&operator), None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let run_id = r["data"]["sync_history_id"].as_str().unwrap().to_owned();
    let run = wait_for(&app, &admin, &format!("sync-histories/{run_id}"), |v| {
        !matches!(v["data"]["status"].as_str(), Some("queued" | "running"))
    })
    .await;
    assert_eq!((run["data"]["status"].as_str(), run["data"]["records_failed"].as_i64()), (Some("partial"), Some(1)));

    // What the events and run pages say.
    let (_, failed) = app.call(Method::GET, &format!("{API}/webhook-events?status=failed"), Some(&admin), None).await;
    let (_, completed) =
        app.call(Method::GET, &format!("{API}/webhook-events?status=completed"), Some(&admin), None).await;
    let (_, run_errors) =
        app.call(Method::GET, &format!("{API}/sync-histories/{run_id}/errors"), Some(&admin), None).await;
    let (n_failed, n_completed) =
        (failed["meta"]["total"].as_i64().unwrap(), completed["meta"]["total"].as_i64().unwrap());
    assert_eq!((n_failed, n_completed), (1, 1));
    let mut by_type: BTreeMap<String, i64> = BTreeMap::new();
    for e in failed["data"].as_array().unwrap().iter().chain(run_errors["data"].as_array().unwrap()) {
        *by_type.entry(e["error_type"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert_eq!(by_type, BTreeMap::from([("mapping_error".to_owned(), 2)]), "the run page says mapping_error");

    // The dashboard says the same.
    let (s, d) = app.call(Method::GET, &format!("{API}/dashboard"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let d = d["data"].clone();
    let sum = &d["summary"];
    assert_eq!(
        (sum["webhooks_received"].as_i64(), sum["webhooks_failed"].as_i64()),
        (Some(2), Some(n_failed)),
        "{sum}"
    );
    // Successes: the completed event and the partial run; failures: the failed event.
    let rate = (n_completed + 1) as f64 / (n_completed + 1 + n_failed) as f64;
    assert!((sum["success_rate"].as_f64().unwrap() - rate).abs() < 1e-9, "{sum}");
    let breakdown: BTreeMap<String, i64> = d["error_breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["error_type"].as_str().unwrap().to_owned(), e["count"].as_i64().unwrap()))
        .collect();
    assert_eq!(breakdown, by_type, "one error vocabulary, current outcomes only");
    assert_eq!(sum["total_errors"].as_i64(), Some(2));
    let today = d["sync_trends"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!(
        (today["total"].as_i64(), today["succeeded"].as_i64(), today["partial"].as_i64(), today["failed"].as_i64()),
        (Some(1), Some(0), Some(1), Some(0)),
        "{today}"
    );
    assert_eq!(d["recent_syncs"][0]["status"], "partial");
    let health: BTreeMap<&str, (&str, i64, u64)> = d["connector_health"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let (status, consecutive) = (c["status"].as_str().unwrap(), c["consecutive_failures"].as_i64().unwrap());
            (c["code"].as_str().unwrap(), (status, consecutive, c["failures"].as_u64().unwrap()))
        })
        .collect();
    assert_eq!(health["shop"], ("healthy", 0, 0), "the replayed success clears shop's failure");
    assert_eq!(health["crm"], ("healthy", 0, 0), "a partial run is a success for health");
    assert_eq!(health["legacy"], ("failing", 2, 1), "two failed attempts, one failed event");

    // A rebuild from the raw tables changes nothing: not a row, not a number.
    let store = app.store().await;
    let written = rollup_rows(&store).await;
    store.rebuild_rollups(&weir_store::SystemScope::local_operator()).await.unwrap();
    assert_eq!(rollup_rows(&store).await, written, "rebuild == writers");
    store.close().await;
    let (_, again) = app.call(Method::GET, &format!("{API}/dashboard"), Some(&admin), None).await;
    assert_eq!(again["data"], d, "the dashboard after a rebuild");
    app.stop().await;
}
