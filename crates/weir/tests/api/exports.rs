//! Every CSV export neutralises spreadsheet formulas (issue 17, item 7): a
//! partner's value such as `=HYPERLINK(…)`, `+SUM(1+1)`, `-1+2` or `@cmd`
//! comes out prefixed with `'`, so opening the export in a spreadsheet runs
//! nothing. Each export is read back with the `csv` crate and every cell is
//! checked.

use reqwest::{Method, StatusCode};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};
use crate::syncs::{connector, execute, finished, pull, tenant};

backend_tests!(every_csv_export_neutralises_formulas);

const HOSTILE: [&str; 6] = ["=HYPERLINK(\"http://evil.example/\",\"x\")", "+SUM(1+1)", "-1+2", "@cmd", "\tTAB", "\rCR"];

/// Downloads `path` as CSV and answers its rows, header included.
async fn csv_of(app: &TestApp, token: &str, path: &str) -> Vec<Vec<String>> {
    let res = app.req(Method::GET, path, Some(token)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let text = res.text().await.unwrap();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect()
}

/// No cell of `rows` starts a formula.
fn assert_safe(what: &str, rows: &[Vec<String>]) {
    for row in rows {
        for cell in row {
            let first = cell.chars().next();
            assert!(
                !matches!(first, Some('=' | '+' | '-' | '@' | '\t' | '\r')),
                "{what}: unsafe cell {cell:?} in {row:?}"
            );
        }
    }
}

async fn every_csv_export_neutralises_formulas(b: Backend) {
    let Some(app) = TestApp::spawn_with(b, crate::syncs::settings()).await else { return };
    let api = MockServer::start().await;
    let t = tenant(&app, "acme").await;
    let c = connector(&app, &t, "crm", &api.uri()).await;
    // Each hostile id comes with an email the mapping cannot lowercase (a
    // number), so each becomes a run error whose record_ref is the id.
    let mut items: Vec<_> = HOSTILE.iter().enumerate().map(|(i, id)| json!({"id": id, "email": i})).collect();
    items.push(json!({"id": "=ok", "email": "A@B.C"}));
    Mock::given(method("GET"))
        .and(path("/hostile"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(items)))
        .mount(&api)
        .await;
    let cfg = pull(&app, &t, &c, "hostile", json!({"path": "/hostile"})).await;
    let run = execute(&app, &t.operator, &cfg).await;
    let h = finished(&app, &t.viewer, &run).await;
    assert_eq!((h["status"].as_str(), h["records_failed"].as_u64()), (Some("partial"), Some(6)), "{h}");

    let runs = csv_of(&app, &t.viewer, &format!("/api/v1/integration/sync-histories/{run}/export?format=csv")).await;
    assert_safe("run export", &runs);
    let refs: Vec<&str> = runs.iter().skip(2).map(|r| r[8].as_str()).collect();
    for hostile in HOSTILE {
        assert!(refs.contains(&format!("'{hostile}").as_str()), "{hostile:?} kept, prefixed: {refs:?}");
    }
    let audit = csv_of(&app, &t.admin, "/api/v1/integration/audit-logs/export?format=csv").await;
    assert_safe("audit export", &audit);
    assert!(audit.iter().any(|r| r[3] == "sync.finished"), "the run is in the audit export: {audit:?}");
    let dashboard = csv_of(&app, &t.admin, "/api/v1/integration/dashboard/export?format=csv").await;
    assert_safe("dashboard export", &dashboard);
    assert!(dashboard.len() > 1, "{dashboard:?}");
}
