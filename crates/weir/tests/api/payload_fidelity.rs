//! The stored payload is what was received (issue 17, item 9): the events
//! API returns the body byte for byte — big integers digit for digit,
//! `0.1`, key order, a duplicate key, the sender's whitespace — the stored
//! bytes hash to the audited SHA-256, and mappings read numbers without
//! losing digits (`to_string` of a 30-digit id gives the 30 digits).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::browser::{deliver_bytes, shop};
use crate::helpers::{Backend, TestApp};

backend_tests!(payloads_are_kept_and_shown_as_received);

const API: &str = "/api/v1/integration";
const BIG: &str = "123456789012345678901234567890";

async fn payloads_are_kept_and_shown_as_received(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let erp = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(204)).mount(&erp).await;
    let s = shop(&app, &erp).await;
    let body = format!(
        "{{\"type\": \"customer.created\",\n  \"zeta\": 1, \"alpha\": {{\"b\": 2, \"a\": 1}},\n  \"note\": \"first\", \"note\": \"second\",\n  \"data\": {{\"id\": {BIG}, \"email\": \"big@x.com\", \"amount\": 0.1, \"precise\": 1.000000000000000000001}}\n}}"
    );
    // As `curl -d @file` sends it: with a trailing newline.
    let sent = format!("{body}\n");
    let (status, answer) = deliver_bytes(&app, &s, "msg_big", sent.clone().into_bytes()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let id = answer["data"]["event_id"].as_str().unwrap().to_owned();

    // The events API embeds the body unchanged.
    let res = app.req(Method::GET, &format!("{API}/webhook-events/{id}"), Some(&s.admin)).send().await.unwrap();
    let text = res.text().await.unwrap();
    assert!(text.contains(&format!("\"payload\":{body}")), "the payload is not the received bytes: {text}");
    let event: Value = serde_json::from_str(&text).unwrap();
    // The stored bytes themselves, newline included, hash to the audited SHA-256.
    let res = app.req(Method::GET, &format!("{API}/webhook-events/{id}/payload"), Some(&s.admin)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    let stored = res.bytes().await.unwrap();
    assert_eq!(stored.as_ref(), sent.as_bytes(), "byte for byte");
    let sha = weir_core::hex::encode(&Sha256::digest(&stored));
    assert_eq!(event["data"]["payload_sha256"], json!(sha), "the stored bytes hash to the audited SHA-256");
    assert_eq!(event["data"]["payload_size"], json!(sent.len()));
    let (_, audit) =
        app.call(Method::GET, &format!("{API}/audit-logs?action=webhook.received"), Some(&s.admin), None).await;
    assert_eq!(audit["data"][0]["details"]["sha256"], json!(sha));

    // The mapping's `to_string` of the 30-digit id keeps every digit.
    let mut record = Value::Null;
    for _ in 0..200 {
        let (st, r) = app.call(Method::GET, &format!("{API}/records/customer/{BIG}"), Some(&s.admin), None).await;
        if st == StatusCode::OK {
            record = r;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(record["data"]["external_id"], json!(BIG), "{record}");
    assert_eq!(record["data"]["data"]["external_id"], json!(BIG));
    assert_eq!(record["data"]["data"]["email"], json!("big@x.com"));
}
