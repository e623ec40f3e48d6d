//! Connectors end to end: CRUD, validation, pagination and filters,
//! secrets, connection tests against real local servers, the production
//! approval workflow, the deletion guard and cascade, and the policy table.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wiremock::matchers::{header, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem};

backend_tests!(
    crud_and_code_reuse,
    invalid_connectors_are_422_and_write_nothing,
    sixty_connectors_paginate_and_filter,
    credentials_are_sealed_and_never_returned,
    test_connection_reaches_the_remote_with_its_auth,
    production_changes_need_a_second_admin,
    deletion_is_guarded_and_cascades,
    every_endpoint_role_and_tenant,
);

const CONNECTORS: &str = "/api/v1/integration/connectors";

/// A tenant with an admin token; returns (tenant id, admin token).
async fn tenant_admin(app: &TestApp, slug: &str) -> (String, String) {
    let t = app.tenant(slug).await;
    let (_, admin) = app.token(&t, "admin").await;
    (t, admin)
}

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let (s, b) = app.call(Method::POST, CONNECTORS, Some(token), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b["data"].clone()
}

fn webhook(code: &str) -> Value {
    json!({"code": code, "name": format!("Connector {code}"), "type": "webhook", "environment": "development"})
}

async fn crud_and_code_reuse(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (_, admin) = tenant_admin(&app, "acme").await;
    let body = json!({
        "code": "shop", "name": "Web shop", "type": "http", "environment": "staging",
        "config": {"base_url": "https://shop.example.com/api", "auth": {"type": "bearer"}},
        "credentials": {"token": "tok"}, "rate_limit_per_minute": 250
    });
    let c = create(&app, &admin, body).await;
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(c["code"], "shop");
    assert_eq!(c["type"], "http");
    assert_eq!(c["environment"], "staging");
    assert_eq!(c["is_active"], true);
    assert_eq!(c["has_credentials"], true);
    assert_eq!(c["rate_limit_per_minute"], 250);
    assert_eq!(c["config"]["health_path"], "/", "defaults are filled in");
    assert_eq!(c["config"]["timeout_ms"], 10_000);
    assert!(c.get("credentials").is_none());

    let (s, got) = app.call(Method::GET, &format!("{CONNECTORS}/{id}"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (got["data"]["receivers_count"].as_u64(), got["data"]["sync_configurations_count"].as_u64()),
        (Some(0), Some(0))
    );

    // A staging connector applies changes at once (200).
    let patch = json!({"name": "Shop", "is_active": false, "rate_limit_per_minute": null,
                       "config": {"base_url": "https://shop2.example.com", "auth": {"type": "bearer"}}});
    let (s, upd) = app.call(Method::PATCH, &format!("{CONNECTORS}/{id}"), Some(&admin), Some(patch)).await;
    assert_eq!(s, StatusCode::OK, "{upd}");
    let u = &upd["data"];
    assert_eq!((u["name"].as_str(), u["is_active"].as_bool()), (Some("Shop"), Some(false)));
    assert!(u["rate_limit_per_minute"].is_null());
    assert_eq!(u["config"]["base_url"], "https://shop2.example.com");
    assert_eq!(u["has_credentials"], true, "credentials kept when the auth type stays");

    let dup = app.req(Method::POST, CONNECTORS, Some(&admin)).json(&webhook("shop"));
    let problem = assert_problem(dup, StatusCode::CONFLICT).await;
    assert!(problem["errors"]["code"].is_array(), "{problem}");

    let (s, _) = app.call(Method::DELETE, &format!("{CONNECTORS}/{id}"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_problem(app.req(Method::GET, &format!("{CONNECTORS}/{id}"), Some(&admin)), StatusCode::NOT_FOUND).await;
    assert_problem(app.req(Method::DELETE, &format!("{CONNECTORS}/{id}"), Some(&admin)), StatusCode::NOT_FOUND).await;
    // The code is free again; the deleted connector stays out of listings.
    let again = create(&app, &admin, webhook("shop")).await;
    assert_ne!(again["id"], id.as_str());
    let (_, list) = app.call(Method::GET, CONNECTORS, Some(&admin), None).await;
    assert_eq!(list["meta"]["total"], 1);
}

async fn invalid_connectors_are_422_and_write_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (_, admin) = tenant_admin(&app, "acme").await;
    let cases: Vec<(Value, &[&str])> = vec![
        (json!({"code": "Bad Code", "name": "x", "type": "webhook"}), &["code"]),
        (json!({"code": "ok", "name": "", "type": "ftp"}), &["name", "type"]),
        (json!({"code": "ok", "name": "x", "type": "webhook", "environment": "prod"}), &["environment"]),
        (json!({"code": "ok", "name": "x", "type": "http", "config": {"base_url": "not a url"}}), &["config.base_url"]),
        (json!({"code": "ok", "name": "x", "type": "http"}), &["config"]),
        (
            json!({"code": "ok", "name": "x", "type": "http", "config": {"base_url": "http://x", "auth": {"type": "bearer"}}}),
            &["credentials"],
        ),
        (
            json!({"code": "ok", "name": "x", "type": "http", "config": {"base_url": "http://x", "auth": {"type": "oauth"}}}),
            &["config"],
        ),
        (json!({"code": "ok", "name": "x", "type": "webhook", "config": {"base_url": "http://x"}}), &["config"]),
        (
            json!({"code": "ok", "name": "x", "type": "webhook", "rate_limit_per_minute": 5_000_000}),
            &["rate_limit_per_minute"],
        ),
        (json!({"code": "ok", "name": "x", "type": "webhook", "owner": "me"}), &["owner"]),
        (
            json!({"code": "ok", "name": "x", "type": "webhook", "rate_limit_per_minute": -1}),
            &["rate_limit_per_minute"],
        ),
    ];
    for (body, fields) in cases {
        let r = app.req(Method::POST, CONNECTORS, Some(&admin)).json(&body);
        let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        let keys: Vec<&String> = problem["errors"].as_object().unwrap().keys().collect();
        for f in fields {
            assert!(keys.iter().any(|k| k.contains(f)), "{body}: expected {f} in {keys:?}");
        }
    }
    let (_, list) = app.call(Method::GET, CONNECTORS, Some(&admin), None).await;
    assert_eq!(list["meta"]["total"], 0);
    for q in ["status=sleeping", "type=ftp", "per_page=500", "colour=red"] {
        assert_problem(
            app.req(Method::GET, &format!("{CONNECTORS}?{q}"), Some(&admin)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
}

async fn sixty_connectors_paginate_and_filter(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (_, admin) = tenant_admin(&app, "acme").await;
    for i in 0..60 {
        let mut body = if i % 3 == 0 {
            json!({"code": format!("api-{i:02}"), "name": format!("Billing API {i}"), "type": "http",
                   "environment": "development", "config": {"base_url": "https://billing.example.com"}})
        } else {
            webhook(&format!("hook-{i:02}"))
        };
        if i % 4 == 0 {
            body["is_active"] = json!(false);
        }
        create(&app, &admin, body).await;
    }
    let mut seen = std::collections::HashSet::new();
    for (page, expected) in [(1, 25), (2, 25), (3, 10), (4, 0)] {
        let (s, p) = app.call(Method::GET, &format!("{CONNECTORS}?page={page}&per_page=25"), Some(&admin), None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(p["meta"], json!({"page": page, "per_page": 25, "total": 60}));
        let items = p["data"].as_array().unwrap();
        assert_eq!(items.len(), expected);
        for c in items {
            assert!(seen.insert(c["id"].as_str().unwrap().to_owned()), "no repeats across pages");
        }
    }
    assert_eq!(seen.len(), 60);
    let count = |q: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let (s, p) = app.call(Method::GET, &format!("{CONNECTORS}?{q}"), Some(&admin), None).await;
            assert_eq!(s, StatusCode::OK, "{q}: {p}");
            p["meta"]["total"].as_u64().unwrap()
        }
    };
    assert_eq!(count("status=inactive").await, 15);
    assert_eq!(count("status=active").await, 45);
    assert_eq!(count("type=http").await, 20);
    assert_eq!(count("type=webhook&status=inactive").await, 10);
    assert_eq!(count("q=BILLING").await, 20, "case-insensitive on name");
    assert_eq!(count("q=hook-1").await, 7, "on code: hook-10..19 minus the multiples of 3");
    assert_eq!(count("q=%25").await, 0, "a literal % matches nothing");
    assert_eq!(count("q=_").await, 0, "a literal _ matches nothing");
}

async fn credentials_are_sealed_and_never_returned(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (_, admin) = tenant_admin(&app, "acme").await;
    let secret = "S3CR3T-zebra-4471-do-not-leak";
    let body = json!({"code": "pay", "name": "Payments", "type": "http", "environment": "development",
        "config": {"base_url": "http://127.0.0.1:9", "auth": {"type": "basic"}},
        "credentials": {"username": "svc", "password": secret}});
    let (s, created) = app.call(Method::POST, CONNECTORS, Some(&admin), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED);
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let patch = json!({"credentials": {"username": "svc", "password": format!("{secret}-2")}});
    let (s, patched) = app.call(Method::PATCH, &format!("{CONNECTORS}/{id}"), Some(&admin), Some(patch)).await;
    assert_eq!(s, StatusCode::OK);
    let bad = json!({"credentials": {"token": secret}});
    let (s, refused) = app.call(Method::PATCH, &format!("{CONNECTORS}/{id}"), Some(&admin), Some(bad)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, shown) = app.call(Method::GET, &format!("{CONNECTORS}/{id}"), Some(&admin), None).await;
    let (_, listed) = app.call(Method::GET, CONNECTORS, Some(&admin), None).await;
    let (_, tested) = app.call(Method::POST, &format!("{CONNECTORS}/{id}/test-connection"), Some(&admin), None).await;
    for response in [&created, &patched, &refused, &shown, &listed, &tested] {
        assert!(!response.to_string().contains("S3CR3T"), "secret in a response: {response}");
    }
    assert_eq!(shown["data"]["has_credentials"], true);

    let store = app.store().await;
    let principal = store.authenticate(&admin).await.unwrap().unwrap();
    let audit =
        store.list_audit(&principal.scope, weir_core::PageRequest::parse(None, Some(100)).unwrap()).await.unwrap();
    assert!(audit.total >= 3, "create, update, test are audited");
    for e in &audit.items {
        assert!(!e.details.to_string().contains("S3CR3T"), "secret in audit: {:?}", e.details);
    }
    let actions: Vec<&str> = audit.items.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"connector.created")
            && actions.contains(&"connector.updated")
            && actions.contains(&"connector.tested")
    );
    assert_eq!(store.verify_audit_chain(&principal.scope, None).await.unwrap().outcome(), Ok(audit.total));
    let sealed = store.connector_credentials(&principal.scope, &id).await.unwrap().unwrap();
    assert!(!sealed.0.windows(6).any(|w| w == b"S3CR3T"), "stored bytes are not the plaintext");
    assert!(sealed.0.len() > 12 + 16);
    store.close().await;
}

async fn test_connection_reaches_the_remote_with_its_auth(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (_, admin) = tenant_admin(&app, "acme").await;
    let remote = MockServer::start().await;
    Mock::given(path("/health"))
        .and(header("authorization", "Bearer remote-token"))
        .respond_with(ResponseTemplate::new(200).insert_header("api-version", "v7"))
        .mount(&remote)
        .await;
    Mock::given(path("/health"))
        .and(header("x-key", "k1"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&remote)
        .await;
    Mock::given(path("/health"))
        .and(header("authorization", "Basic dTpw"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"version": "9.9"})))
        .mount(&remote)
        .await;
    Mock::given(path("/broken")).respond_with(ResponseTemplate::new(500)).mount(&remote).await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(2)))
        .mount(&remote)
        .await;
    Mock::given(path("/health")).respond_with(ResponseTemplate::new(401)).mount(&remote).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();

    let http = |code: &str, base: String, health: &str, auth: Value, creds: Value| {
        json!({"code": code, "name": code, "type": "http", "environment": "development",
               "config": {"base_url": base, "health_path": health, "timeout_ms": 300, "auth": auth}, "credentials": creds})
    };
    let cases = [
        (
            http("bearer", remote.uri(), "/health", json!({"type": "bearer"}), json!({"token": "remote-token"})),
            true,
            Some(200),
            Some("v7"),
            None,
        ),
        (
            http(
                "apikey",
                remote.uri(),
                "/health",
                json!({"type": "api_key", "header": "X-Key"}),
                json!({"key": "k1"}),
            ),
            true,
            Some(204),
            None,
            None,
        ),
        (
            http("basic", remote.uri(), "/health", json!({"type": "basic"}), json!({"username": "u", "password": "p"})),
            true,
            Some(200),
            Some("9.9"),
            None,
        ),
        (
            http("noauth", remote.uri(), "/health", json!({"type": "none"}), json!({})),
            false,
            Some(401),
            None,
            Some("HTTP 401 Unauthorized"),
        ),
        (
            http("broken", remote.uri(), "/broken", json!({"type": "none"}), json!({})),
            false,
            Some(500),
            None,
            Some("HTTP 500 Internal Server Error"),
        ),
        (
            http("slow", remote.uri(), "/slow", json!({"type": "none"}), json!({})),
            false,
            None,
            None,
            Some("timed out after 300 ms"),
        ),
    ];
    for (body, success, status, version, error) in cases {
        let c = create(&app, &admin, body).await;
        let (s, t) = app
            .call(
                Method::POST,
                &format!("{CONNECTORS}/{}/test-connection", c["id"].as_str().unwrap()),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{t}");
        let t = &t["data"];
        assert_eq!(t["success"], success, "{}: {t}", c["code"]);
        assert_eq!(t["status_code"].as_u64(), status.map(|s: u16| u64::from(s)), "{}: {t}", c["code"]);
        assert_eq!(t["api_version"].as_str(), version, "{}: {t}", c["code"]);
        assert_eq!(t["error"].as_str(), error, "{}: {t}", c["code"]);
        assert!(t["latency_ms"].is_u64());
    }
    let c = create(
        &app,
        &admin,
        http("closed", format!("http://127.0.0.1:{closed}"), "/", json!({"type": "none"}), json!({})),
    )
    .await;
    let (_, t) = app
        .call(Method::POST, &format!("{CONNECTORS}/{}/test-connection", c["id"].as_str().unwrap()), Some(&admin), None)
        .await;
    assert_eq!(t["data"]["success"], false);
    assert!(t["data"]["error"].as_str().unwrap().contains("connection refused"), "{t}");

    let hook = create(&app, &admin, webhook("inbound")).await;
    let r =
        app.req(Method::POST, &format!("{CONNECTORS}/{}/test-connection", hook["id"].as_str().unwrap()), Some(&admin));
    let problem = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(problem["detail"].as_str().unwrap().contains("inbound only"), "{problem}");
}

async fn production_changes_need_a_second_admin(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let (tenant, admin1) = tenant_admin(&app, "acme").await;
    let (admin2_id, admin2) = app.token(&tenant, "admin").await;
    let (_, operator) = app.token(&tenant, "operator").await;
    let prod = create(
        &app,
        &admin1,
        json!({"code": "erp", "name": "ERP", "type": "http",
        "config": {"base_url": "https://erp.example.com", "auth": {"type": "bearer"}}, "credentials": {"token": "t1"}}),
    )
    .await;
    assert_eq!(prod["environment"], "production", "production is the default");
    let id = prod["id"].as_str().unwrap().to_owned();
    let url = format!("{CONNECTORS}/{id}");

    // A config change is held (202), not applied.
    let patch = json!({"config": {"base_url": "https://erp-v2.example.com", "auth": {"type": "bearer"}}});
    let (s, held) = app.call(Method::PATCH, &url, Some(&admin1), Some(patch)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{held}");
    let cr = &held["data"]["change_request"];
    assert_eq!(cr["status"], "pending");
    let cr_id = cr["id"].as_str().unwrap().to_owned();
    let (_, now) = app.call(Method::GET, &url, Some(&admin1), None).await;
    assert_eq!(now["data"]["config"]["base_url"], "https://erp.example.com", "not applied while pending");
    let (_, pending) =
        app.call(Method::GET, "/api/v1/integration/change-requests?status=pending", Some(&operator), None).await;
    assert_eq!(pending["meta"]["total"], 1);

    // Plain fields apply at once even on production.
    let (s, renamed) = app.call(Method::PATCH, &url, Some(&admin1), Some(json!({"name": "ERP (main)"}))).await;
    assert_eq!((s, renamed["data"]["name"].as_str()), (StatusCode::OK, Some("ERP (main)")));

    // Self-approval and lower roles are refused; another admin's approval applies.
    let approve = format!("/api/v1/integration/change-requests/{cr_id}/approve");
    let problem = assert_problem(app.req(Method::POST, &approve, Some(&admin1)), StatusCode::FORBIDDEN).await;
    assert!(problem["detail"].as_str().unwrap().contains("own"));
    // Nor can a token the requester minted for itself.
    let (s, minted) = app
        .call(Method::POST, "/api/v1/tokens", Some(&admin1), Some(json!({"name": "sock puppet", "role": "admin"})))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let puppet = minted["data"]["token"].as_str().unwrap().to_owned();
    assert_problem(app.req(Method::POST, &approve, Some(&puppet)), StatusCode::FORBIDDEN).await;
    assert_problem(app.req(Method::POST, &approve, Some(&operator)), StatusCode::FORBIDDEN).await;
    let (s, decided) = app.call(Method::POST, &approve, Some(&admin2), Some(json!({"note": "checked with ops"}))).await;
    assert_eq!(s, StatusCode::OK, "{decided}");
    assert_eq!(decided["data"]["change_request"]["status"], "approved");
    assert_eq!(decided["data"]["change_request"]["decided_by"], admin2_id.as_str());
    assert_eq!(decided["data"]["connector"]["config"]["base_url"], "https://erp-v2.example.com");
    let (_, now) = app.call(Method::GET, &url, Some(&admin1), None).await;
    assert_eq!(now["data"]["config"]["base_url"], "https://erp-v2.example.com");
    assert_problem(app.req(Method::POST, &approve, Some(&admin2)), StatusCode::CONFLICT).await;

    // Credentials and environment changes are gated too; a rejection changes nothing.
    let before = now["data"].clone();
    for patch in [json!({"credentials": {"token": "t2"}}), json!({"environment": "development"})] {
        let (s, held) = app.call(Method::PATCH, &url, Some(&admin1), Some(patch)).await;
        assert_eq!(s, StatusCode::ACCEPTED);
        assert!(!held.to_string().contains("t2\""), "credentials never echoed: {held}");
        let reject = format!(
            "/api/v1/integration/change-requests/{}/reject",
            held["data"]["change_request"]["id"].as_str().unwrap()
        );
        let (s, rejected) = app.call(Method::POST, &reject, Some(&admin2), None).await;
        assert_eq!((s, rejected["data"]["change_request"]["status"].as_str()), (StatusCode::OK, Some("rejected")));
    }
    let (_, after) = app.call(Method::GET, &url, Some(&admin1), None).await;
    assert_eq!(after["data"], before, "rejections left the connector unchanged");
    let (_, all) = app
        .call(Method::GET, &format!("/api/v1/integration/change-requests?connector_id={id}"), Some(&admin1), None)
        .await;
    assert_eq!(all["meta"]["total"], 3);
    let shown =
        app.call(Method::GET, &format!("/api/v1/integration/change-requests/{cr_id}"), Some(&operator), None).await;
    assert_eq!(shown.1["data"]["decision_note"], "checked with ops");
}

async fn deletion_is_guarded_and_cascades(b: Backend) {
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
    use weir_store::entities::{sync_configurations as sc, webhook_receivers as wr};
    let Some(app) = TestApp::spawn(b).await else { return };
    let (tenant, admin) = tenant_admin(&app, "acme").await;
    let c = create(&app, &admin, webhook("orders")).await;
    let id = c["id"].as_str().unwrap().to_owned();
    // Receivers and sync configurations get their APIs in later work; arrange them directly.
    let store = app.store().await;
    let db = store.connection();
    let at = chrono::Utc::now();
    let sync_id = weir_core::ids::new_id();
    sc::ActiveModel {
        id: Set(sync_id.clone()),
        tenant_id: Set(tenant.clone()),
        connector_id: Set(id.clone()),
        name: Set("Nightly orders".into()),
        direction: Set(weir_core::Direction::Inbound),
        entity_type: Set("order".into()),
        field_mapping_id: Set(None),
        trigger_type: Set(weir_core::Trigger::Schedule),
        event_types: Set(json!([])),
        schedule: Set(Some("0 2 * * *".into())),
        source: Set(None),
        destination: Set(None),
        is_active: Set(true),
        next_run_at: Set(None),
        last_run_at: Set(None),
        last_success_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        deleted_at: Set(None),
        destination_secret_sealed: Set(None),
        ordering_field: Set(None),
    }
    .insert(db)
    .await
    .unwrap();
    wr::ActiveModel {
        id: Set(weir_core::ids::new_id()),
        tenant_id: Set(tenant.clone()),
        connector_id: Set(id.clone()),
        receiver_key: Set(weir_core::ids::new_id()),
        name: Set("All events".into()),
        event_type: Set("*".into()),
        auth_method: Set("bearer".into()),
        auth_options: Set(json!({})),
        secret_sealed: Set(None),
        previous_secret_sealed: Set(None),
        previous_secret_expires_at: Set(None),
        event_schema: Set(None),
        timestamp_tolerance_secs: Set(300),
        is_active: Set(true),
        last_received_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        deleted_at: Set(None),
    }
    .insert(db)
    .await
    .unwrap();
    let (_, shown) = app.call(Method::GET, &format!("{CONNECTORS}/{id}"), Some(&admin), None).await;
    assert_eq!(
        (shown["data"]["receivers_count"].as_u64(), shown["data"]["sync_configurations_count"].as_u64()),
        (Some(1), Some(1))
    );

    let problem =
        assert_problem(app.req(Method::DELETE, &format!("{CONNECTORS}/{id}"), Some(&admin)), StatusCode::CONFLICT)
            .await;
    assert!(problem["detail"].as_str().unwrap().contains("Nightly orders"), "{problem}");
    assert!(problem["errors"]["sync_configurations"][0].as_str().unwrap().contains(&sync_id));
    let (s, _) = app.call(Method::GET, &format!("{CONNECTORS}/{id}"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK, "the refused delete changed nothing");

    // A manual (non-scheduled) configuration does not block; an inactive scheduled one neither.
    sc::Entity::update_many()
        .col_expr(sc::Column::TriggerType, sea_orm::sea_query::Expr::value("manual"))
        .filter(sc::Column::Id.eq(sync_id.as_str()))
        .exec(db)
        .await
        .unwrap();
    let (s, _) = app.call(Method::DELETE, &format!("{CONNECTORS}/{id}"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let syncs = sc::Entity::find().filter(sc::Column::ConnectorId.eq(id.as_str())).all(db).await.unwrap();
    let receivers = wr::Entity::find().filter(wr::Column::ConnectorId.eq(id.as_str())).all(db).await.unwrap();
    assert!(syncs.iter().all(|s| !s.is_active) && receivers.iter().all(|r| !r.is_active), "taken out of service");
    // History stays readable: the audit trail names the deletion and what it deactivated.
    let principal = store.authenticate(&admin).await.unwrap().unwrap();
    let audit = store.list_audit(&principal.scope, weir_core::PageRequest::default()).await.unwrap();
    let deleted = audit.items.iter().find(|e| e.action == "connector.deleted").expect("audited");
    assert_eq!(deleted.details["receivers_deactivated"], 1);
    assert_eq!(deleted.details["sync_configurations_deactivated"], 1);
    store.close().await;
}

async fn every_endpoint_role_and_tenant(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let remote = MockServer::start().await;
    Mock::given(path("/")).respond_with(ResponseTemplate::new(200)).mount(&remote).await;
    let (ta, a_admin) = tenant_admin(&app, "tenant-a").await;
    let (_, a_admin2) = app.token(&ta, "admin").await;
    let (_, a_operator) = app.token(&ta, "operator").await;
    let (_, a_viewer) = app.token(&ta, "viewer").await;
    let (tb, b_admin) = tenant_admin(&app, "tenant-b").await;
    let (_, b_operator) = app.token(&tb, "operator").await;
    let (_, b_viewer) = app.token(&tb, "viewer").await;

    let http_dev = |code: &str| {
        json!({"code": code, "name": code, "type": "http", "environment": "development",
                                        "config": {"base_url": remote.uri()}})
    };
    let prod = create(
        &app,
        &a_admin,
        json!({"code": "prod", "name": "prod", "type": "http", "config": {"base_url": remote.uri()}}),
    )
    .await;
    let prod_id = prod["id"].as_str().unwrap().to_owned();
    let new_cr = || async {
        let (s, b) = app
            .call(
                Method::PATCH,
                &format!("{CONNECTORS}/{prod_id}"),
                Some(&a_admin2),
                Some(json!({"config": {"base_url": format!("{}/v2", remote.uri())}})),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
        b["data"]["change_request"]["id"].as_str().unwrap().to_owned()
    };

    #[derive(Clone, Copy, PartialEq, PartialOrd)]
    enum R {
        Viewer,
        Operator,
        Admin,
    }
    // (label, method, path, body, lowest role allowed, success status)
    let mut cases: Vec<(String, Method, String, Option<Value>, R, StatusCode)> = Vec::new();
    for (label, role, ok) in [
        ("show", R::Viewer, StatusCode::OK),
        ("patch", R::Admin, StatusCode::OK),
        ("delete", R::Admin, StatusCode::NO_CONTENT),
        ("test", R::Operator, StatusCode::OK),
    ] {
        let c = create(&app, &a_admin, http_dev(&format!("c-{label}"))).await;
        let id = c["id"].as_str().unwrap();
        let (m, p, body) = match label {
            "show" => (Method::GET, format!("{CONNECTORS}/{id}"), None),
            "patch" => (Method::PATCH, format!("{CONNECTORS}/{id}"), Some(json!({"name": "renamed"}))),
            "delete" => (Method::DELETE, format!("{CONNECTORS}/{id}"), None),
            _ => (Method::POST, format!("{CONNECTORS}/{id}/test-connection"), None),
        };
        cases.push((label.to_owned(), m, p, body, role, ok));
    }
    let cr_show = new_cr().await;
    cases.push((
        "cr show".into(),
        Method::GET,
        format!("/api/v1/integration/change-requests/{cr_show}"),
        None,
        R::Viewer,
        StatusCode::OK,
    ));
    let cr_approve = new_cr().await;
    cases.push((
        "cr approve".into(),
        Method::POST,
        format!("/api/v1/integration/change-requests/{cr_approve}/approve"),
        None,
        R::Admin,
        StatusCode::OK,
    ));

    let roles =
        [(R::Viewer, &a_viewer, &b_viewer), (R::Operator, &a_operator, &b_operator), (R::Admin, &a_admin, &b_admin)];
    for (label, method, path, body, min, ok) in &cases {
        // Tenant B never reaches tenant A's objects: 404 when its role would
        // allow the action, 403 when it would not (the role check needs no lookup).
        for (role, _, b_token) in &roles {
            let mut r = app.req(method.clone(), path, Some(b_token));
            if let Some(b) = body {
                r = r.json(b);
            }
            let expected = if role >= min { StatusCode::NOT_FOUND } else { StatusCode::FORBIDDEN };
            assert_problem(r, expected).await;
            let _ = label;
        }
        for (role, a_token, _) in &roles {
            let mut r = app.req(method.clone(), path, Some(a_token));
            if let Some(b) = body {
                r = r.json(b);
            }
            let res = r.send().await.unwrap();
            let expected = if role >= min { *ok } else { StatusCode::FORBIDDEN };
            assert_eq!(res.status(), expected, "{label} as {:?}", role >= min);
            if expected == StatusCode::NO_CONTENT {
                break;
            }
        }
    }
    // Reject: once per case since it decides the request.
    let cr_reject = new_cr().await;
    let reject = format!("/api/v1/integration/change-requests/{cr_reject}/reject");
    assert_problem(app.req(Method::POST, &reject, Some(&b_admin)), StatusCode::NOT_FOUND).await;
    assert_problem(app.req(Method::POST, &reject, Some(&a_operator)), StatusCode::FORBIDDEN).await;
    let (s, _) = app.call(Method::POST, &reject, Some(&a_admin), None).await;
    assert_eq!(s, StatusCode::OK);
    // Create and list act in the caller's own tenant: B sees none of A's.
    for (role, token) in [(R::Viewer, &a_viewer), (R::Operator, &a_operator)] {
        let _ = role;
        assert_problem(app.req(Method::POST, CONNECTORS, Some(token)).json(&webhook("nope")), StatusCode::FORBIDDEN)
            .await;
    }
    for token in [&b_viewer, &b_operator, &b_admin] {
        let (s, list) = app.call(Method::GET, CONNECTORS, Some(token), None).await;
        assert_eq!((s, list["meta"]["total"].as_u64()), (StatusCode::OK, Some(0)));
        let (s, list) = app.call(Method::GET, "/api/v1/integration/change-requests", Some(token), None).await;
        assert_eq!((s, list["meta"]["total"].as_u64()), (StatusCode::OK, Some(0)));
    }
    let (s, list) = app.call(Method::GET, CONNECTORS, Some(&a_viewer), None).await;
    assert_eq!(
        (s, list["meta"]["total"].as_u64()),
        (StatusCode::OK, Some(4)),
        "prod, show, patch, test (delete is gone)"
    );
}
