//! Webhook rate limits shared through Redis (issue 10): two instances on
//! one database admit the connector's limit together, not twice it; with
//! Redis cut (a TCP proxy inside the test — the machine's Redis keeps
//! running) intake keeps working on each instance's own limiter.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use weir::config::Settings;

use crate::helpers::{Backend, TestApp};

const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// Per minute: a burst of 120, then 2 per second.
const LIMIT: u32 = 120;

/// A TCP proxy to the local Redis that can be cut (connections closed, new
/// ones refused).
async fn redis_proxy() -> (u16, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let up = Arc::new(AtomicBool::new(true));
    let up2 = up.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if !up2.load(Ordering::SeqCst) {
                continue;
            }
            let up = up2.clone();
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect("127.0.0.1:6379").await else { return };
                let cut = async {
                    while up.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    () = cut => {}
                }
            });
        }
    });
    (port, up)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_limit_and_survive_without_redis() {
    let (port, up) = redis_proxy().await;
    let settings = || Settings {
        redis_url: Some(format!("redis://127.0.0.1:{port}/")),
        rate_limit_per_minute: Some(LIMIT.to_string()),
        master_key: Some(MASTER_KEY.into()),
        ..Settings::default()
    };
    let Some(a) = TestApp::spawn_with(Backend::Postgres, settings()).await else { return };
    let b = a.spawn_sharing(settings()).await;
    let t = a.tenant("acme").await;
    let (_, admin) = a.token(&t, "admin").await;
    let (s, c) = a
        .call(
            Method::POST,
            "/api/v1/integration/connectors",
            Some(&admin),
            Some(json!({"code": "shop", "name": "Shop", "type": "webhook", "environment": "development"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let cid = c["data"]["id"].as_str().unwrap();
    let (s, r) = a
        .call(
            Method::POST,
            &format!("/api/v1/integration/connectors/{cid}/webhook-receivers"),
            Some(&admin),
            Some(json!({"event_type": "*", "auth": {"method": "bearer"}, "secret": "shared-limit-secret"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let path = r["data"]["receiver_url"].as_str().unwrap().to_owned();

    // Deliveries (unsigned: the limit is checked before verification, so
    // "admitted" is anything but 429) alternately to both instances.
    let send =
        |app: &TestApp| app.client.post(app.url(&path)).header("content-type", "application/json").body("{}").send();
    let started = Instant::now();
    let (mut admitted, mut limited) = (0u32, 0u32);
    for i in 0..400 {
        let res = if i % 2 == 0 { send(&a).await } else { send(&b).await }.unwrap();
        match res.status() {
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(res.headers().contains_key("retry-after"));
                limited += 1;
            }
            StatusCode::UNAUTHORIZED => admitted += 1,
            other => panic!("unexpected {other}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = f64::from(LIMIT) + elapsed * f64::from(LIMIT) / 60.0;
    assert!(
        f64::from(admitted) <= allowed * 1.1 && f64::from(admitted) >= f64::from(LIMIT) * 0.9,
        "two instances admitted {admitted} in {elapsed:.1} s; the shared limit allows {allowed:.0} (each alone would allow that much)"
    );
    assert!(limited > 0);

    // Redis cut: intake keeps working on each instance's own limiter.
    up.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await; // the proxy closes its connections
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(send(&a).await.unwrap().status());
    }
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED), "fails open on the local limiter: {statuses:?}");
    let metrics = a.client.get(a.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("weir_rate_limit_fallback_total"), "the fallback is counted");
    println!(
        "shared limits: {admitted} admitted, {limited} limited of 400 over two instances in {elapsed:.1} s (limit {LIMIT}/min)"
    );
}
