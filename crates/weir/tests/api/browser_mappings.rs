//! The mapping editor (issue 20) in headless Chromium: rules built as a
//! table, the live preview of the record they make from a pasted sample and
//! from a stored event (nothing written), a bad rule's error shown on its
//! row, the JSON tab, and saving.

use reqwest::Method;
use serde_json::json;
use wiremock::MockServer;

use crate::browser::chrome::{Chrome, Page, click, eval, nav, shot, sign_in, until};
use crate::browser::{deliver, shop};
use crate::helpers::{Backend, TestApp};

async fn type_into(page: &Page, id: &str, value: &str) {
    eval(page, &format!("document.querySelector('#{id}').value = ''")).await;
    page.find_element(&format!("#{id}")).await.unwrap().click().await.unwrap().type_str(value).await.unwrap();
}

async fn output_has(page: &Page, words: &str) {
    let js = format!(
        "document.querySelector('#preview-output')?.textContent.includes({})",
        serde_json::to_string(words).unwrap()
    );
    until(page, &js, words).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_is_built_with_a_live_preview() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
    let erp = MockServer::start().await;
    let s = shop(&app, &erp).await;
    deliver(&app, &s, "msg-m", json!({"type": "customer.created", "data": {"id": 42, "email": " Ann@X.com "}})).await;

    let chrome = Chrome::launch().await;
    let page = chrome.page(&app.url("/")).await;
    sign_in(&page, &s.admin).await;
    until(&page, "location.hash === '#/overview' && !!document.querySelector('#tenant-role')", "the Overview").await;
    nav(&page, "#/field-mappings").await;
    until(&page, "!!document.querySelector('#new-mapping')", "the mappings page").await;
    click(&page, "#new-mapping").await;
    until(&page, "!!document.querySelector('#rule-0-source')", "the editor").await;
    type_into(&page, "mapping-name", "People").await;
    type_into(&page, "mapping-entity-type", "person").await;
    click(&page, "#add-rule").await;
    type_into(&page, "rule-1-source", "data.email").await;
    type_into(&page, "rule-1-target", "email").await;
    type_into(&page, "rule-1-transforms", "trim | lowercase").await;
    // The pasted sample, as typed.
    output_has(&page, "ann@example.com").await;
    // A stored event, as it was received.
    eval(&page, "(s => { s.value = 'event'; s.dispatchEvent(new Event('change')); })(document.querySelector('#preview-source'))").await;
    output_has(&page, "\"42\"").await;
    output_has(&page, "ann@x.com").await;
    shot(&page, "40-mapping-editor-preview").await;

    // A bad rule is named on its row; removing it clears the error.
    click(&page, "#add-rule").await;
    type_into(&page, "rule-2-target", "z").await;
    type_into(&page, "rule-2-transforms", "explode").await;
    let error = until(&page, "document.querySelector('#rule-2-error')?.textContent", "the bad rule's error").await;
    assert!(error.as_str().unwrap().contains("explode") || !error.as_str().unwrap().is_empty(), "{error}");
    click(&page, "tr[data-rule='2'] button").await;
    until(
        &page,
        "!document.querySelector('#rule-2-source') && document.querySelector('#preview-errors').textContent === ''",
        "the error gone",
    )
    .await;

    // The JSON tab holds the same mapping.
    click(&page, "#tab-json").await;
    let text = until(&page, "document.querySelector('#mapping-json')?.value", "the JSON").await;
    let m: serde_json::Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
    assert_eq!(m["rules"][1]["transforms"], json!([{"op": "trim"}, {"op": "lowercase"}]), "{m}");
    click(&page, "#tab-table").await;
    until(&page, "document.querySelector('#rule-1-transforms')?.value === 'trim | lowercase'", "the table again").await;

    click(&page, "#mapping-save").await;
    until(&page, "document.querySelector('#flash')?.textContent.includes('created')", "the created message").await;
    let (_, list) =
        app.call(Method::GET, "/api/v1/integration/field-mappings?entity_type=person", Some(&s.admin), None).await;
    let saved = &list["data"][0];
    assert_eq!((saved["name"].as_str(), saved["key"].as_str()), (Some("People"), Some("external_id")), "{list}");
    let rule = &saved["rules"][1];
    assert_eq!((rule["source"].as_str(), rule["target"].as_str()), (Some("data.email"), Some("email")), "{rule}");
    assert_eq!(rule["transforms"], json!([{"op": "trim"}, {"op": "lowercase"}]), "{rule}");
    assert_eq!(saved["rules"][0]["required"], true, "{saved}");
    shot(&page, "41-mapping-saved").await;

    // The shop's own mapping is used by its configuration: its delete is refused, in words.
    let (_, all) =
        app.call(Method::GET, "/api/v1/integration/field-mappings?entity_type=customer", Some(&s.admin), None).await;
    let used = all["data"][0]["id"].as_str().unwrap().to_owned();
    nav(&page, &format!("#/field-mappings/{used}")).await;
    until(&page, "!!document.querySelector('#mapping-delete')", "the delete button").await;
    click(&page, "#mapping-delete").await;
    click(&page, "#mapping-delete-confirm").await;
    let why = until(&page, "document.querySelector('#mapping-delete-error')?.textContent", "the refusal").await;
    assert!(why.as_str().unwrap().contains("sync configuration uses"), "{why}");
    // The new one is not used: it goes.
    let people = saved["id"].as_str().unwrap().to_owned();
    nav(&page, &format!("#/field-mappings/{people}")).await;
    until(&page, "document.querySelector('h1')?.textContent === 'People'", "the People mapping").await;
    click(&page, "#mapping-delete").await;
    click(&page, "#mapping-delete-confirm").await;
    until(&page, "document.querySelector('#flash')?.textContent.includes('deleted')", "the deleted message").await;
    let (s2, _) =
        app.call(Method::GET, &format!("/api/v1/integration/field-mappings/{people}"), Some(&s.admin), None).await;
    assert_eq!(s2, reqwest::StatusCode::NOT_FOUND);
    chrome.close().await;
}
