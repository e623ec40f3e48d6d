//! The audit trail API: admin only, filters, streamed export that round-trips,
//! verification that names a tampered entry, tenancy.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem};

backend_tests!(audit_trail_lists_exports_and_verifies);

const AUDIT: &str = "/api/v1/integration/audit-logs";

async fn audit_trail_lists_exports_and_verifies(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let t = app.tenant("acme").await;
    let (_, admin) = app.token(&t, "admin").await;
    let (_, operator) = app.token(&t, "operator").await;
    let (_, viewer) = app.token(&t, "viewer").await;
    for code in ["one", "two", "three"] {
        let body = json!({"code": code, "name": code, "type": "webhook", "environment": "development"});
        let (s, _) = app.call(Method::POST, "/api/v1/integration/connectors", Some(&admin), Some(body)).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (_, c) = app.call(Method::GET, "/api/v1/integration/connectors?q=two", Some(&admin), None).await;
    let two = c["data"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = app.call(Method::DELETE, &format!("/api/v1/integration/connectors/{two}"), Some(&admin), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // Admin only.
    for token in [&viewer, &operator] {
        assert_problem(app.req(Method::GET, AUDIT, Some(token)), StatusCode::FORBIDDEN).await;
        assert_problem(app.req(Method::GET, &format!("{AUDIT}/verify"), Some(token)), StatusCode::FORBIDDEN).await;
        assert_problem(app.req(Method::GET, &format!("{AUDIT}/export"), Some(token)), StatusCode::FORBIDDEN).await;
    }
    let (s, all) = app.call(Method::GET, AUDIT, Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK, "{all}");
    assert_eq!(all["meta"]["total"], 4);
    assert_eq!(all["data"][0]["action"], "connector.deleted", "newest first");
    assert_eq!(all["data"][0]["seq"], 4);
    let (_, created) = app.call(Method::GET, &format!("{AUDIT}?action=connector.created"), Some(&admin), None).await;
    assert_eq!(created["meta"]["total"], 3);
    let (_, none) = app.call(Method::GET, &format!("{AUDIT}?from=2999-01-01"), Some(&admin), None).await;
    assert_eq!(none["meta"]["total"], 0);
    let (_, today) =
        app.call(Method::GET, &format!("{AUDIT}?from={}", chrono::Utc::now().date_naive()), Some(&admin), None).await;
    assert_eq!(today["meta"]["total"], 4);
    for bad in ["from=soon", "from=2026-02-01&to=2026-01-01", "bogus=1"] {
        assert_problem(app.req(Method::GET, &format!("{AUDIT}?{bad}"), Some(&admin)), StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    }

    // Export round-trips: CSV and JSON hold exactly the listed entries, oldest first.
    let res = app.req(Method::GET, &format!("{AUDIT}/export?format=csv"), Some(&admin)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    let text = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let listed: Vec<&Value> = all["data"].as_array().unwrap().iter().rev().collect();
    assert_eq!(rows.len(), listed.len());
    for (row, entry) in rows.iter().zip(&listed) {
        assert_eq!(&row[0], entry["seq"].to_string().as_str());
        assert_eq!(&row[3], entry["action"].as_str().unwrap());
        assert_eq!(&row[10], entry["entry_hash"].as_str().unwrap());
        let details: Value = serde_json::from_str(&row[8]).unwrap();
        assert_eq!(&details, &entry["details"]);
    }
    let res = app.req(Method::GET, &format!("{AUDIT}/export?format=json&action=connector.created"), Some(&admin));
    let exported: Vec<Value> = res.send().await.unwrap().json().await.unwrap();
    assert_eq!(exported.len(), 3);
    assert!(exported.windows(2).all(|w| w[0]["seq"].as_i64() < w[1]["seq"].as_i64()));

    // Verify: valid, then a tampered row is named.
    let (_, v) = app.call(Method::GET, &format!("{AUDIT}/verify"), Some(&admin), None).await;
    assert_eq!(v["data"], json!({"valid": true, "entries": 4, "pruned_entries": 0, "first_invalid_seq": null}));
    let store = app.store().await;
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        use weir_store::entities::audit_logs as al;
        al::Entity::update_many()
            .col_expr(al::Column::Details, Expr::value(json!({"code": "forged"})))
            .filter(al::Column::TenantId.eq(t.as_str()))
            .filter(al::Column::Seq.eq(2))
            .exec(store.connection())
            .await
            .unwrap();
    }
    store.close().await;
    let (_, v) = app.call(Method::GET, &format!("{AUDIT}/verify"), Some(&admin), None).await;
    assert_eq!(v["data"], json!({"valid": false, "entries": 1, "pruned_entries": 0, "first_invalid_seq": 2}));

    // Another tenant sees only its own (empty) trail.
    let other = app.tenant("other").await;
    let (_, other_admin) = app.token(&other, "admin").await;
    let (_, theirs) = app.call(Method::GET, AUDIT, Some(&other_admin), None).await;
    assert_eq!(theirs["meta"]["total"], 0);
    let (_, v) = app.call(Method::GET, &format!("{AUDIT}/verify"), Some(&other_admin), None).await;
    assert_eq!(v["data"]["valid"], true);
    app.stop().await;
}
