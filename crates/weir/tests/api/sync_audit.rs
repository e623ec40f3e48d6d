//! Records written by sync runs are audited (issue 17, item 12): each
//! committed page that changed records appends one `sync.records_written`
//! entry listing every changed record's key, version and change, and
//! `GET /audit-logs?record=<entity_type>/<external_id>` finds, for one
//! record, both those page entries and processing's own record entries.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem};
use crate::syncs::{connector, execute, finished, pull, tenant};

backend_tests!(sync_record_writes_are_audited_and_queryable_per_record, a_large_page_is_listed_500_records_per_entry);

const AUDIT: &str = "/api/v1/integration/audit-logs";

async fn entries(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let (s, audit) = app.call(Method::GET, &format!("{AUDIT}?per_page=100&{query}"), Some(admin), None).await;
    assert_eq!(s, StatusCode::OK, "{audit}");
    audit["data"].as_array().unwrap().clone()
}

async fn sync_record_writes_are_audited_and_queryable_per_record(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, crate::syncs::settings()).await else { return };
    let api = MockServer::start().await;
    let t = tenant(&app, "acme").await;
    let c = connector(&app, &t, "crm", &api.uri()).await;
    let page = |emails: [&str; 3]| json!([{"id": 1, "email": emails[0]}, {"id": 2, "email": emails[1]}, {"id": 3, "email": emails[2]}]);
    Mock::given(method("GET"))
        .and(path("/people"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(["a@x.com", "b@x.com", "c@x.com"])))
        .up_to_n_times(1)
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/people"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(["a@x.com", "B2@x.com", "c@x.com"])))
        .mount(&api)
        .await;
    let cfg = pull(&app, &t, &c, "people", json!({"path": "/people"})).await;
    let first = execute(&app, &t.operator, &cfg).await;
    finished(&app, &t.viewer, &first).await;
    let written = entries(&app, &t.admin, "action=sync.records_written").await;
    assert_eq!(written.len(), 1, "one entry for the page: {written:?}");
    let page_entry = &written[0];
    assert_eq!(page_entry["resource_id"], first.as_str());
    assert_eq!(page_entry["details"]["sync_history_id"], first.as_str());
    assert_eq!(page_entry["details"]["created"], 3);
    let listed = page_entry["details"]["records"].as_array().unwrap();
    let keys: Vec<(String, i64, String)> = listed
        .iter()
        .map(|r| {
            let key = format!("{}/{}", r["entity_type"].as_str().unwrap(), r["external_id"].as_str().unwrap());
            (key, r["version"].as_i64().unwrap(), r["change"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        keys,
        ["1", "2", "3"].map(|id| (format!("customer/{id}"), 1, "created".to_owned())).to_vec(),
        "every record's key, version and change"
    );

    // The second run changes record 2 only: one more page entry, listing it.
    let second = execute(&app, &t.operator, &cfg).await;
    finished(&app, &t.viewer, &second).await;
    let written = entries(&app, &t.admin, "action=sync.records_written").await;
    assert_eq!(written.len(), 2);
    assert_eq!(
        written[0]["details"]["records"],
        json!([{"entity_type": "customer", "external_id": "2", "version": 2, "change": "updated"}])
    );

    // Per record: record 2 is in both page entries, record 1 only in the first.
    let two = entries(&app, &t.admin, "record=customer/2").await;
    let runs: Vec<&str> = two.iter().map(|e| e["details"]["sync_history_id"].as_str().unwrap()).collect();
    assert_eq!(runs, [second.as_str(), first.as_str()], "newest first");
    let one = entries(&app, &t.admin, "record=customer/1").await;
    assert_eq!(one.len(), 1);
    assert!(entries(&app, &t.admin, "record=customer/404").await.is_empty());
    assert_problem(
        app.req(Method::GET, &format!("{AUDIT}?record=nokey"), Some(&t.admin)),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let (_, verify) = app.call(Method::GET, &format!("{AUDIT}/verify"), Some(&t.admin), None).await;
    assert_eq!(verify["data"]["valid"], true, "{verify}");
}

/// A page of 1,200 changed records is three entries (500, 500, 200), each
/// naming its part, and each record is found in exactly one of them.
async fn a_large_page_is_listed_500_records_per_entry(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, crate::syncs::settings()).await else { return };
    let api = MockServer::start().await;
    let t = tenant(&app, "acme").await;
    let c = connector(&app, &t, "crm", &api.uri()).await;
    let people: Vec<Value> = (1..=1200).map(|i| json!({"id": i, "email": format!("p{i}@x.com")})).collect();
    Mock::given(method("GET"))
        .and(path("/people"))
        .respond_with(ResponseTemplate::new(200).set_body_json(Value::Array(people)))
        .mount(&api)
        .await;
    let cfg = pull(&app, &t, &c, "people", json!({"path": "/people"})).await;
    let run = execute(&app, &t.operator, &cfg).await;
    assert_eq!(finished(&app, &t.viewer, &run).await["records_created"], 1200);
    let mut written = entries(&app, &t.admin, "action=sync.records_written").await;
    written.reverse();
    let sizes: Vec<(usize, u64, u64)> = written
        .iter()
        .map(|e| {
            let d = &e["details"];
            (d["records"].as_array().unwrap().len(), d["part"].as_u64().unwrap(), d["parts"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(sizes, [(500, 1, 3), (500, 2, 3), (200, 3, 3)]);
    for id in [1, 777, 1200] {
        assert_eq!(entries(&app, &t.admin, &format!("record=customer/{id}")).await.len(), 1, "record {id}");
    }
}
