//! The web dashboard in a real browser (issue 8): headless Chromium driven
//! over the DevTools protocol (`chromiumoxide`) against the real server —
//! sign-in, the Overview's numbers against the API's, a webhook appearing on
//! the Overview and the Events page without a reload, filtering, replay (one and bulk) from
//! the UI, an export download, and hostile payloads rendered as text. Each
//! step saves a screenshot under `target/browser-screenshots/`.
//!
//! SQLite only: these test the pages, not storage (the API suites cover
//! both backends). The browser plumbing is in `tests/support/chrome.rs`.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir::config::Settings;
use weir_core::webhook::sign::sign_headers;
use weir_core::webhook::{ReceiverAuth, key_material};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Backend, TestApp};

#[path = "../support/chrome.rs"]
pub(crate) mod chrome;
use chrome::{Chrome, click, eval, nav, shot, sign_in, until};

const API: &str = "/api/v1/integration";

/// A tenant with a webhook connector, a Standard Webhooks receiver and a
/// customer mapping routed to an HTTP destination (the wiremock `erp`).
pub(crate) struct Shop {
    pub admin: String,
    receiver: Value,
    secret: String,
}

pub(crate) async fn shop(app: &TestApp, erp: &MockServer) -> Shop {
    let t = app.tenant("acme").await;
    let (_, admin) = app.token(&t, "admin").await;
    let post = |path: &str, body: Value| {
        let (path, admin) = (format!("{API}/{path}"), admin.clone());
        async move {
            let (s, v) = app.call(Method::POST, &path, Some(&admin), Some(body)).await;
            assert_eq!(s, StatusCode::CREATED, "{path}: {v}");
            v["data"].clone()
        }
    };
    let c =
        post("connectors", json!({"code": "shop", "name": "Shop EU", "type": "webhook", "environment": "development"}))
            .await;
    let cid = c["id"].as_str().unwrap().to_owned();
    let r = post(
        &format!("connectors/{cid}/webhook-receivers"),
        json!({"event_type": "*", "auth": {"method": "standard_webhooks"}}),
    )
    .await;
    let m = post(
        "field-mappings",
        json!({"name": "customers", "entity_type": "customer", "key": "external_id", "rules": [
            {"source": "data.id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]},
            {"source": "data.email", "target": "email"}
        ]}),
    )
    .await;
    post(
        "sync-configurations",
        json!({"connector_id": cid, "name": "customers in", "direction": "inbound", "entity_type": "customer",
               "field_mapping_id": m["id"], "trigger": "webhook", "event_types": ["customer.created", "customer.updated"],
               "destination": {"url": format!("{}/erp/customers", erp.uri())}}),
    )
    .await;
    Shop { admin, secret: r["secret"].as_str().unwrap().to_owned(), receiver: r }
}

impl Shop {
    /// The receiver's path (`/webhooks/...`).
    pub(crate) fn receiver_url(&self) -> &str {
        self.receiver["receiver_url"].as_str().unwrap_or_default()
    }
}

/// Sends a signed delivery; answers the event id.
pub(crate) async fn deliver(app: &TestApp, shop: &Shop, msg_id: &str, body: Value) -> String {
    let (s, r) = deliver_answer(app, shop, msg_id, body).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    r["data"]["event_id"].as_str().unwrap().to_owned()
}

/// Delivers `body` as the provider message `msg_id`; the status and body of the answer.
pub(crate) async fn deliver_answer(app: &TestApp, shop: &Shop, msg_id: &str, body: Value) -> (StatusCode, Value) {
    deliver_bytes(app, shop, msg_id, serde_json::to_vec(&body).unwrap()).await
}

/// Delivers `body` byte for byte, signed, as the provider message `msg_id`.
pub(crate) async fn deliver_bytes(app: &TestApp, shop: &Shop, msg_id: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let auth = ReceiverAuth::parse(&shop.receiver["auth"]).unwrap();
    let key = key_material(auth.method(), &shop.secret).unwrap();
    let mut req = app
        .client
        .post(app.url(shop.receiver["receiver_url"].as_str().unwrap()))
        .header("content-type", "application/json");
    for (k, v) in sign_headers(&auth, &key, msg_id, chrono::Utc::now().timestamp(), &body) {
        req = req.header(k, v);
    }
    crate::helpers::send(req.body(body)).await
}

async fn event_status(app: &TestApp, token: &str, id: &str) -> String {
    let (_, e) = app.call(Method::GET, &format!("{API}/webhook-events/{id}"), Some(token), None).await;
    e["data"]["processing_status"].as_str().unwrap_or_default().to_owned()
}

async fn settled(app: &TestApp, token: &str, id: &str, want: &str) {
    for _ in 0..300 {
        if event_status(app, token, id).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, e) = app.call(Method::GET, &format!("{API}/webhook-events/{id}"), Some(token), None).await;
    panic!("event {id} never became {want}: {e}");
}

fn settings() -> Settings {
    Settings {
        max_attempts: Some("1".into()),
        worker_poll_ms: Some("20".into()),
        scheduler_interval_ms: Some("0".into()),
        ..Settings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_real_browser() {
    let app = TestApp::spawn_with(Backend::Sqlite, settings()).await.expect("sqlite app");
    let erp = MockServer::start().await;
    // The ERP refuses the first delivery, then takes everything.
    Mock::given(method("POST"))
        .and(path("/erp/customers"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&erp)
        .await;
    Mock::given(method("POST")).and(path("/erp/customers")).respond_with(ResponseTemplate::new(204)).mount(&erp).await;
    let shop = shop(&app, &erp).await;
    let admin = shop.admin.clone();
    // A history: one delivery failed at the destination, one completed, one with no id (mapping error).
    let refused =
        deliver(&app, &shop, "msg_1", json!({"type": "customer.created", "data": {"id": 1, "email": "a@x.com"}})).await;
    settled(&app, &admin, &refused, "failed").await;
    let ok =
        deliver(&app, &shop, "msg_2", json!({"type": "customer.created", "data": {"id": 2, "email": "b@x.com"}})).await;
    settled(&app, &admin, &ok, "completed").await;
    let unmappable =
        deliver(&app, &shop, "msg_3", json!({"type": "customer.updated", "data": {"email": "c@x.com"}})).await;
    settled(&app, &admin, &unmappable, "failed").await;

    let chrome = Chrome::launch().await;
    let downloads = tempfile::tempdir().unwrap();
    chrome.allow_downloads(downloads.path()).await;
    let page = chrome.page(&app.url("/")).await;

    // Sign in; the Overview's numbers are the API's.
    sign_in(&page, &admin).await;
    until(&page, "document.querySelector('[data-testid=summary-webhooks_received]')?.textContent", "the overview")
        .await;
    let (_, d) = app.call(Method::GET, &format!("{API}/dashboard"), Some(&admin), None).await;
    let summary = &d["data"]["summary"];
    assert_eq!(summary["webhooks_received"], 3, "{summary}");
    for field in [
        "total_connectors",
        "active_connectors",
        "webhooks_received",
        "webhooks_failed",
        "total_syncs",
        "failed_syncs",
        "total_errors",
    ] {
        let shown =
            eval(&page, &format!("document.querySelector('[data-testid=summary-{field}]').textContent.trim()")).await;
        assert_eq!(shown, Value::String(summary[field].to_string()), "{field}");
    }
    let rate = eval(&page, "document.querySelector('[data-testid=summary-success_rate]').textContent.trim()").await;
    assert_eq!(rate, Value::String(format!("{:.1}%", summary["success_rate"].as_f64().unwrap() * 100.0)));
    until(&page, "document.querySelector('#live-indicator')?.classList.contains('live-on')", "the live indicator")
        .await;
    shot(&page, "01-overview").await;
    // The Overview follows live events: a delivery now raises the count without a reload.
    eval(&page, "window.__noReload = 'overview'").await;
    deliver(&app, &shop, "msg_live", json!({"type": "customer.created", "data": {"id": 5, "email": "e@x.com"}})).await;
    until(
        &page,
        "document.querySelector('[data-testid=summary-webhooks_received]')?.textContent.trim() === '4'",
        "the overview to count the new delivery, live",
    )
    .await;
    assert_eq!(eval(&page, "window.__noReload").await, "overview", "the page was not reloaded");

    // Export downloads a file.
    click(&page, "#export-csv").await;
    let mut csv_text = String::new();
    for _ in 0..200 {
        let done: Vec<PathBuf> = std::fs::read_dir(downloads.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        if let Some(file) = done.first() {
            assert!(file.file_name().unwrap().to_string_lossy().starts_with("weir-dashboard-"));
            csv_text = std::fs::read_to_string(file).unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(csv_text.starts_with("section,date,subject,metric,value"), "downloaded: {csv_text:?}");
    assert!(csv_text.contains("summary,") && csv_text.contains(",webhooks_received,4"), "{csv_text}");

    // Events: a webhook sent now appears without a reload.
    nav(&page, "#/events").await;
    until(&page, "document.querySelectorAll('#events-table [data-event-id]').length === 4", "four events").await;
    eval(&page, "window.__noReload = 'still here'").await;
    let fresh =
        deliver(&app, &shop, "msg_4", json!({"type": "customer.created", "data": {"id": 4, "email": "d@x.com"}})).await;
    until(
        &page,
        &format!("!!document.querySelector('#events-table [data-event-id=\"{fresh}\"]')"),
        "the new event, live",
    )
    .await;
    assert_eq!(eval(&page, "window.__noReload").await, "still here", "the page was not reloaded");
    shot(&page, "02-events-live").await;

    // Filter to the failed ones.
    eval(&page, "(() => { const s = document.querySelector('#filter-status'); s.value = 'failed'; })()").await;
    click(&page, "#events-filter button[type=submit]").await;
    until(
        &page,
        "(() => { const rows = [...document.querySelectorAll('#events-table [data-event-id]')]; \
           return rows.length === 2 && rows.every(r => r.querySelector('[data-status]')?.dataset.status === 'failed'); })()",
        "only the two failed events",
    )
    .await;
    assert!(page.url().await.unwrap().unwrap_or_default().contains("status=failed"), "filters live in the URL");
    shot(&page, "03-events-failed").await;

    // Replay the one the ERP refused: it completes now.
    click(&page, &format!("[data-replay=\"{refused}\"]")).await;
    settled(&app, &admin, &refused, "completed").await;
    until(&page, "document.querySelector('#flash')?.textContent", "the replay message").await;
    until(
        &page,
        &format!("!document.querySelector('#events-table [data-event-id=\"{refused}\"]')"),
        "the replayed row to leave the failed list",
    )
    .await;

    // Bulk-replay the filtered failed ones (the unmappable one fails again, once more).
    click(&page, "#bulk-replay").await;
    until(&page, "!!document.querySelector('#bulk-replay-confirm')", "the confirmation").await;
    click(&page, "#bulk-replay-confirm").await;
    until(&page, "/Replayed 1 /.test(document.querySelector('#flash')?.textContent || '')", "the bulk replay count")
        .await;
    let (_, e) = app.call(Method::GET, &format!("{API}/webhook-events/{unmappable}"), Some(&admin), None).await;
    for _ in 0..100 {
        if event_status(&app, &admin, &unmappable).await == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(e["data"]["attempts"].as_i64().unwrap() >= 1);
    shot(&page, "04-events-replayed").await;

    // Hostile payloads render as text.
    let hostile = deliver(
        &app,
        &shop,
        "msg_xss",
        json!({"type": "<img src=x onerror=\"window.__xss=1\">", "data": {
            "id": "\"><img src=x onerror=\"window.__xss=2\">",
            "email": "<script>window.__xss=3</script>"
        }}),
    )
    .await;
    nav(&page, &format!("#/events/{hostile}")).await;
    let shown = until(&page, "document.querySelector('#payload')?.textContent", "the payload").await;
    let shown = shown.as_str().unwrap();
    assert!(shown.contains("<script>window.__xss=3</script>") && shown.contains("onerror"), "{shown}");
    nav(&page, "#/events").await;
    until(
        &page,
        &format!("!!document.querySelector('#events-table [data-event-id=\"{hostile}\"]')"),
        "the hostile row",
    )
    .await;
    assert_eq!(eval(&page, "window.__xss === undefined").await, true, "no injected script ran");
    assert_eq!(eval(&page, "document.querySelectorAll('main img, main script').length").await, 0);
    assert!(eval(&page, "document.querySelector('main').textContent").await.as_str().unwrap().contains("onerror"));
    shot(&page, "05-hostile-payload-as-text").await;

    // A webhook connector's page has no configuration and no test button,
    // and prints no stray `null` for them (issue 17, item 15).
    let (_, list) = app.call(Method::GET, &format!("{API}/connectors?q=shop"), Some(&admin), None).await;
    let shop_id = list["data"][0]["id"].as_str().unwrap().to_owned();
    nav(&page, &format!("#/connectors/{shop_id}")).await;
    until(&page, "!!document.querySelector('main dl.kv')", "the connector's details").await;
    let stray = "(() => { const w = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT); \
        for (let n = w.nextNode(); n; n = w.nextNode()) if (/\\bnull\\b/.test(n.textContent)) return n.textContent; return ''; })()";
    assert_eq!(eval(&page, stray).await, "", "no text node says null");
    assert_eq!(eval(&page, "!!document.querySelector('#test-connection')").await, false);
    // Its webhook-triggered configuration offers no "Run now" (issue 17, item 16).
    until(&page, "!!document.querySelector('#sync-configs-table [data-sync-configuration-id]')", "its configurations")
        .await;
    assert_eq!(eval(&page, "document.querySelectorAll('[data-run]').length").await, 0);
    assert!(
        eval(&page, "document.querySelector('#sync-configs-table').textContent")
            .await
            .as_str()
            .unwrap()
            .contains("runs on each event")
    );

    chrome.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_refusal_sign_out_and_empty_states() {
    let app = TestApp::spawn_with(Backend::Sqlite, settings()).await.expect("sqlite app");
    let t = app.tenant("newco").await;
    let (_, admin) = app.token(&t, "admin").await;
    let chrome = Chrome::launch().await;
    let page = chrome.page(&app.url("/")).await;

    sign_in(&page, "weir_not_a_token").await;
    let error = until(&page, "document.querySelector('#signin-error')?.textContent", "the refusal").await;
    assert!(error.as_str().unwrap().to_lowercase().contains("token"), "{error}");
    shot(&page, "06-sign-in-refused").await;

    // By keyboard: type the token and press Enter.
    eval(&page, "document.querySelector('#token').value = ''").await;
    let field = page.find_element("#token").await.unwrap();
    field.click().await.unwrap().type_str(&admin).await.unwrap().press_key("Enter").await.unwrap();
    until(
        &page,
        "document.querySelector('[data-testid=summary-total_connectors]')?.textContent === '0'",
        "an empty overview",
    )
    .await;
    // A new tenant is told what to do next.
    nav(&page, "#/connectors").await;
    let text = until(
        &page,
        "/create/i.test(document.querySelector('main').textContent) && document.querySelector('main').textContent",
        "the empty state",
    )
    .await;
    assert!(text.as_str().unwrap().contains("connector"), "{text}");
    shot(&page, "07-connectors-empty").await;
    // The token is not kept anywhere scripts can read.
    assert_eq!(
        eval(
            &page,
            &format!("JSON.stringify(localStorage).includes('{admin}') || document.cookie.includes('{admin}')")
        )
        .await,
        false
    );
    assert_eq!(eval(&page, "document.cookie.includes('weir_session')").await, false, "the session cookie is HttpOnly");

    // Phone width: nothing wider than the screen; tables scroll inside their own box.
    page.set_viewport(390, 844, 2.0, true).await;
    nav(&page, "#/overview").await;
    until(
        &page,
        "document.querySelector('[data-testid=summary-total_connectors]')?.textContent === '0'",
        "the overview at 390 px",
    )
    .await;
    assert_eq!(
        eval(&page, "document.documentElement.scrollWidth <= window.innerWidth").await,
        true,
        "no horizontal scrolling of the page at 390 px"
    );
    shot(&page, "08-overview-phone").await;
    // Every form control has a label.
    nav(&page, "#/events").await;
    until(&page, "!!document.querySelector('#events-filter')", "the events filter").await;
    let unlabelled = eval(
        &page,
        "[...document.querySelectorAll('input, select, textarea')].filter(e => e.type !== 'hidden' && \
           !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id || e.name)",
    )
    .await;
    assert_eq!(unlabelled, json!([]), "controls without a label");

    click(&page, "#signout").await;
    until(&page, "!!document.querySelector('#signin-form')", "the sign-in form after sign-out").await;
    let status = eval(&page, "fetch('/api/v1/session').then(r => r.status)").await;
    assert_eq!(status, 401, "signed out on the server too");
    chrome.close().await;
}
