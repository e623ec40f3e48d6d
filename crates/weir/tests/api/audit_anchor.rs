//! The audit chain is keyed and has a signed head (issue 17, item 4):
//! whoever holds only the database can neither rewrite an entry and
//! recompute the later hashes, nor delete the newest entries, without
//! `verify` saying so (against a saved head, for the deletion).

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement, Value as DbValue};
use serde_json::{Value, json};
use weir_core::audit::{GENESIS_HASH, canonical_json, legacy_chain_hash};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp, assert_problem};

backend_tests!(
    rewriting_and_recomputing_without_the_key_is_detected,
    deleting_the_newest_entries_is_detected_against_a_saved_head,
    verify_refuses_a_malformed_head,
    signed_heads_are_appended_to_a_file_outside_the_database
);

const VERIFY: &str = "/api/v1/integration/audit-logs/verify";
const HEAD: &str = "/api/v1/integration/audit-logs/head";

/// An admin of a new tenant with `n` audited changes (connectors created).
async fn tenant_with_entries(app: &TestApp, n: usize) -> String {
    let tenant = app.tenant("acme").await;
    let (_, admin) = app.token(&tenant, "admin").await;
    for i in 0..n {
        let body =
            json!({"code": format!("c{i}"), "name": format!("C {i}"), "type": "webhook", "environment": "development"});
        let (s, _) = app.call(Method::POST, "/api/v1/integration/connectors", Some(&admin), Some(body)).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    admin
}

async fn verify(app: &TestApp, admin: &str, query: &str) -> Value {
    let (s, body) = app.call(Method::GET, &format!("{VERIFY}{query}"), Some(admin), None).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body["data"].clone()
}

async fn exec(db: &DatabaseConnection, sql: &str, values: Vec<DbValue>) {
    db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await.unwrap();
}

/// `?` or `$n` placeholders for the backend.
fn ph(db: &DatabaseConnection, n: usize) -> String {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

async fn rewriting_and_recomputing_without_the_key_is_detected(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let admin = tenant_with_entries(&app, 4).await;
    let before = verify(&app, &admin, "").await;
    assert_eq!((before["valid"].as_bool(), before["entries"].as_u64()), (Some(true), Some(4)), "{before}");

    // The attacker rewrites entry 2 and recomputes every hash from it on,
    // the way an unkeyed chain would let them (SHA-256 over the columns).
    let store = app.store().await;
    let tenant_scope = {
        let cap = weir_store::SystemScope::local_operator();
        let t = store.get_tenant_by_slug(&cap, "acme").await.unwrap();
        store.tenant_scope(&cap, &t.id).await.unwrap()
    };
    let mut rows = store
        .list_audit(&tenant_scope, weir_core::PageRequest::parse(Some(1), Some(100)).unwrap())
        .await
        .unwrap()
        .items;
    rows.reverse();
    let db = Database::connect(&app.db_url).await.unwrap();
    let mut prev = rows[0].entry_hash.clone();
    for r in rows.iter_mut().skip(1) {
        if r.seq == 2 {
            r.details["name"] = json!("Rewritten");
        }
        let content = canonical_json(&json!({
            "tenant_id": tenant_scope.tenant_id(), "id": r.id, "seq": r.seq, "action": r.action, "actor": r.actor,
            "resource_type": r.resource_type, "resource_id": r.resource_id, "connector_id": r.connector_id,
            "details": r.details, "created_at": r.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        }));
        let hash = legacy_chain_hash(&prev, &content);
        let sql = format!(
            "UPDATE audit_logs SET details = {}, prev_hash = {}, entry_hash = {} WHERE id = {}",
            ph(&db, 1),
            ph(&db, 2),
            ph(&db, 3),
            ph(&db, 4)
        );
        let details = DbValue::Json(Some(Box::new(r.details.clone())));
        exec(&db, &sql, vec![details, prev.clone().into(), hash.clone().into(), r.id.clone().into()]).await;
        prev = hash;
    }
    let after = verify(&app, &admin, "").await;
    assert_eq!(after["valid"], json!(false), "{after}");
    assert_eq!(after["first_invalid_seq"], json!(2), "{after}");
    assert_eq!(after["entries"], json!(1));
}

async fn deleting_the_newest_entries_is_detected_against_a_saved_head(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let admin = tenant_with_entries(&app, 5).await;
    let (s, head) = app.call(Method::GET, HEAD, Some(&admin), None).await;
    assert_eq!(s, StatusCode::OK);
    let head = head["data"].clone();
    assert_eq!(head["seq"], json!(5), "{head}");
    assert_eq!(head["hash"].as_str().map(str::len), Some(64));
    assert!(head["public_key"].as_str().is_some_and(|k| !k.is_empty()));
    let hash = head["hash"].as_str().unwrap().to_owned();
    let signed_at = head["signed_at"].as_str().unwrap().to_owned();
    let signature = head["signature"].as_str().unwrap().to_owned();
    let q = |seq: i64| format!("?head_seq={seq}&head_hash={hash}");
    let signed = format!("{}&head_signed_at={}&head_signature={}", q(5), urlencode(&signed_at), urlencode(&signature));

    let ok = verify(&app, &admin, &signed).await;
    assert_eq!(ok["valid"], json!(true), "{ok}");
    assert_eq!(ok["head"], json!({"seq": 5, "status": "matches", "signature_valid": true}));
    // A signature over another time is not this installation's.
    let forged = signed.replace(&urlencode(&signed_at), &urlencode("2020-01-01T00:00:00.000000Z"));
    let forged = verify(&app, &admin, &forged).await;
    assert_eq!((forged["valid"].clone(), forged["head"]["signature_valid"].clone()), (json!(false), json!(false)));

    // Later entries do not disturb the saved head.
    let body = json!({"code": "late", "name": "Late", "type": "webhook", "environment": "development"});
    app.call(Method::POST, "/api/v1/integration/connectors", Some(&admin), Some(body)).await;
    assert_eq!(verify(&app, &admin, &q(5)).await["head"]["status"], json!("matches"));

    // The attacker deletes the three newest entries: the rest still chains.
    let db = Database::connect(&app.db_url).await.unwrap();
    exec(&db, &format!("DELETE FROM audit_logs WHERE seq > {}", ph(&db, 1)), vec![3i64.into()]).await;
    let plain = verify(&app, &admin, "").await;
    assert_eq!(
        (plain["valid"].clone(), plain["entries"].clone()),
        (json!(true), json!(3)),
        "undetectable without a head"
    );
    let against = verify(&app, &admin, &q(5)).await;
    assert_eq!(against["valid"], json!(false), "{against}");
    assert_eq!(against["head"]["status"], json!("truncated"));

    // Against a head at seq 3 with another hash: diverged.
    let other = format!("?head_seq=3&head_hash={}", "a".repeat(64));
    let diverged = verify(&app, &admin, &other).await;
    assert_eq!((diverged["valid"].clone(), diverged["head"]["status"].clone()), (json!(false), json!("diverged")));
    // The empty chain's head (seq 0, the genesis hash) always matches.
    let genesis = verify(&app, &admin, &format!("?head_seq=0&head_hash={GENESIS_HASH}")).await;
    assert_eq!(genesis["head"]["status"], json!("matches"));

    // A row added behind Weir's back gets no signed head.
    exec(
        &db,
        &format!(
            "INSERT INTO audit_logs (id, tenant_id, seq, action, actor, details, prev_hash, entry_hash, created_at) \
             SELECT 'forged', tenant_id, 4, 'connector.created', 'token:x', '{{}}', entry_hash, {}, created_at FROM audit_logs WHERE seq = 3",
            ph(&db, 1)
        ),
        vec!["b".repeat(64).into()],
    )
    .await;
    assert_problem(app.req(Method::GET, HEAD, Some(&admin)), StatusCode::CONFLICT).await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn verify_refuses_a_malformed_head(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else { return };
    let admin = tenant_with_entries(&app, 1).await;
    for (query, field) in [
        ("?head_seq=1", "head_hash"),
        (&format!("?head_hash={}", "a".repeat(64)) as &str, "head_seq"),
        ("?head_seq=1&head_hash=XYZ", "head_hash"),
        (&format!("?head_seq=-1&head_hash={}", "a".repeat(64)), "head_seq"),
        (&format!("?head_seq=1&head_hash={}&head_signature=abc", "a".repeat(64)), "head_signed_at"),
    ] {
        let p = assert_problem(
            app.req(Method::GET, &format!("{VERIFY}{query}"), Some(&admin)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(p["errors"].get(field).is_some(), "{query}: {p}");
    }
    let (_, viewer) = app.token(&app.tenant("other").await, "viewer").await;
    assert_problem(app.req(Method::GET, HEAD, Some(&viewer)), StatusCode::FORBIDDEN).await;
    assert_problem(app.req(Method::GET, HEAD, None), StatusCode::UNAUTHORIZED).await;
}

/// `WEIR_AUDIT_HEAD_FILE`: the scheduler appends each tenant's signed head
/// as a JSON line; a head read back from the file checks against the chain.
async fn signed_heads_are_appended_to_a_file_outside_the_database(b: Backend) {
    let outside = tempfile::tempdir().unwrap();
    let file = outside.path().join("heads.jsonl");
    let settings = weir::Settings {
        audit_head_interval_secs: Some("1".into()),
        audit_head_file: Some(file.display().to_string()),
        ..weir::Settings::default()
    };
    let Some(app) = TestApp::spawn_with(b, settings).await else { return };
    let admin = tenant_with_entries(&app, 2).await;
    let mut saved = Value::Null;
    for _ in 0..100 {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        if let Some(line) = text.lines().rev().find(|l| l.contains("\"seq\":2")) {
            saved = serde_json::from_str(line).unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(saved["seq"], json!(2), "no head with seq 2 in {}", file.display());
    let query = format!(
        "?head_seq=2&head_hash={}&head_signed_at={}&head_signature={}",
        saved["hash"].as_str().unwrap(),
        urlencode(saved["signed_at"].as_str().unwrap()),
        urlencode(saved["signature"].as_str().unwrap())
    );
    let v = verify(&app, &admin, &query).await;
    assert_eq!(v["head"], json!({"seq": 2, "status": "matches", "signature_valid": true}), "{v}");
}
