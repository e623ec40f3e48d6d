//! Accessibility of every console page (issue 20): axe-core (npm, pinned in
//! `tests/axe`, injected by the test over the DevTools protocol and never
//! served by Weir) finds no serious or critical violation on any page, with
//! data on it, at 1280 and 390 px. The create-connector flow is also
//! completed with the keyboard alone.

use reqwest::Method;
use serde_json::{Value, json};
use wiremock::MockServer;

use crate::browser::chrome::{Chrome, Page, eval, nav, sign_in, until};
use crate::browser::{deliver, shop};
use crate::helpers::{Backend, TestApp};

/// axe's serious and critical violations on the page now, as "rule: node, …" lines.
async fn violations(page: &Page, axe: &str) -> Vec<String> {
    if eval(page, "typeof window.axe").await != "object" {
        eval(page, axe).await;
    }
    let found = eval(
        page,
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations \
         .filter(v => v.impact === 'serious' || v.impact === 'critical') \
         .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))",
    )
    .await;
    found.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_has_no_serious_accessibility_violation() {
    let root = crate::npm::ensure("axe", "axe-core").await;
    let axe = std::fs::read_to_string(root.join("node_modules/axe-core/axe.min.js")).expect("axe.min.js");
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
    let erp = MockServer::start().await;
    let s = shop(&app, &erp).await;
    let event = deliver(&app, &s, "msg-a11y", json!({"type": "customer.created", "data": {"id": 7}})).await;
    let (_, list) = app.call(Method::GET, "/api/v1/integration/connectors", Some(&s.admin), None).await;
    let cid = list["data"][0]["id"].as_str().unwrap().to_owned();
    let (_, syncs) = app.call(Method::GET, "/api/v1/integration/sync-configurations", Some(&s.admin), None).await;
    let sid = syncs["data"][0]["id"].as_str().unwrap().to_owned();

    let chrome = Chrome::launch().await;
    let page = chrome.page(&app.url("/")).await;
    until(&page, "!!document.querySelector('#signin-form')", "the sign-in page").await;
    let mut found = Vec::new();
    for v in violations(&page, &axe).await {
        found.push(format!("sign-in: {v}"));
    }
    sign_in(&page, &s.admin).await;
    until(&page, "location.hash === '#/overview' && !!document.querySelector('#tenant-role')", "the Overview").await;
    let pages = [
        "#/overview".to_owned(),
        "#/connectors".to_owned(),
        format!("#/connectors/{cid}"),
        "#/connectors/new".to_owned(),
        format!("#/connectors/{cid}/edit"),
        format!("#/sync-configurations/new?connector_id={cid}"),
        format!("#/sync-configurations/{sid}/edit"),
        "#/field-mappings".to_owned(),
        "#/field-mappings/new".to_owned(),
        "#/events".to_owned(),
        format!("#/events/{event}"),
        "#/syncs".to_owned(),
        "#/audit".to_owned(),
        "#/users".to_owned(),
        "#/profile".to_owned(),
    ];
    for (width, height, mobile) in [(1280, 900, false), (390, 844, true)] {
        page.set_viewport(width, height, if mobile { 2.0 } else { 1.0 }, mobile).await;
        for hash in &pages {
            nav(&page, hash).await;
            // Drawn: no "Loading…" left in the page.
            until(
                &page,
                "!document.querySelector('main .loading') && document.querySelector('main').children.length > 0",
                hash,
            )
            .await;
            for v in violations(&page, &axe).await {
                found.push(format!("{hash} at {width} px: {v}"));
            }
        }
    }
    assert!(found.is_empty(), "serious or critical accessibility violations:\n{}", found.join("\n"));

    page.set_viewport(1280, 900, 1.0, false).await;
    create_a_connector_by_keyboard(&app, &s.admin, &page).await;
    chrome.close().await;
}

async fn key(page: &Page, key: &str) {
    page.find_element("body").await.unwrap().press_key(key).await.unwrap();
}

/// Presses Tab until `id` has the focus (at most 40 times).
async fn tab_to(page: &Page, id: &str) {
    for _ in 0..40 {
        if eval(page, "document.activeElement?.id").await == id {
            return;
        }
        key(page, "Tab").await;
    }
    panic!("Tab never reached #{id}");
}

async fn type_here(page: &Page, text: &str) {
    page.find_element("body").await.unwrap().type_str(text).await.unwrap();
}

/// The create-connector flow with the keyboard alone: Tab to "New connector",
/// Enter, fill in the fields, choose options with the arrow keys, Enter.
async fn create_a_connector_by_keyboard(app: &TestApp, admin: &str, page: &Page) {
    let partner = MockServer::start().await;
    nav(page, "#/connectors").await;
    until(page, "!!document.querySelector('#new-connector')", "the connectors page").await;
    eval(page, "document.activeElement?.blur()").await;
    tab_to(page, "new-connector").await;
    key(page, "Enter").await;
    until(page, "!!document.querySelector('#connector-name')", "the form").await;
    tab_to(page, "connector-name").await;
    type_here(page, "Keyboard Shop").await;
    tab_to(page, "connector-code").await;
    type_here(page, "kbd").await;
    tab_to(page, "connector-environment").await;
    key(page, "ArrowDown").await;
    key(page, "ArrowDown").await;
    tab_to(page, "connector-base-url").await;
    type_here(page, &partner.uri()).await;
    tab_to(page, "connector-auth").await;
    key(page, "ArrowDown").await;
    tab_to(page, "connector-token").await;
    type_here(page, "kbd-token").await;
    key(page, "Enter").await;
    until(page, "document.querySelector('#flash')?.textContent.includes('created')", "the created message").await;
    let (_, list) = app.call(Method::GET, "/api/v1/integration/connectors?q=kbd", Some(admin), None).await;
    let c = &list["data"][0];
    assert_eq!(
        (
            c["name"].as_str(),
            c["environment"].as_str(),
            c["config"]["auth"]["type"].as_str(),
            c["has_credentials"].as_bool()
        ),
        (Some("Keyboard Shop"), Some("development"), Some("bearer"), Some(true)),
        "{list}"
    );
}

/// Times are shown in the viewer's zone, named, and the header's switch
/// shows them in UTC instead; the choice survives a reload. (And the
/// Overview's cards link to the lists they count.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_switch_between_the_viewers_zone_and_utc() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
    let erp = MockServer::start().await;
    let s = shop(&app, &erp).await;
    let (_, list) = app.call(Method::GET, "/api/v1/integration/connectors", Some(&s.admin), None).await;
    let cid = list["data"][0]["id"].as_str().unwrap().to_owned();
    let chrome = Chrome::launch().await;
    let page = chrome.page(&app.url("/")).await;
    page.set_timezone("Asia/Tokyo").await;
    sign_in(&page, &s.admin).await;
    until(&page, "location.hash === '#/overview' && !!document.querySelector('#tenant-role')", "the Overview").await;
    // The summary cards link to the lists they count, for the range shown.
    let link = until(
        &page,
        "document.querySelector(\"[data-card-link='webhooks_failed']\")?.getAttribute('href')",
        "a card link",
    )
    .await;
    let link = link.as_str().unwrap().to_owned();
    assert!(link.starts_with("#/events?status=failed&from=") && link.contains("&to="), "{link}");
    let note = eval(&page, "[...document.querySelectorAll('.card-note')].map(n => n.textContent).join(' | ')").await;
    assert!(note.as_str().unwrap().contains("of all that finished"), "success rate says what it measures: {note}");
    crate::browser::chrome::click(&page, "[data-card-link='webhooks_failed']").await;
    until(&page, "location.hash.startsWith('#/events?status=failed') && document.querySelector('#filter-status')?.value === 'failed'", "the failed events").await;
    nav(&page, &format!("#/connectors/{cid}")).await;
    let created = "document.querySelector('dl.kv time')?.textContent";
    let local = until(&page, created, "a time").await;
    assert!(local.as_str().unwrap().contains("GMT+9"), "the viewer's zone, named: {local}");
    assert_eq!(eval(&page, "document.querySelector('#time-zone').textContent").await, "Times: local");
    crate::browser::chrome::click(&page, "#time-zone").await;
    let utc = until(&page, &format!("{created}?.includes('UTC') && {created}"), "the time in UTC").await;
    assert!(!utc.as_str().unwrap().contains("GMT+9"), "{utc}");
    assert_eq!(eval(&page, "document.querySelector('#time-zone').getAttribute('aria-pressed')").await, "true");
    eval(&page, "window.reloadedMarker = 1; location.reload()").await;
    // The new document: no marker, signed in again, the switch still on UTC.
    let again = format!(
        "window.reloadedMarker === undefined && document.querySelector('#time-zone')?.textContent === 'Times: UTC' && {created}"
    );
    let utc = crate::browser::chrome::until_after_load(&page, &again, "UTC after a reload").await;
    assert!(utc.as_str().unwrap().contains("UTC"), "{utc}");
    chrome.close().await;
}
