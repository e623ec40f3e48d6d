//! Records: idempotent, versioned upserts (written here through the store,
//! as processing will) and the read API across tenants.

use reqwest::{Method, StatusCode};
use serde_json::json;
use weir_store::{RecordWrite, UpsertOutcome};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem};

backend_tests!(upserts_are_idempotent_and_versioned, cursor_pages_see_every_record_once);

async fn upserts_are_idempotent_and_versioned(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let ta = app.tenant("tenant-a").await;
    let (_, a) = app.token(&ta, "viewer").await;
    let tb = app.tenant("tenant-b").await;
    let (_, bt) = app.token(&tb, "viewer").await;
    let store = app.store().await;
    let scope = store.authenticate(&a).await.unwrap().unwrap().scope;
    let w = |email: &str| RecordWrite {
        entity_type: "customer".into(),
        external_id: "c-1".into(),
        data: json!({"email": email}),
        source_connector_id: None,
        last_event_id: None,
        ordering_value: None,
    };
    assert_eq!(store.upsert_record(&scope, w("a@x.com")).await.unwrap().1, UpsertOutcome::Created);
    assert_eq!(store.upsert_record(&scope, w("a@x.com")).await.unwrap().1, UpsertOutcome::Unchanged);
    let (r, o) = store.upsert_record(&scope, w("b@x.com")).await.unwrap();
    assert_eq!((o, r.version), (UpsertOutcome::Updated, 2));
    let other = RecordWrite { external_id: "c-2".into(), ..w("c@x.com") };
    store.upsert_record(&scope, other).await.unwrap();
    store.close().await;

    let (s, got) = app.call(Method::GET, "/api/v1/integration/records/customer/c-1", Some(&a), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((got["data"]["data"]["email"].as_str(), got["data"]["version"].as_i64()), (Some("b@x.com"), Some(2)));
    let (_, list) = app.call(Method::GET, "/api/v1/integration/records?entity_type=customer", Some(&a), None).await;
    assert_eq!(list["meta"]["total"], 2);
    let (_, none) = app.call(Method::GET, "/api/v1/integration/records?updated_after=2999-01-01", Some(&a), None).await;
    assert_eq!(none["meta"]["total"], 0);
    assert_problem(
        app.req(Method::GET, "/api/v1/integration/records?updated_after=soon", Some(&a)),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Another tenant sees none of them.
    assert_problem(app.req(Method::GET, "/api/v1/integration/records/customer/c-1", Some(&bt)), StatusCode::NOT_FOUND)
        .await;
    let (_, list) = app.call(Method::GET, "/api/v1/integration/records", Some(&bt), None).await;
    assert_eq!(list["meta"]["total"], 0);
}

async fn cursor_pages_see_every_record_once(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let t = app.tenant("acme").await;
    let (_, token) = app.token(&t, "viewer").await;
    let store = app.store().await;
    let scope = store.authenticate(&token).await.unwrap().unwrap().scope;
    let write = |i: usize, v: &str| RecordWrite {
        entity_type: "item".into(),
        external_id: format!("i-{i}"),
        data: json!({"v": v}),
        source_connector_id: None,
        last_event_id: None,
        ordering_value: None,
    };
    for i in 0..7 {
        store.upsert_record(&scope, write(i, "a")).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut url = "/api/v1/integration/records?entity_type=item&per_page=3".to_owned();
    for round in 0..10 {
        let (s, page) = app.call(Method::GET, &url, Some(&token), None).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        seen.extend(page["data"].as_array().unwrap().iter().map(|r| r["external_id"].as_str().unwrap().to_owned()));
        if round == 0 {
            // A record changed mid-pass moves to the end: seen again, later.
            store.upsert_record(&scope, write(0, "b")).await.unwrap();
        }
        match page["meta"]["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/integration/records?entity_type=item&per_page=3&cursor={c}"),
            None => break,
        }
    }
    let mut expected: Vec<String> = (0..7).map(|i| format!("i-{i}")).collect();
    expected.push("i-0".into());
    assert_eq!(seen, expected, "every record once, in change order, plus the one changed mid-pass");
    store.close().await;
    for bad in ["cursor=nope", "cursor=bm9wZQ", "page=2&cursor=bm9wZQ"] {
        let r = app.req(Method::GET, &format!("/api/v1/integration/records?{bad}"), Some(&token));
        assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
}
