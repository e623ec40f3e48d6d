//! `GET /sync-configurations/schedule-preview` (issue 20): the next runs of
//! a cron schedule as the scheduler computes them, for the console's
//! schedule field; bad schedules are 422 naming the field.

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(a_schedule_previews_its_next_runs);

const PREVIEW: &str = "/api/v1/integration/sync-configurations/schedule-preview";

async fn a_schedule_previews_its_next_runs(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let t = app.tenant("acme").await;
    let (_, viewer) = app.token(&t, "viewer").await;
    let before = Utc::now();
    let (s, r) =
        app.call(Method::GET, &format!("{PREVIEW}?schedule=%2A%2F15+%2A+%2A+%2A+%2A"), Some(&viewer), None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["data"]["schedule"], "*/15 * * * *");
    let runs: Vec<DateTime<Utc>> =
        r["data"]["next_runs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(runs.len(), 5, "{r}");
    assert!(runs[0] > before && runs[0] <= before + chrono::Duration::minutes(15), "{r}");
    for pair in runs.windows(2) {
        assert_eq!(pair[1] - pair[0], chrono::Duration::minutes(15), "{r}");
    }
    assert!(runs.iter().all(|t| t.timestamp() % 900 == 0), "on the quarter hours, UTC: {r}");
    let (_, r) = app.call(Method::GET, &format!("{PREVIEW}?schedule=0+3+*+*+*&count=2"), Some(&viewer), None).await;
    assert_eq!(r["data"]["next_runs"].as_array().map(Vec::len), Some(2), "{r}");

    for bad in ["schedule=not+cron", "schedule=0+0+30+2+*", "schedule=*+*+*+*+*&count=0", "schedule=*+*+*+*+*&count=21"]
    {
        let (s, r) = app.call(Method::GET, &format!("{PREVIEW}?{bad}"), Some(&viewer), None).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {r}");
        assert!(r["errors"]["schedule"].is_array() || r["errors"]["count"].is_array(), "{bad}: {r}");
    }
    let (s, _) = app.call(Method::GET, &format!("{PREVIEW}?schedule=*+*+*+*+*"), None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
