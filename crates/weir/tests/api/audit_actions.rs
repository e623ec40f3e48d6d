//! TEST-013: one scenario performs every audited operation, and the trail
//! then holds every action of `weir_core::audit::ACTIONS`, each on the
//! object its operation touched, with the chain intact.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir::config::Settings;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(every_audited_action_is_emitted_by_its_operation);

const API: &str = "/api/v1/integration";

async fn every_audited_action_is_emitted_by_its_operation(b: Backend) {
    let settings = Settings {
        retry_backoff: Some("20ms,20ms".into()),
        worker_poll_ms: Some("20".into()),
        sync_retry_backoff: Some("10ms,10ms".into()),
        scheduler_interval_ms: Some("0".into()),
        ..Settings::default()
    };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let partner = MockServer::start().await;
    Mock::given(method("GET")).and(path("/health")).respond_with(ResponseTemplate::new(200)).mount(&partner).await;
    Mock::given(method("GET"))
        .and(path("/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(300))
                .set_body_json(json!({"data": [{"data": {"id": 1}}], "next": 1})),
        )
        .mount(&partner)
        .await;
    Mock::given(method("POST")).and(path("/ok")).respond_with(ResponseTemplate::new(200)).mount(&partner).await;
    Mock::given(method("POST")).and(path("/refuses")).respond_with(ResponseTemplate::new(422)).mount(&partner).await;

    let t = app.tenant("acme").await;
    let (_, admin) = app.token(&t, "admin").await;
    let (_, admin2) = app.token(&t, "admin").await;
    let (_, operator) = app.token(&t, "operator").await;
    let call = |m: Method, p: String, tok: String, body: Option<Value>| {
        let app = &app;
        async move { app.call(m, &format!("{API}/{p}"), Some(&tok), body).await }
    };
    let ok = |r: (StatusCode, Value), want: StatusCode| {
        assert_eq!(r.0, want, "{}", r.1);
        r.1["data"].clone()
    };

    // Connectors: created, updated, tested, change requested/approved/rejected, deleted.
    let dev = ok(call(Method::POST, "connectors".into(), admin.clone(), Some(json!({"code": "crm", "name": "CRM", "type": "http", "environment": "development", "config": {"base_url": partner.uri(), "health_path": "/health"}}))).await, StatusCode::CREATED);
    let dev_id = dev["id"].as_str().unwrap().to_owned();
    ok(
        call(Method::PATCH, format!("connectors/{dev_id}"), admin.clone(), Some(json!({"name": "CRM 2"}))).await,
        StatusCode::OK,
    );
    ok(
        call(Method::POST, format!("connectors/{dev_id}/test-connection"), operator.clone(), None).await,
        StatusCode::OK,
    );
    let prod = ok(call(Method::POST, "connectors".into(), admin.clone(), Some(json!({"code": "erp", "name": "ERP", "type": "http", "config": {"base_url": "https://erp.example.com"}}))).await, StatusCode::CREATED);
    let prod_id = prod["id"].as_str().unwrap().to_owned();
    for (decision, base) in [("approve", "https://a.example.com"), ("reject", "https://b.example.com")] {
        let held = ok(
            call(
                Method::PATCH,
                format!("connectors/{prod_id}"),
                admin.clone(),
                Some(json!({"config": {"base_url": base}})),
            )
            .await,
            StatusCode::ACCEPTED,
        );
        let cr = held["change_request"]["id"].as_str().unwrap().to_owned();
        ok(
            call(Method::POST, format!("change-requests/{cr}/{decision}"), admin2.clone(), Some(json!({}))).await,
            StatusCode::OK,
        );
    }

    // Field mappings, receivers, sync configurations.
    let rules = json!([{"source": "data.id", "target": "id", "required": true, "transforms": [{"op": "to_string"}]}, {"source": "data.v", "target": "v"}]);
    let m = ok(
        call(
            Method::POST,
            "field-mappings".into(),
            admin.clone(),
            Some(json!({"name": "m", "entity_type": "item", "key": "id", "rules": rules})),
        )
        .await,
        StatusCode::CREATED,
    );
    let mid = m["id"].as_str().unwrap().to_owned();
    ok(
        call(
            Method::PATCH,
            format!("field-mappings/{mid}"),
            admin.clone(),
            Some(json!({"name": "m2", "entity_type": "item", "key": "id", "rules": rules})),
        )
        .await,
        StatusCode::OK,
    );
    let spare = ok(
        call(
            Method::POST,
            "field-mappings".into(),
            admin.clone(),
            Some(json!({"name": "spare", "entity_type": "item", "key": "id", "rules": rules})),
        )
        .await,
        StatusCode::CREATED,
    );
    let (s, _) =
        call(Method::DELETE, format!("field-mappings/{}", spare["id"].as_str().unwrap()), admin.clone(), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let shop = ok(
        call(
            Method::POST,
            "connectors".into(),
            admin.clone(),
            Some(json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"})),
        )
        .await,
        StatusCode::CREATED,
    );
    let shop_id = shop["id"].as_str().unwrap().to_owned();
    let r = ok(
        call(
            Method::POST,
            format!("connectors/{shop_id}/webhook-receivers"),
            admin.clone(),
            Some(json!({"event_type": "*", "auth": {"method": "bearer"}})),
        )
        .await,
        StatusCode::CREATED,
    );
    let rid = r["id"].as_str().unwrap().to_owned();
    ok(
        call(
            Method::PATCH,
            format!("webhook-receivers/{rid}"),
            admin.clone(),
            Some(json!({"timestamp_tolerance_secs": 60})),
        )
        .await,
        StatusCode::OK,
    );
    let rotated = ok(
        call(
            Method::POST,
            format!("webhook-receivers/{rid}/rotate-secret"),
            admin.clone(),
            Some(json!({"expire_old": true})),
        )
        .await,
        StatusCode::OK,
    );
    let secret = rotated["secret"].as_str().unwrap().to_owned();
    let gone = ok(
        call(
            Method::POST,
            format!("connectors/{shop_id}/webhook-receivers"),
            admin.clone(),
            Some(json!({"event_type": "x", "auth": {"method": "bearer"}})),
        )
        .await,
        StatusCode::CREATED,
    );
    let (s, _) =
        call(Method::DELETE, format!("webhook-receivers/{}", gone["id"].as_str().unwrap()), admin.clone(), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let route = |types: Value, dest: &str| {
        json!({"connector_id": shop_id, "name": format!("to {dest}"), "direction": "inbound", "entity_type": "item",
        "field_mapping_id": mid, "trigger": "webhook", "event_types": types, "ordering_field": "v", "destination": {"url": format!("{}{dest}", partner.uri())}})
    };
    let good = ok(
        call(Method::POST, "sync-configurations".into(), admin.clone(), Some(route(json!(["item.ok"]), "/ok"))).await,
        StatusCode::CREATED,
    );
    ok(
        call(
            Method::PATCH,
            format!("sync-configurations/{}", good["id"].as_str().unwrap()),
            admin.clone(),
            Some(json!({"name": "to /ok!"})),
        )
        .await,
        StatusCode::OK,
    );
    ok(
        call(
            Method::POST,
            "sync-configurations".into(),
            admin.clone(),
            Some(route(json!(["item.refused"]), "/refuses")),
        )
        .await,
        StatusCode::CREATED,
    );

    // Webhooks: received, rejected; processing: records created/updated/ignored,
    // deliveries delivered/failed, events ignored/failed; replays.
    let url = app.url(r["receiver_url"].as_str().unwrap());
    let send = |key: &str, tok: &str, body: Value| {
        let req = app.client.post(&url).bearer_auth(tok).header("idempotency-key", key).json(&body);
        async move { req.send().await.unwrap().status() }
    };
    for (key, body) in [
        ("e1", json!({"type": "item.ok", "data": {"id": 1, "v": 2}})),
        ("e2", json!({"type": "item.ok", "data": {"id": 1, "v": 3}})),
        ("e3", json!({"type": "item.ok", "data": {"id": 1, "v": 1}})),
        ("e4", json!({"type": "item.refused", "data": {"id": 9, "v": 1}})),
        ("e5", json!({"type": "nobody.listens", "data": {}})),
    ] {
        assert_eq!(send(key, &secret, body).await, StatusCode::ACCEPTED, "{key}");
        // One at a time, so ordering is by arrival.
        for _ in 0..200 {
            let (_, p) = call(Method::GET, "webhook-events?status=pending".into(), admin.clone(), None).await;
            let (_, q) = call(Method::GET, "webhook-events?status=processing".into(), admin.clone(), None).await;
            if p["meta"]["total"] == 0 && q["meta"]["total"] == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(send("bad", "not-the-secret-000000000", json!({})).await, StatusCode::UNAUTHORIZED);
    let (_, failed) = call(Method::GET, "webhook-events?status=failed".into(), admin.clone(), None).await;
    let failed_id = failed["data"][0]["id"].as_str().unwrap().to_owned();
    ok(
        call(Method::POST, format!("webhook-events/{failed_id}/replay"), operator.clone(), None).await,
        StatusCode::ACCEPTED,
    );
    ok(
        call(
            Method::POST,
            "webhook-events/replay".into(),
            operator.clone(),
            Some(json!({"status": "completed", "event_type": "nobody.listens"})),
        )
        .await,
        StatusCode::ACCEPTED,
    );

    // Runs: queued, started, finished, cancel requested; then deletions.
    let slow = ok(call(Method::POST, "sync-configurations".into(), admin.clone(), Some(json!({"connector_id": dev_id, "name": "slow", "direction": "inbound", "entity_type": "item", "field_mapping_id": mid, "trigger": "manual", "source": {"path": "/slow", "records_path": "data", "pagination": {"type": "page", "next_path": "next"}}}))).await, StatusCode::CREATED);
    let slow_id = slow["id"].as_str().unwrap().to_owned();
    let run = ok(
        call(Method::POST, format!("sync-configurations/{slow_id}/execute"), operator.clone(), None).await,
        StatusCode::ACCEPTED,
    );
    let run_id = run["sync_history_id"].as_str().unwrap().to_owned();
    // Running, with its first page written (`sync.records_written`).
    for _ in 0..200 {
        let (_, h) = call(Method::GET, format!("sync-histories/{run_id}"), admin.clone(), None).await;
        if h["data"]["status"] == "running" && h["data"]["records_created"].as_i64() >= Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ok(
        call(Method::POST, format!("sync-histories/{run_id}/cancel"), operator.clone(), None).await,
        StatusCode::ACCEPTED,
    );
    for _ in 0..200 {
        if call(Method::GET, format!("sync-histories/{run_id}"), admin.clone(), None).await.1["data"]["status"]
            == "cancelled"
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (s, _) = call(Method::DELETE, format!("sync-configurations/{slow_id}"), admin.clone(), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(Method::DELETE, format!("connectors/{dev_id}"), admin.clone(), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // A dashboard sign-in and sign-out.
    let res = app.req(Method::POST, "/api/v1/session", None).json(&json!({"token": admin})).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let session: Value = res.json().await.unwrap();
    let csrf = session["data"]["csrf_token"].as_str().unwrap().to_owned();
    let res = app
        .req(Method::DELETE, "/api/v1/session", None)
        .header("cookie", cookie)
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    // People: invite, accept, a failed sign-in, sign in, a second factor on
    // and off, a password change, the tenant setting, a rename, a reset and
    // a deactivation; a service account's life.
    people_and_service_accounts(&app, &admin).await;
    single_sign_on(&app, &admin).await;

    // Every catalogued action is in the trail, and the chain verifies.
    let store = app.store().await;
    let scope = store.authenticate(&admin).await.unwrap().unwrap().scope;
    let mut actions = std::collections::BTreeSet::new();
    let mut page = 1;
    loop {
        let p = store.list_audit(&scope, weir_core::PageRequest::parse(Some(page), Some(100)).unwrap()).await.unwrap();
        actions.extend(p.items.iter().map(|e| e.action.clone()));
        if page * 100 >= p.total {
            break;
        }
        page += 1;
    }
    let missing: Vec<&str> =
        weir_core::audit::ACTIONS.iter().map(|(a, _)| *a).filter(|a| !actions.contains(*a)).collect();
    assert!(missing.is_empty(), "not emitted: {missing:?}");
    // Per record: processing's own entries and the run's page entries.
    let all = store.list_audit(&scope, weir_core::PageRequest::parse(Some(1), Some(100)).unwrap()).await.unwrap();
    let by_processing = all.items.iter().find(|e| e.action == "record.created").expect("a record.created entry");
    let key = by_processing.resource_id.clone().unwrap();
    for (record, action) in [(key.as_str(), "record.created"), ("item/1", "sync.records_written")] {
        let filter = weir_store::AuditFilter { record: Some(record.to_owned()), ..Default::default() };
        let found =
            store.list_audit_filtered(&scope, &filter, weir_core::PageRequest::parse(None, None).unwrap()).await;
        assert!(found.unwrap().items.iter().any(|e| e.action == action), "{record}: no {action}");
    }
    assert!(store.verify_audit_chain(&scope, None).await.unwrap().outcome().is_ok());
    store.close().await;
    app.stop().await;
}

async fn people_and_service_accounts(app: &TestApp, admin: &str) {
    let password = "velvet-otter-quarry-51";
    let body = json!({"email": "kim@acme.example", "name": "Kim", "role": "admin"});
    let (s, invited) = app.call(Method::POST, "/api/v1/users", Some(admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{invited}");
    let user_id = invited["data"]["id"].as_str().unwrap().to_owned();
    let invite = invited["data"]["invite_url"].as_str().unwrap().trim_start_matches("/#/invite/").to_owned();
    let (s, _) = app
        .call(Method::POST, &format!("/api/v1/invites/{invite}/accept"), None, Some(json!({"password": password})))
        .await;
    assert_eq!(s, StatusCode::OK);
    let wrong = json!({"email": "kim@acme.example", "password": "not-kims-password"});
    assert_eq!(app.call(Method::POST, "/api/v1/session", None, Some(wrong)).await.0, StatusCode::UNAUTHORIZED);
    let res = app
        .req(Method::POST, "/api/v1/session", None)
        .json(&json!({"email": "kim@acme.example", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let session: Value = res.json().await.unwrap();
    let csrf = session["data"]["csrf_token"].as_str().unwrap().to_owned();
    let as_kim = |method: Method, path: &str, body: Option<Value>| {
        let mut r = app.req(method, path, None).header("cookie", &cookie).header("x-csrf-token", &csrf);
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move { r.send().await.unwrap().status() }
    };
    let res = app.req(Method::POST, "/api/v1/me/mfa", None).header("cookie", &cookie).header("x-csrf-token", &csrf);
    let enrol: Value = res.send().await.unwrap().json().await.unwrap();
    let secret = enrol["data"]["secret"].as_str().unwrap().to_owned();
    let bytes = totp_rs::Secret::Encoded(secret).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).unwrap();
    let code = totp.generate(u64::try_from(chrono::Utc::now().timestamp()).unwrap());
    assert_eq!(as_kim(Method::POST, "/api/v1/me/mfa/confirm", Some(json!({"code": code}))).await, StatusCode::OK);
    assert_eq!(
        as_kim(Method::POST, "/api/v1/me/mfa/disable", Some(json!({"password": password}))).await,
        StatusCode::NO_CONTENT
    );
    let change = json!({"current_password": password, "new_password": "amber-heron-lattice-77"});
    assert_eq!(as_kim(Method::POST, "/api/v1/me/password", Some(change)).await, StatusCode::NO_CONTENT);
    for required in [true, false] {
        let body = json!({"mfa_required_for_admins": required});
        assert_eq!(app.call(Method::PATCH, "/api/v1/settings", Some(admin), Some(body)).await.0, StatusCode::OK);
    }
    let path = format!("/api/v1/users/{user_id}");
    assert_eq!(app.call(Method::PATCH, &path, Some(admin), Some(json!({"name": "Kim Ro"}))).await.0, StatusCode::OK);
    let store = app.store().await;
    let scope = store.authenticate(admin).await.unwrap().unwrap().scope;
    let hash = weir_core::user::NewPassword::parse("quiet-meadow-copper-93", &[]).unwrap().hash().unwrap();
    store.reset_password(&scope, &user_id, hash, "cli").await.unwrap();
    assert_eq!(app.call(Method::DELETE, &path, Some(admin), None).await.0, StatusCode::OK);

    let (s, account) = app
        .call(Method::POST, "/api/v1/service-accounts", Some(admin), Some(json!({"name": "ci", "role": "viewer"})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{account}");
    let path = format!("/api/v1/service-accounts/{}", account["data"]["id"].as_str().unwrap());
    assert_eq!(app.call(Method::PATCH, &path, Some(admin), Some(json!({"role": "operator"}))).await.0, StatusCode::OK);
    assert_eq!(app.call(Method::DELETE, &path, Some(admin), None).await.0, StatusCode::OK);
}

/// SSO set up, a person provisioned and signed in through a real provider,
/// a refused sign-in, and SSO removed.
async fn single_sign_on(app: &TestApp, admin: &str) {
    use crate::sso::oidc::Idp;
    use crate::sso::{Flow, settings_for};
    let idp = Idp::start(&app.url("/api/v1/sso/acme/callback")).await;
    let (s, out) = app.call(Method::PUT, "/api/v1/settings/sso", Some(admin), Some(settings_for(&idp))).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(Flow::new().sign_in(app, &idp, "ann").await.0, StatusCode::CREATED);
    assert_eq!(Flow::new().sign_in(app, &idp, "eve").await.0, StatusCode::FORBIDDEN);
    let (s, _) = app.call(Method::DELETE, "/api/v1/settings/sso", Some(admin), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}
