//! Upgrading a database whose audit trail predates keyed hashes (issue 17,
//! item 4) with the real binary: `weir migrate` applies migration 000016
//! and re-keys the old chain in the same command, so the server started
//! afterwards verifies it; `weir audit rekey` then finds nothing to do.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, Statement};
use sea_orm_migration::MigratorTrait;
use serde_json::{Value, json};
use weir_core::audit::{GENESIS_HASH, canonical_json, legacy_chain_hash};
use weir_store::migration::Migrator;

const BIN: &str = env!("CARGO_BIN_EXE_weir");
const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const SYSTEM: &str = "weir_upgrade_test_system_token_0123456789";
/// The old tenant (ids are UUIDs).
const T: &str = "01a23a9c-d1ef-728b-aec5-97687a6b713d";

fn weir(dir: &std::path::Path, db_url: &str) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(BIN);
    c.current_dir(dir).kill_on_drop(true);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("WEIR_")) {
        c.env_remove(k);
    }
    c.env("WEIR_LOG", "warn").env("WEIR_DATABASE_URL", db_url).env("WEIR_MASTER_KEY", MASTER_KEY);
    c.env("WEIR_SYSTEM_TOKEN", SYSTEM).env("WEIR_DATA_DIR", dir);
    c
}

/// A database at the schema before migration 000016 with a tenant whose
/// three audit entries are chained under the old unkeyed hash.
async fn old_database(db_url: &str) {
    let db = Database::connect(db_url).await.unwrap();
    Migrator::up(&db, Some(11)).await.unwrap();
    let exec = |sql: String| {
        let db = &db;
        async move { db.execute_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap() }
    };
    let at = chrono::Utc::now();
    let (stamp, when) =
        (at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), at.format("%Y-%m-%d %H:%M:%S%.6f+00:00").to_string());
    exec(format!(
        "INSERT INTO tenants (id, slug, name, created_at, updated_at) VALUES ('{T}', 'acme', 'Acme', '{when}', '{when}')"
    ))
    .await;
    let mut prev = GENESIS_HASH.to_owned();
    for seq in 1..=3i64 {
        let details = json!({"seq": seq});
        let content = canonical_json(&json!({
            "tenant_id": T, "seq": seq, "action": "connector.created", "actor": "system",
            "resource_type": "connector", "resource_id": format!("c{seq}"), "connector_id": null,
            "details": details, "created_at": stamp,
        }));
        let hash = legacy_chain_hash(&prev, &content);
        exec(format!(
            "INSERT INTO audit_logs (id, tenant_id, seq, action, actor, resource_type, resource_id, details, prev_hash, entry_hash, created_at) \
             VALUES ('01a23a9c-d1ef-728b-aec5-0000000000{seq:02}', '{T}', {seq}, 'connector.created', 'system', 'connector', 'c{seq}', '{details}', '{prev}', '{hash}', '{when}')"
        ))
        .await;
        prev = hash;
    }
    db.close().await.ok();
}

async fn migrate_rekeys_and_the_server_verifies(backend: helpers::Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some((db_url, _guard)) = helpers::fresh_database(backend, dir.path()).await else { return };
    old_database(&db_url).await;
    let migrated = weir(dir.path(), &db_url).arg("migrate").output().await.unwrap();
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = weir(dir.path(), &db_url)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..400 {
        if c.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tenants: Value =
        c.get(format!("{base}/api/v1/system/tenants")).bearer_auth(SYSTEM).send().await.unwrap().json().await.unwrap();
    assert_eq!(tenants["data"][0]["slug"], json!("acme"), "{tenants}");
    let token: Value = c
        .post(format!("{base}/api/v1/system/tenants/{}/tokens", tenants["data"][0]["id"].as_str().unwrap()))
        .bearer_auth(SYSTEM)
        .json(&json!({"name": "auditor", "role": "admin"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let v: Value = c
        .get(format!("{base}/api/v1/integration/audit-logs/verify"))
        .bearer_auth(token["data"]["token"].as_str().unwrap_or_else(|| panic!("{token}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((v["data"]["valid"].clone(), v["data"]["entries"].clone()), (json!(true), json!(3)), "{v}");
    server.kill().await.ok();

    let rekey = weir(dir.path(), &db_url).args(["audit", "rekey"]).output().await.unwrap();
    assert!(rekey.status.success(), "{}", String::from_utf8_lossy(&rekey.stderr));
    let out: Value = serde_json::from_slice(&rekey.stdout).unwrap();
    assert_eq!(out, json!({"chains_rekeyed": 0}), "already keyed: nothing to do");
}

#[tokio::test]
async fn migrate_rekeys_and_the_server_verifies_sqlite() {
    migrate_rekeys_and_the_server_verifies(helpers::Backend::Sqlite).await;
}

#[tokio::test]
async fn migrate_rekeys_and_the_server_verifies_postgres() {
    migrate_rekeys_and_the_server_verifies(helpers::Backend::Postgres).await;
}
