//! `weir-loadgen`: benchmarks against a running Weir server. Every run is
//! bounded in count and time, and only loopback targets are accepted.
//!
//! ```text
//! weir-loadgen connectors-list --base http://127.0.0.1:8080 --system-token weir_… \
//!     --connectors 1000 --calls 200
//! ```

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(name = "weir-loadgen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a tenant with N connectors, then time repeated list calls.
    ConnectorsList {
        /// Server base URL (loopback only).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base: String,
        /// The server's system token.
        #[arg(long, env = "WEIR_SYSTEM_TOKEN")]
        system_token: String,
        /// Connectors to create (at most 10000).
        #[arg(long, default_value_t = 1000)]
        connectors: u32,
        /// Timed list calls per variant (at most 10000).
        #[arg(long, default_value_t = 200)]
        calls: u32,
    },
}

/// Refuses anything but a loopback target.
fn check_loopback(base: &str) -> anyhow::Result<()> {
    let url = url::Url::parse(base).context("--base is not a URL")?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    ensure!(loopback, "weir-loadgen only targets loopback addresses");
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn post(c: &reqwest::Client, url: String, token: &str, body: Value) -> anyhow::Result<Value> {
    let r = c.post(url).bearer_auth(token).json(&body).send().await?;
    let status = r.status();
    let v: Value = r.json().await?;
    if !status.is_success() {
        bail!("{status}: {v}");
    }
    Ok(v)
}

async fn connectors_list(base: &str, system: &str, n: u32, calls: u32) -> anyhow::Result<()> {
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
            json!({"code": format!("c{i:05}"), "name": format!("Connector {i}"), "type": "webhook"})
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().command {
        Command::ConnectorsList { base, system_token, connectors, calls } => {
            connectors_list(base.trim_end_matches('/'), &system_token, connectors, calls).await
        }
    }
}
