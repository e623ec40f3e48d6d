//! Answers that carry a secret shown once must not be kept by a browser or a
//! shared cache: every API answer says `Cache-Control: no-store` (issue 17,
//! item 8). The dashboard's own assets keep their `no-cache`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, SYSTEM_TOKEN, TestApp};

backend_tests!(secret_bearing_answers_are_never_cached);

/// Sends `body` and answers (status, Cache-Control, JSON body).
async fn cached(app: &TestApp, method: Method, path: &str, token: Option<&str>, body: Value) -> (u16, String, Value) {
    let mut r = app.req(method, path, token);
    if !body.is_null() {
        r = r.json(&body);
    }
    let res = r.send().await.unwrap();
    let status = res.status().as_u16();
    let cc = res.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, cc, res.json().await.unwrap_or(Value::Null))
}

async fn secret_bearing_answers_are_never_cached(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let tenant = app.tenant("acme").await;
    let system_issued = cached(
        &app,
        Method::POST,
        &format!("/api/v1/system/tenants/{tenant}/tokens"),
        Some(SYSTEM_TOKEN),
        json!({"name": "ops", "role": "admin"}),
    )
    .await;
    let admin = system_issued.2["data"]["token"].as_str().unwrap().to_owned();
    let minted =
        cached(&app, Method::POST, "/api/v1/tokens", Some(&admin), json!({"name": "ci", "role": "viewer"})).await;
    let body = json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"});
    let shop = cached(&app, Method::POST, "/api/v1/integration/connectors", Some(&admin), body).await;
    let shop_id = shop.2["data"]["id"].as_str().unwrap().to_owned();
    let receiver = cached(
        &app,
        Method::POST,
        &format!("/api/v1/integration/connectors/{shop_id}/webhook-receivers"),
        Some(&admin),
        json!({"event_type": "*", "auth": {"method": "hmac_sha256"}}),
    )
    .await;
    let rid = receiver.2["data"]["id"].as_str().unwrap().to_owned();
    let rotated = cached(
        &app,
        Method::POST,
        &format!("/api/v1/integration/webhook-receivers/{rid}/rotate-secret"),
        Some(&admin),
        json!({"expire_old": true}),
    )
    .await;
    let body =
        json!({"name": "Orders", "entity_type": "order", "key": "id", "rules": [{"source": "id", "target": "id"}]});
    let mapping = cached(&app, Method::POST, "/api/v1/integration/field-mappings", Some(&admin), body).await;
    let route = json!({"connector_id": shop_id, "name": "forward", "direction": "inbound", "entity_type": "order",
        "field_mapping_id": mapping.2["data"]["id"], "trigger": "webhook", "event_types": ["*"],
        "destination": {"url": "http://127.0.0.1:9/hook"}});
    let destination = cached(&app, Method::POST, "/api/v1/integration/sync-configurations", Some(&admin), route).await;
    let session = cached(&app, Method::POST, "/api/v1/session", None, json!({"token": admin})).await;
    let listing = cached(&app, Method::GET, "/api/v1/tokens", Some(&admin), Value::Null).await;

    let secrets = [
        ("system-issued token", &system_issued, &system_issued.2["data"]["token"]),
        ("minted token", &minted, &minted.2["data"]["token"]),
        ("new receiver", &receiver, &receiver.2["data"]["secret"]),
        ("rotated secret", &rotated, &rotated.2["data"]["secret"]),
        ("destination secret", &destination, &destination.2["data"]["destination_secret"]),
        ("session", &session, &session.2["data"]["csrf_token"]),
    ];
    assert_eq!(mapping.0, 201, "{}", mapping.2);
    for (what, (status, cache_control, body), secret) in secrets {
        assert!((200..300).contains(status), "{what}: {status} {body}");
        assert!(secret.is_string(), "{what} carries its secret: {body}");
        assert_eq!(cache_control, "no-store", "{what}");
    }
    assert_eq!((listing.0, listing.1.as_str()), (200, "no-store"), "every API answer is tenant data");
    let page = app.req(Method::GET, "/", None).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-cache", "the console's pages keep their own policy");
}
