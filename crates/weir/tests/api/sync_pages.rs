//! Inbound runs write up to two pages at once on PostgreSQL (issue 18): a
//! record key that appears on every page still ends with the last page's
//! data and one version per page, and the counts add up. (What keeps the
//! order is that a page sharing a key with one still being written waits
//! for it; this checks the outcome people rely on, which timing alone
//! rarely breaks.)

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::syncs::{connector, execute, finished, pull, settings, tenant};

backend_tests!(a_key_on_several_pages_ends_with_the_last_page);

async fn a_key_on_several_pages_ends_with_the_last_page(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, settings()).await else { return };
    let api = MockServer::start().await;
    // Eight pages of 20 new customers each; customer 0 is on every page,
    // with the page's number in its email.
    for page in 1..=8usize {
        let mut data: Vec<Value> =
            (0..20).map(|i| json!({"id": page * 100 + i, "email": format!("p{page}-{i}@x.com")})).collect();
        data.push(json!({"id": 0, "email": format!("page{page}@x.com")}));
        let next = if page == 8 { Value::Null } else { json!(page + 1) };
        Mock::given(method("GET"))
            .and(path("/customers"))
            .and(query_param("page", page.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": data, "next_page": next})))
            .mount(&api)
            .await;
    }
    let t = tenant(&app, "acme").await;
    let c = connector(&app, &t, "crm", &api.uri()).await;
    let source = json!({"path": "/customers", "records_path": "data",
        "pagination": {"type": "page", "param": "page", "start": 1, "next_path": "next_page"}});
    let config = pull(&app, &t, &c, "paged", source).await;
    let h = finished(&app, &t.viewer, &execute(&app, &t.operator, &config).await).await;
    assert_eq!(h["status"], "succeeded", "{h}");
    assert_eq!(
        (h["pages"].as_i64(), h["records_read"].as_i64(), h["records_created"].as_i64(), h["records_updated"].as_i64()),
        (Some(8), Some(168), Some(161), Some(7)),
        "{h}"
    );
    let (s, r) = app.call(Method::GET, "/api/v1/integration/records/customer/0", Some(&t.viewer), None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!((r["data"]["data"]["email"].as_str(), r["data"]["version"].as_i64()), (Some("page8@x.com"), Some(8)));
}
