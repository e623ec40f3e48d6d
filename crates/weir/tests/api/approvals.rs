//! The production approval needs a second person: a token's principal is the
//! root of its issuing chain, so no token an admin minted — directly or
//! through tokens it minted — can approve that admin's change, nor can the
//! admin approve a change one of those tokens requested (issue 17, item 1).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem};

backend_tests!(approval_needs_another_principal_across_issuing_chains);

const CONNECTORS: &str = "/api/v1/integration/connectors";

/// Mints an admin token with `issuer`'s token (as the API lets any admin).
async fn mint(app: &TestApp, issuer: &str, name: &str) -> String {
    let body = json!({"name": name, "role": "admin"});
    let (s, minted) = app.call(Method::POST, "/api/v1/tokens", Some(issuer), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{minted}");
    minted["data"]["token"].as_str().unwrap().to_owned()
}

/// `requester` asks to move the production connector; answers the request id.
async fn request_change(app: &TestApp, requester: &str, url: &str, host: &str) -> String {
    let patch = json!({"config": {"base_url": format!("https://{host}"), "auth": {"type": "bearer"}}});
    let (s, held) = app.call(Method::PATCH, url, Some(requester), Some(patch)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{held}");
    held["data"]["change_request"]["id"].as_str().unwrap().to_owned()
}

async fn approval_needs_another_principal_across_issuing_chains(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let (_, a) = app.token(&tenant, "admin").await;
    let (_, other) = app.token(&tenant, "admin").await;
    // A's chain: A → A2 → A3 → A4 (depths 1, 2 and 3).
    let a2 = mint(&app, &a, "a2").await;
    let a3 = mint(&app, &a2, "a3").await;
    let a4 = mint(&app, &a3, "a4").await;
    let body = json!({"code": "erp", "name": "ERP", "type": "http",
        "config": {"base_url": "https://erp.example.com", "auth": {"type": "bearer"}}, "credentials": {"token": "t1"}});
    let (s, created) = app.call(Method::POST, CONNECTORS, Some(&a), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let url = format!("{CONNECTORS}/{}", created["data"]["id"].as_str().unwrap());

    let chain = [("A", &a), ("A2", &a2), ("A3", &a3), ("A4", &a4)];
    for (requester_name, requester) in chain {
        let cr = request_change(&app, requester, &url, "attacker.example.net").await;
        let approve = format!("/api/v1/integration/change-requests/{cr}/approve");
        // Every member of the chain, up or down from the requester, is refused.
        for (approver_name, approver) in chain {
            let problem = assert_problem(app.req(Method::POST, &approve, Some(approver)), StatusCode::FORBIDDEN).await;
            assert!(
                problem["detail"].as_str().unwrap().contains("own change"),
                "{approver_name} approving {requester_name}'s change: {problem}"
            );
        }
        let (_, now) = app.call(Method::GET, &url, Some(&a), None).await;
        assert_eq!(now["data"]["config"]["base_url"], "https://erp.example.com", "refusals applied nothing");
        // Someone else rejects it so the next request starts clean.
        let reject = format!("/api/v1/integration/change-requests/{cr}/reject");
        let (s, rejected) = app.call(Method::POST, &reject, Some(&other), None).await;
        assert_eq!(s, StatusCode::OK, "{rejected}");
    }

    // A different principal — and tokens minted by it — can approve.
    let other2 = mint(&app, &other, "other2").await;
    let cr = request_change(&app, &a4, &url, "erp-v2.example.com").await;
    let approve = format!("/api/v1/integration/change-requests/{cr}/approve");
    let (s, decided) = app.call(Method::POST, &approve, Some(&other2), None).await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    assert_eq!(decided["data"]["connector"]["config"]["base_url"], "https://erp-v2.example.com");
}
