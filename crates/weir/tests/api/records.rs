//! Records: idempotent, versioned upserts (written here through the store,
//! as processing will) and the read API across tenants.

use reqwest::{Method, StatusCode};
use serde_json::json;
use weir_store::{RecordWrite, UpsertOutcome};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem};

backend_tests!(upserts_are_idempotent_and_versioned);

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
