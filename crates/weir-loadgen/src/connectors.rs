//! `weir-loadgen connectors-list`: a tenant with N connectors (half
//! webhook, half `http`), then list calls timed per query variant.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::json;
use weir_core::ConnectorType;

use crate::{check_loopback, percentile, post};

/// Creates the tenant and `n` connectors, then times `calls` list calls for
/// each query variant (after 5 warm-up calls).
pub(crate) async fn connectors_list(base: &str, system: &str, n: u32, calls: u32) -> anyhow::Result<()> {
    check_loopback(base)?;
    ensure!(n <= 10_000 && calls <= 10_000, "bounded: at most 10000 connectors and calls");
    let c = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let slug = format!("bench-{}", std::process::id());
    let t = post(&c, format!("{base}/api/v1/system/tenants"), system, json!({"slug": slug, "name": "Bench"})).await?;
    let tid = t["data"]["id"].as_str().context("tenant id")?.to_owned();
    let tok = post(
        &c,
        format!("{base}/api/v1/system/tenants/{tid}/tokens"),
        system,
        json!({"name": "bench", "role": "admin"}),
    )
    .await?;
    let admin = tok["data"]["token"].as_str().context("token")?.to_owned();
    let started = Instant::now();
    for i in 0..n {
        let body = if i % 2 == 0 {
            json!({"code": format!("c{i:05}"), "name": format!("Connector {i}"), "type": ConnectorType::Webhook})
        } else {
            json!({"code": format!("c{i:05}"), "name": format!("Connector {i}"), "type": "http",
                   "config": {"base_url": "https://api.example.com", "auth": {"type": "bearer"}},
                   "credentials": {"token": "bench"}})
        };
        post(&c, format!("{base}/api/v1/integration/connectors"), &admin, body).await?;
    }
    println!("created {n} connectors in {:.1} s", started.elapsed().as_secs_f64());
    for query in ["per_page=25", "per_page=100", "per_page=25&page=40", "per_page=25&q=connector%2099"] {
        let url = format!("{base}/api/v1/integration/connectors?{query}");
        // Warm up.
        for _ in 0..5 {
            c.get(&url).bearer_auth(&admin).send().await?.bytes().await?;
        }
        let mut times = Vec::with_capacity(calls as usize);
        for _ in 0..calls {
            let t0 = Instant::now();
            let r = c.get(&url).bearer_auth(&admin).send().await?;
            ensure!(r.status().is_success(), "list answered {}", r.status());
            r.bytes().await?;
            times.push(t0.elapsed());
        }
        times.sort();
        println!(
            "GET connectors?{query:<28} calls={calls} median={:.2} ms p95={:.2} ms max={:.2} ms",
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.95).as_secs_f64() * 1e3,
            times.last().copied().unwrap_or_default().as_secs_f64() * 1e3
        );
    }
    Ok(())
}
