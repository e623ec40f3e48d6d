//! A flood of forged deliveries (issue 17, item 13): 10,000 unsigned POSTs
//! to one receiver from one address are all refused and all counted, but
//! they add a handful of audit entries (one per minute, plus the first of
//! each minute), not 10,000, and the server's peak memory stays bounded.

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_weir");
const FLOOD: u64 = 10_000;
const IN_FLIGHT: u64 = 16;

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

/// `weir serve` on `db_url` with a fixed master key and system token.
async fn serve(dir: &std::path::Path, db_url: &str, system: &str) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).kill_on_drop(true);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("WEIR_")) {
        cmd.env_remove(k);
    }
    let mut child = cmd
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("WEIR_LOG", "warn")
        .env("WEIR_DATABASE_URL", db_url)
        .env("WEIR_SYSTEM_TOKEN", system)
        .env("WEIR_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        .env("WEIR_RATE_LIMIT_PER_MINUTE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..400 {
        assert!(child.try_wait().unwrap().is_none(), "weir exited during start-up");
        if client().get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("weir never became ready");
}

fn peak_rss_mb(child: &Child) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id().unwrap())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap() / 1024.0
}

/// A tenant, a connector and an HMAC receiver; answers the receive URL.
async fn receiver(base: &str, system: &str) -> String {
    let c = client();
    let post = |url: String, token: String, body: Value| {
        let c = c.clone();
        async move {
            let r = c.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            r.json::<Value>().await.unwrap()["data"].clone()
        }
    };
    let t = post(format!("{base}/api/v1/system/tenants"), system.into(), json!({"slug": "acme", "name": "Acme"})).await;
    let tid = t["id"].as_str().unwrap();
    let admin = post(
        format!("{base}/api/v1/system/tenants/{tid}/tokens"),
        system.into(),
        json!({"name": "a", "role": "admin"}),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let api = format!("{base}/api/v1/integration");
    let body = json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"});
    let cid = post(format!("{api}/connectors"), admin.clone(), body).await["id"].as_str().unwrap().to_owned();
    let body = json!({"event_type": "*", "auth": {"method": "hmac_sha256"}});
    let r = post(format!("{api}/connectors/{cid}/webhook-receivers"), admin, body).await;
    format!("{base}{}", r["receiver_url"].as_str().unwrap())
}

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned())).await.unwrap();
    row.unwrap().try_get_by_index::<i64>(0).unwrap()
}

async fn a_flood_of_refusals_is_audited_in_bounded_rows_and_memory(backend: helpers::Backend) {
    let dir = tempfile::tempdir().unwrap();
    let Some((db_url, _guard)) = helpers::fresh_database(backend, dir.path()).await else { return };
    let system = "weir_flood_test_system_token_0123456789";
    let (mut child, base) = serve(dir.path(), &db_url, system).await;
    let url = receiver(&base, system).await;
    let before_mb = peak_rss_mb(&child);

    // Bounded: 10,000 requests, 16 at a time, within two minutes.
    let (sent, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let senders = (0..IN_FLIGHT).map(|_| {
        let (c, url, sent, refused) = (client(), url.clone(), sent.clone(), refused.clone());
        tokio::spawn(async move {
            while sent.fetch_add(1, Ordering::Relaxed) < FLOOD && started.elapsed() < Duration::from_secs(120) {
                let r = c.post(&url).header("content-type", "application/json").body(r#"{"forged":true}"#).send();
                if r.await.is_ok_and(|r| r.status() == 401) {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    });
    for s in senders.collect::<Vec<_>>() {
        s.await.unwrap();
    }
    assert_eq!(refused.load(Ordering::Relaxed), FLOOD, "every forged delivery is refused with 401");
    let minutes = started.elapsed().as_secs() / 60 + 2;
    let peak_mb = peak_rss_mb(&child);

    // A graceful stop writes the counted repeats.
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("stops").unwrap();

    let db = Database::connect(&db_url).await.unwrap();
    let rows = count(&db, "SELECT COUNT(*) FROM audit_logs WHERE action = 'webhook.rejected'").await;
    let sum = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            "SELECT CAST(SUM(COALESCE((details->>'count')::bigint, 1)) AS BIGINT) FROM audit_logs WHERE action = 'webhook.rejected'"
        }
        _ => {
            "SELECT CAST(SUM(COALESCE(json_extract(details, '$.count'), 1)) AS BIGINT) FROM audit_logs WHERE action = 'webhook.rejected'"
        }
    };
    let counted = count(&db, sum).await;
    let rolled = count(&db, "SELECT CAST(SUM(webhooks_rejected) AS BIGINT) FROM daily_rollups").await;
    db.close().await.ok();
    eprintln!(
        "flood: {FLOOD} refusals in {:.1} s → {rows} audit rows; peak RSS {before_mb:.1} → {peak_mb:.1} MB",
        started.elapsed().as_secs_f64()
    );
    assert!(rows as u64 <= 2 * minutes, "{rows} rows for {FLOOD} refusals over < {minutes} minutes");
    assert_eq!(counted as u64, FLOOD, "the entries' counts add up to every refusal");
    assert_eq!(rolled as u64, FLOOD, "the dashboard counts every refusal");
    assert!(peak_mb < 150.0, "peak RSS {peak_mb:.1} MB");

    // The trail still verifies after the flood.
    let (mut child, base) = serve(dir.path(), &db_url, system).await;
    let c = client();
    let t: Value =
        c.get(format!("{base}/api/v1/system/tenants")).bearer_auth(system).send().await.unwrap().json().await.unwrap();
    let tid = t["data"][0]["id"].as_str().unwrap();
    let admin: Value = c
        .post(format!("{base}/api/v1/system/tenants/{tid}/tokens"))
        .bearer_auth(system)
        .json(&json!({"name": "v", "role": "admin"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let v: Value = c
        .get(format!("{base}/api/v1/integration/audit-logs/verify"))
        .bearer_auth(admin["data"]["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["valid"], json!(true), "{v}");
    child.kill().await.ok();
}

#[tokio::test]
async fn a_flood_of_refusals_is_audited_in_bounded_rows_and_memory_sqlite() {
    a_flood_of_refusals_is_audited_in_bounded_rows_and_memory(helpers::Backend::Sqlite).await;
}

#[tokio::test]
async fn a_flood_of_refusals_is_audited_in_bounded_rows_and_memory_postgres() {
    a_flood_of_refusals_is_audited_in_bounded_rows_and_memory(helpers::Backend::Postgres).await;
}
