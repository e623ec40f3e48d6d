//! Configuring connectors and receivers in the console (issue 20), in
//! headless Chromium, through the forms. The test calls the API only to read
//! results, to send webhooks as a provider would, and to arrange the one
//! scheduled sync configuration that blocks a delete (sync configurations
//! have no form yet).
//!
//! An admin creates a connector: the API's 422 is shown next to the base
//! URL, "Test connection" tries the settings before they are saved, and the
//! token never comes back. They then add a receiver and see its secret once;
//! a webhook signed with that secret is accepted. They rotate the secret and
//! the old one keeps working during the grace period. They pause and resume
//! the receiver. An edit of the production connector goes to approval,
//! and reads as a before/after diff its requester may withdraw, while a
//! rename applies at once. A delete refused with 409 names the blocking
//! configuration.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::webhook::sign::sign_headers;
use weir_core::webhook::{ReceiverAuth, key_material};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::browser::chrome::{Chrome, Page, click, eval, nav, shot, sign_in, until};
use crate::helpers::{Backend, TestApp};

const API: &str = "/api/v1/integration";

async fn type_into(page: &Page, id: &str, value: &str) {
    eval(page, &format!("document.querySelector('#{id}').value = ''")).await;
    page.find_element(&format!("#{id}")).await.unwrap().click().await.unwrap().type_str(value).await.unwrap();
}

async fn choose(page: &Page, id: &str, value: &str) {
    eval(
        page,
        &format!(
            "(s => {{ s.value = '{value}'; s.dispatchEvent(new Event('change')); }})(document.querySelector('#{id}'))"
        ),
    )
    .await;
}

/// Clicks `selector` once it is on the page.
async fn tap(page: &Page, selector: &str) {
    let js = format!("!!document.querySelector({})", serde_json::to_string(selector).unwrap());
    until(page, &js, selector).await;
    click(page, selector).await;
}

/// Waits until the status region says `words` (an older message may still be there).
async fn flash_says(page: &Page, words: &str) {
    let js =
        format!("document.querySelector('#flash')?.textContent.includes({})", serde_json::to_string(words).unwrap());
    until(page, &js, words).await;
}

async fn text(page: &Page, selector: &str, what: &str) -> String {
    let js = format!("document.querySelector({})?.textContent", serde_json::to_string(selector).unwrap());
    until(page, &js, what).await.as_str().unwrap_or_default().to_owned()
}

/// Sends a signed Standard Webhooks delivery with `secret`.
async fn deliver(app: &TestApp, receiver_url: &str, secret: &str, id: &str) -> StatusCode {
    let auth = ReceiverAuth::parse(&json!({"method": "standard_webhooks"})).unwrap();
    let key = key_material(auth.method(), secret).unwrap();
    let body = json!({"type": "order.created", "id": id}).to_string().into_bytes();
    let mut req = app.client.post(receiver_url).header("content-type", "application/json");
    for (k, v) in sign_headers(&auth, &key, id, chrono::Utc::now().timestamp(), &body) {
        req = req.header(k, v);
    }
    req.body(body).send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_and_receivers_are_configured_in_the_console() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let (_, admin2) = app.token(&tenant, "admin").await;
    let partner = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .and(header("authorization", "Bearer s3cret-token"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&partner)
        .await;

    let chrome = Chrome::launch().await;
    let page = chrome.page(&app.url("/")).await;
    sign_in(&page, &admin).await;
    until(&page, "location.hash === '#/overview' && !!document.querySelector('#tenant-role')", "the Overview").await;
    nav(&page, "#/connectors").await;
    tap(&page, "#new-connector").await;
    until(&page, "!!document.querySelector('#connector-form')", "the connector form").await;

    // A bad base URL: the API's 422 is shown next to its field.
    type_into(&page, "connector-name", "Shop API").await;
    type_into(&page, "connector-code", "shop").await;
    type_into(&page, "connector-base-url", "ftp://nowhere").await;
    type_into(&page, "connector-health-path", "/health").await;
    choose(&page, "connector-auth", "bearer").await;
    type_into(&page, "connector-token", "s3cret-token").await;
    tap(&page, "#connector-save").await;
    let error = text(&page, "#connector-base-url-error", "the base URL's error").await;
    assert!(error.contains("http"), "{error}");
    assert_eq!(eval(&page, "document.querySelector('#connector-base-url').getAttribute('aria-invalid')").await, "true");
    shot(&page, "30-connector-form-field-error").await;

    // Fixed, tested before saving: nothing is saved by the test.
    type_into(&page, "connector-base-url", &partner.uri()).await;
    tap(&page, "#connector-test").await;
    let tested =
        text(&page, "#connector-test-result .pill ~ *, #connector-test-result p:has(.pill)", "the test result").await;
    assert!(tested.contains("answered"), "{tested}");
    let (_, list) = app.call(Method::GET, &format!("{API}/connectors"), Some(&admin), None).await;
    assert_eq!(list["meta"]["total"], 0, "testing saves nothing");
    tap(&page, "#connector-save").await;
    flash_says(&page, "created").await;
    let (_, list) = app.call(Method::GET, &format!("{API}/connectors"), Some(&admin), None).await;
    let c = list["data"][0].clone();
    assert_eq!((c["code"].as_str(), c["environment"].as_str()), (Some("shop"), Some("production")), "{c}");
    assert_eq!(c["has_credentials"], true);
    assert!(!list.to_string().contains("s3cret-token"), "credentials are write-only");
    let cid = c["id"].as_str().unwrap().to_owned();
    until(&page, "document.querySelector('h1')?.textContent.includes('Shop API')", "the connector's page").await;
    shot(&page, "31-connector-created").await;

    // A receiver: its URL and its secret, once; a delivery signed with it is accepted.
    type_into(&page, "receiver-name", "Shop orders").await;
    tap(&page, "#receiver-create").await;
    let secret = text(&page, "#receiver-new-secret", "the new secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let receive_url = text(&page, "#receiver-url", "the receive URL").await;
    assert!(receive_url.starts_with(&app.base) && receive_url.contains("/webhooks/shop/receive/"), "{receive_url}");
    tap(&page, "#receiver-created .copy-row button").await;
    let copied = until(&page, "document.querySelector('#receiver-created .copy-row button').textContent !== 'Copy URL' && document.querySelector('#receiver-created .copy-row button').textContent", "the copy").await;
    assert!(["Copied", "Press Ctrl+C"].contains(&copied.as_str().unwrap()), "{copied}");
    assert_eq!(deliver(&app, &receive_url, &secret, "msg-1").await, StatusCode::ACCEPTED);
    shot(&page, "32-receiver-added").await;
    let (_, receivers) =
        app.call(Method::GET, &format!("{API}/webhook-receivers?connector_id={cid}"), Some(&admin), None).await;
    let rid = receivers["data"][0]["id"].as_str().unwrap().to_owned();
    assert!(!receivers.to_string().contains(&secret), "the secret is not shown again");

    // Rotation: a new secret, and the old one still works during the grace period.
    until(&page, &format!("!!document.querySelector('#rotate-{rid}')"), "the receivers table").await;
    let row = text(&page, &format!("tr[data-receiver-id='{rid}']"), "the receiver's row").await;
    assert!(row.contains("Shop orders"), "named by its name: {row}");
    tap(&page, &format!("#rotate-{rid}")).await;
    tap(&page, &format!("#rotate-{rid}-confirm")).await;
    let rotated = text(&page, "#receiver-rotated-secret", "the rotated secret").await;
    assert!(rotated.starts_with("whsec_") && rotated != secret, "{rotated}");
    let explained = text(&page, "#receiver-rotated .secret-once p", "the grace period").await;
    assert!(explained.contains("24"), "{explained}");
    assert_eq!(deliver(&app, &receive_url, &secret, "msg-2").await, StatusCode::ACCEPTED, "old secret in grace");
    assert_eq!(deliver(&app, &receive_url, &rotated, "msg-3").await, StatusCode::ACCEPTED);

    // Pause and resume.
    tap(&page, &format!("[data-pause-receiver='{rid}']")).await;
    let paused =
        format!("document.querySelector(\"tr[data-receiver-id='{rid}'] .pill\")?.dataset.status === 'inactive'");
    until(&page, &paused, "the paused receiver").await;
    assert_eq!(deliver(&app, &receive_url, &rotated, "msg-4").await, StatusCode::GONE);
    tap(&page, &format!("[data-pause-receiver='{rid}']")).await;
    until(&page, &paused.replace("'inactive'", "'active'"), "the resumed receiver").await;
    assert_eq!(deliver(&app, &receive_url, &rotated, "msg-5").await, StatusCode::ACCEPTED);

    // An edit of the production connector's settings goes to approval; a rename applies.
    tap(&page, "#edit-connector").await;
    until(&page, "!!document.querySelector('#connector-form')", "the edit form").await;
    let help = text(&page, "#connector-environment-help", "the approval note").await;
    assert!(help.contains("approval"), "{help}");
    assert!(text(&page, "#connector-credentials-help", "the stored note").await.contains("stored"));
    type_into(&page, "connector-timeout", "5000").await;
    tap(&page, "#connector-save").await;
    flash_says(&page, "Sent for approval").await;
    let (_, crs) = app.call(Method::GET, &format!("{API}/change-requests?status=pending"), Some(&admin2), None).await;
    assert_eq!(crs["data"][0]["changes"]["config"]["timeout_ms"], 5000, "{crs}");
    let (_, now) = app.call(Method::GET, &format!("{API}/connectors/{cid}"), Some(&admin), None).await;
    assert_eq!(now["data"]["config"]["timeout_ms"], 10000, "not applied before approval");
    // The pending change reads as a diff of the one field; its requester may withdraw it.
    let cr = crs["data"][0]["id"].as_str().unwrap().to_owned();
    let diff = text(&page, &format!("#diff-{cr} tr[data-field='config.timeout_ms']"), "the diff").await;
    assert!(diff.contains("10000") && diff.contains("5000"), "{diff}");
    let rows = eval(&page, &format!("document.querySelectorAll('#diff-{cr} tbody tr').length")).await;
    assert_eq!(rows, 1, "only what changes");
    shot(&page, "33-change-request-diff").await;
    tap(&page, &format!("[data-withdraw='{cr}']")).await;
    flash_says(&page, "withdrawn").await;
    let (_, gone) = app.call(Method::GET, &format!("{API}/change-requests/{cr}"), Some(&admin), None).await;
    assert_eq!(gone["data"]["status"], "rejected", "{gone}");
    tap(&page, "#edit-connector").await;
    until(&page, "!!document.querySelector('#connector-form')", "the edit form").await;
    type_into(&page, "connector-name", "Shop").await;
    tap(&page, "#connector-save").await;
    flash_says(&page, "saved").await;
    until(&page, "document.querySelector('h1')?.textContent.startsWith('Shop ')", "the new name").await;

    // A delete refused by an active scheduled configuration is explained by its name.
    let blocking = scheduled_configuration(&app, &admin, &cid).await;
    tap(&page, "#connector-delete").await;
    tap(&page, "#connector-delete-confirm").await;
    let why = text(&page, "#connector-delete-error", "the refusal").await;
    assert!(why.contains("“Nightly orders”") && !why.contains(&blocking), "{why}");
    shot(&page, "35-connector-delete-refused").await;
    let path = format!("{API}/sync-configurations/{blocking}");
    let (s, _) = app.call(Method::PATCH, &path, Some(&admin), Some(json!({"is_active": false}))).await;
    assert_eq!(s, StatusCode::OK);
    tap(&page, "#connector-delete").await;
    tap(&page, "#connector-delete-confirm").await;
    flash_says(&page, "deleted").await;
    let (s, _) = app.call(Method::GET, &format!("{API}/connectors/{cid}"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The form at phone width.
    page.set_viewport(390, 844, 2.0, true).await;
    nav(&page, "#/connectors/new").await;
    until(&page, "!!document.querySelector('#connector-form')", "the form at 390 px").await;
    let overflow = eval(&page, "document.documentElement.scrollWidth > window.innerWidth").await;
    assert_eq!(overflow, false, "no sideways scrolling at 390 px");
    shot(&page, "36-connector-form-390").await;
    chrome.close().await;
}

/// An active scheduled inbound configuration of `connector` named "Nightly orders".
async fn scheduled_configuration(app: &TestApp, admin: &str, connector: &str) -> String {
    let mapping = json!({"name": "orders", "entity_type": "order", "key": "external_id",
        "rules": [{"source": "id", "target": "external_id", "required": true}]});
    let (s, m) = app.call(Method::POST, &format!("{API}/field-mappings"), Some(admin), Some(mapping)).await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let body = json!({"connector_id": connector, "name": "Nightly orders", "direction": "inbound",
        "entity_type": "order", "field_mapping_id": m["data"]["id"], "trigger": "schedule", "schedule": "0 3 * * *",
        "source": {"path": "/orders", "records_path": "data"}});
    let (s, c): (StatusCode, Value) =
        app.call(Method::POST, &format!("{API}/sync-configurations"), Some(admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c["data"]["id"].as_str().unwrap().to_owned()
}

/// A scheduled inbound configuration, made and changed in the console: the
/// schedule field lists the next five runs (and refuses a bad one), the
/// pagination settings follow the chosen type, a 422 is shown beside its
/// field, and pause and delete work from the connector's page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_configurations_are_configured_in_the_console() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let partner = MockServer::start().await;
    let page_one = json!({"data": [{"id": 1}, {"id": 2}, {"name": "no id"}], "meta": {"next": "c2"}});
    Mock::given(method("GET"))
        .and(path("/customers"))
        .and(wiremock::matchers::query_param("cursor", "c2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .with_priority(1)
        .mount(&partner)
        .await;
    Mock::given(method("GET"))
        .and(path("/customers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page_one))
        .mount(&partner)
        .await;
    let connector = json!({"code": "crm", "name": "CRM", "type": "http", "environment": "development",
        "config": {"base_url": partner.uri()}});
    let (_, c) = app.call(Method::POST, &format!("{API}/connectors"), Some(&admin), Some(connector)).await;
    let cid = c["data"]["id"].as_str().unwrap().to_owned();
    let mapping = json!({"name": "customers", "entity_type": "customer", "key": "external_id",
        "rules": [{"source": "id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]}]});
    let (_, m) = app.call(Method::POST, &format!("{API}/field-mappings"), Some(&admin), Some(mapping)).await;
    let mid = m["data"]["id"].as_str().unwrap().to_owned();

    let chrome = Chrome::launch().await;
    let page = chrome.page(&app.url("/")).await;
    sign_in(&page, &admin).await;
    until(&page, "location.hash === '#/overview' && !!document.querySelector('#tenant-role')", "the Overview").await;
    nav(&page, &format!("#/connectors/{cid}")).await;
    tap(&page, "#new-sync-configuration").await;
    until(&page, "!!document.querySelector('#sync-form #sync-mapping option:nth-child(2)')", "the form").await;
    type_into(&page, "sync-name", "CRM customers").await;
    type_into(&page, "sync-entity-type", "Bad Type!").await;
    choose(&page, "sync-mapping", &mid).await;
    let runs = "document.querySelectorAll('#sync-next-runs li').length";
    type_into(&page, "sync-schedule", "every day").await;
    let refused = text(&page, "#sync-schedule-error", "the schedule's error").await;
    assert!(refused.contains("cron"), "{refused}");
    assert_eq!(eval(&page, runs).await, 0);
    type_into(&page, "sync-schedule", "0 3 * * *").await;
    until(&page, &format!("{runs} === 5"), "the next five runs").await;
    assert_eq!(eval(&page, "document.querySelector('#sync-schedule-error').textContent").await, "");
    type_into(&page, "sync-source-path", "/customers").await;
    type_into(&page, "sync-records-path", "data").await;
    let visible = |id: &str| format!("document.querySelector('#{id}').closest('[hidden]') === null");
    assert_eq!(eval(&page, &visible("sync-page-param")).await, false, "no parameters without pagination");
    choose(&page, "sync-pagination", "cursor").await;
    assert_eq!(eval(&page, &visible("sync-page-param")).await, true);
    assert_eq!(eval(&page, &visible("sync-limit")).await, false, "offset settings stay hidden");
    type_into(&page, "sync-page-param", "cursor").await;
    type_into(&page, "sync-next-path", "meta.next").await;
    // A dry run: the first page, mapped, nothing written.
    tap(&page, "#sync-dry-run").await;
    let shown = until(
        &page,
        "document.querySelector('#sync-dry-run-result')?.textContent.includes('on the first page') \
         && document.querySelector('#sync-dry-run-result').textContent",
        "the dry run",
    )
    .await;
    assert!(shown.as_str().unwrap().contains("3 records on the first page; more pages follow"), "{shown}");
    assert!(shown.as_str().unwrap().contains("Record 3"), "the keyless one is named: {shown}");
    shot(&page, "37-sync-form").await;
    tap(&page, "#sync-save").await;
    let bad = text(&page, "#sync-entity-type-error", "the record type's error").await;
    assert!(!bad.is_empty(), "a 422 beside the field");
    type_into(&page, "sync-entity-type", "customer").await;
    tap(&page, "#sync-save").await;
    flash_says(&page, "created").await;
    let (_, list) =
        app.call(Method::GET, &format!("{API}/sync-configurations?connector_id={cid}"), Some(&admin), None).await;
    let s = list["data"][0].clone();
    assert_eq!((s["name"].as_str(), s["schedule"].as_str()), (Some("CRM customers"), Some("0 3 * * *")), "{s}");
    assert_eq!(
        s["source"]["pagination"],
        json!({"type": "cursor", "param": "cursor", "next_path": "meta.next"}),
        "{s}"
    );
    assert!(s["next_run_at"].is_string(), "{s}");
    let sid = s["id"].as_str().unwrap().to_owned();

    // Edit the schedule; the rest stays.
    tap(&page, &format!("[data-edit-sync='{sid}']")).await;
    until(&page, "document.querySelector('#sync-name')?.value === 'CRM customers'", "the edit form").await;
    type_into(&page, "sync-schedule", "30 2 * * *").await;
    until(&page, &format!("{runs} === 5"), "the next runs").await;
    tap(&page, "#sync-save").await;
    flash_says(&page, "saved").await;
    let (_, one) = app.call(Method::GET, &format!("{API}/sync-configurations/{sid}"), Some(&admin), None).await;
    assert_eq!(one["data"]["schedule"], "30 2 * * *", "{one}");
    assert_eq!(one["data"]["source"]["pagination"]["next_path"], "meta.next", "{one}");

    // Its runs are listed by the configuration's name, on the list and the run's page.
    let (s, run) =
        app.call(Method::POST, &format!("{API}/sync-configurations/{sid}/execute"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{run}");
    let run_id = run["data"]["sync_history_id"].as_str().unwrap().to_owned();
    nav(&page, "#/syncs").await;
    let row = format!(
        "document.querySelector(\"#syncs-table tbody tr a[href='#/syncs/{run_id}']\")?.closest('tr').textContent"
    );
    until(&page, &format!("{row}?.includes('CRM customers')"), "the run named by its configuration").await;
    nav(&page, &format!("#/syncs/{run_id}")).await;
    until(
        &page,
        "document.querySelector('main dl.kv')?.textContent.includes('CRM customers')",
        "the run page's configuration",
    )
    .await;
    nav(&page, &format!("#/connectors/{cid}")).await;

    // Pause, then delete.
    tap(&page, &format!("[data-pause-sync='{sid}']")).await;
    flash_says(&page, "paused").await;
    let (_, one) = app.call(Method::GET, &format!("{API}/sync-configurations/{sid}"), Some(&admin), None).await;
    assert_eq!(one["data"]["is_active"], false, "{one}");
    tap(&page, &format!("#delete-sync-{sid}")).await;
    tap(&page, &format!("#delete-sync-{sid}-confirm")).await;
    flash_says(&page, "deleted").await;
    let (s, _) = app.call(Method::GET, &format!("{API}/sync-configurations/{sid}"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    chrome.close().await;
}
