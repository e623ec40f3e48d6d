//! Records written by sync runs are audited one by one, as docs/audit.md
//! says of every record write (issue 17, item 12): one `record.created` or
//! `record.updated` entry per changed record, naming the record
//! (`entity_type/external_id`), its version and the run; unchanged records
//! add nothing.

use reqwest::Method;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::syncs::{connector, execute, finished, pull, tenant};

backend_tests!(sync_record_writes_are_audited_per_record);

async fn record_entries(app: &TestApp, admin: &str) -> Vec<Value> {
    let (_, audit) = app.call(Method::GET, "/api/v1/integration/audit-logs?per_page=100", Some(admin), None).await;
    audit["data"].as_array().unwrap().iter().filter(|a| a["resource_type"] == "record").cloned().collect()
}

async fn sync_record_writes_are_audited_per_record(b: Backend) {
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
    let created = record_entries(&app, &t.admin).await;
    assert_eq!(created.len(), 3, "{created:?}");
    for e in &created {
        assert_eq!(e["action"], "record.created");
        assert_eq!(e["details"]["sync_history_id"], first.as_str());
        assert_eq!(e["details"]["version"], 1);
        assert_eq!(e["resource_id"], format!("customer/{}", e["details"]["external_id"].as_str().unwrap()));
    }
    let second = execute(&app, &t.operator, &cfg).await;
    finished(&app, &t.viewer, &second).await;
    let all = record_entries(&app, &t.admin).await;
    let updated: Vec<&Value> = all.iter().filter(|e| e["action"] == "record.updated").collect();
    assert_eq!(updated.len(), 1, "only the changed record: {all:?}");
    assert_eq!(updated[0]["resource_id"], "customer/2");
    assert_eq!(updated[0]["details"]["version"], 2);
    assert_eq!(updated[0]["details"]["sync_history_id"], second.as_str());
    assert_eq!(all.len(), 4, "unchanged records add nothing");
    let (_, verify) = app.call(Method::GET, "/api/v1/integration/audit-logs/verify", Some(&t.admin), None).await;
    assert_eq!(verify["data"]["valid"], true, "{verify}");
}
