//! A live stream does not outlive its credential (issue 17, item 5): it
//! re-checks its token or session every `WEIR_STREAM_RECHECK_SECS` (1 s
//! here, 15 s by default) and ends once the token is revoked or the session
//! signed out; a stream whose credential stands keeps going.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(streams_end_when_their_credential_does);

const STREAM: &str = "/api/v1/integration/stream";

/// Reads `res` until the server ends it; answers how long that took, or
/// `None` if it was still open after `within`.
async fn ends_within(mut res: reqwest::Response, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    loop {
        match tokio::time::timeout(within.saturating_sub(started.elapsed()), res.chunk()).await {
            Err(_) => return None,
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None) | Err(_)) => return Some(started.elapsed()),
        }
    }
}

async fn streams_end_when_their_credential_does(b: Backend) {
    let settings = weir::Settings { stream_recheck_secs: Some("1".into()), ..weir::Settings::default() };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    let (viewer_id, viewer) = app.token(&tenant, "viewer").await;
    let (_, keeper) = app.token(&tenant, "viewer").await;

    // A token stream, and one whose token stays: revoke the first.
    let revoked = app.req(Method::GET, STREAM, Some(&viewer)).send().await.unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let kept = app.req(Method::GET, STREAM, Some(&keeper)).send().await.unwrap();
    let (s, _) = app.call(Method::DELETE, &format!("/api/v1/tokens/{viewer_id}"), Some(&admin), None).await;
    assert!(s.is_success(), "{s}");
    let ended = ends_within(revoked, Duration::from_secs(5)).await;
    assert!(ended.is_some(), "the revoked token's stream ended");
    assert_eq!(ends_within(kept, Duration::from_millis(2500)).await, None, "a valid token's stream stays open");

    // A session stream: signing out ends it.
    let res = app.req(Method::POST, "/api/v1/session", None).json(&json!({"token": admin})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let session: Value = res.json().await.unwrap();
    let csrf = session["data"]["csrf_token"].as_str().unwrap().to_owned();
    let stream = app.req(Method::GET, STREAM, None).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let out = app
        .req(Method::DELETE, "/api/v1/session", None)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", app.url(""))
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success(), "{}", out.status());
    assert!(ends_within(stream, Duration::from_secs(5)).await.is_some(), "the signed-out session's stream ended");
}
