//! A dry run of an inbound source (issue 20): the first page is fetched
//! through the connector, with its credentials and the pagination's first
//! query, up to 10 records are mapped and a bad one is named, and nothing
//! is written; failures come back in words; bad sources are 422 naming the
//! field. Both backends.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::syncs::{connector, tenant};

backend_tests!(the_first_page_is_mapped_and_nothing_is_written);

const DRY: &str = "/api/v1/integration/sync-configurations/dry-run";

async fn the_first_page_is_mapped_and_nothing_is_written(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let api = MockServer::start().await;
    let mut data: Vec<Value> = (1..=12).map(|i| json!({"id": i, "email": format!("U{i}@X.COM")})).collect();
    data[1] = json!({"email": "no-id@x.com"});
    Mock::given(method("GET"))
        .and(path("/customers"))
        .and(query_param("page", "1"))
        .and(header("authorization", "Bearer secret-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": data, "next_page": 2})))
        .mount(&api)
        .await;
    Mock::given(method("GET")).and(path("/broken")).respond_with(ResponseTemplate::new(500)).mount(&api).await;
    let t = tenant(&app, "acme").await;
    let c = connector(&app, &t, "crm", &api.uri()).await;
    let (_, mappings) = app.call(Method::GET, "/api/v1/integration/field-mappings", Some(&t.admin), None).await;
    let m = mappings["data"][0]["id"].as_str().unwrap().to_owned();
    let source = json!({"path": "/customers", "records_path": "data",
        "pagination": {"type": "page", "param": "page", "start": 1, "next_path": "next_page"}});
    let body = json!({"connector_id": c, "field_mapping_id": m, "source": source});

    let (s, r) = app.call(Method::POST, DRY, Some(&t.admin), Some(body.clone())).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let d = &r["data"];
    assert_eq!(
        (d["items"].as_u64(), d["more_pages"].as_bool(), d["failure"].as_str()),
        (Some(12), Some(true), None),
        "{r}"
    );
    let records = d["records"].as_array().unwrap();
    assert_eq!(records.len(), 9, "the first 10 items, less the one without a key: {r}");
    assert_eq!(
        (records[0]["external_id"].as_str(), records[0]["data"]["email"].as_str()),
        (Some("1"), Some("u1@x.com"))
    );
    assert_eq!(d["errors"][0]["item"], 2, "{r}");
    let (_, recs) =
        app.call(Method::GET, "/api/v1/integration/records?entity_type=customer", Some(&t.admin), None).await;
    assert_eq!(recs["data"].as_array().map(Vec::len), Some(0), "nothing written: {recs}");
    let (_, runs) = app.call(Method::GET, "/api/v1/integration/sync-histories", Some(&t.admin), None).await;
    assert_eq!(runs["meta"]["total"], 0, "no run: {runs}");

    // A failing source comes back in words; a bad one is 422 on its field.
    let mut broken = body.clone();
    broken["source"]["path"] = json!("/broken");
    let (s, r) = app.call(Method::POST, DRY, Some(&t.admin), Some(broken)).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r["data"]["failure"].as_str().unwrap_or("").contains("500"), "{r}");
    let mut bad = body.clone();
    bad["source"]["path"] = json!("no-slash");
    let (s, r) = app.call(Method::POST, DRY, Some(&t.admin), Some(bad)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert!(r["errors"]["source.path"].is_array(), "{r}");
    // Admins only; another tenant's connector is not found.
    let (s, _) = app.call(Method::POST, DRY, Some(&t.operator), Some(body.clone())).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let other = tenant(&app, "globex").await;
    let (s, _) = app.call(Method::POST, DRY, Some(&other.admin), Some(body)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
