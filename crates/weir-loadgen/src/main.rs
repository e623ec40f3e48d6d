//! `weir-loadgen`: benchmarks against a running Weir server. Every run is
//! bounded in count and time, and only loopback targets are accepted.
//!
//! ```text
//! weir-loadgen connectors-list --base http://127.0.0.1:8080 --system-token weir_… --connectors 1000
//! weir-loadgen webhooks --base http://127.0.0.1:8080 --system-token weir_… --method standard_webhooks \
//!     --concurrency 64 --duration-secs 20 --schema
//! weir-loadgen noop --listen 127.0.0.1:18099 --lifetime-secs 60      # baseline server
//! weir-loadgen blast --url http://127.0.0.1:18099/x --concurrency 64 --duration-secs 20
//! weir-loadgen insert-rate --database-url postgres://… --rows 200000
//! weir-loadgen soak --base http://127.0.0.1:8080 --system-token weir_… --minutes 10 --server-pid 1234
//! ```

mod baselines;
mod dashboard;
mod soak;
mod syncs;
mod webhooks;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use weir_core::ConnectorType;

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
    /// Send signed webhooks at a fixed concurrency; check stored == accepted.
    Webhooks {
        /// Server base URL (loopback only).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base: String,
        /// The server's system token.
        #[arg(long, env = "WEIR_SYSTEM_TOKEN")]
        system_token: String,
        /// bearer, hmac_sha256 or standard_webhooks.
        #[arg(long, default_value = "standard_webhooks")]
        method: String,
        /// Concurrent senders.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Run time (at most 600).
        #[arg(long, default_value_t = 20)]
        duration_secs: u64,
        /// Stop after this many requests (0 = time only).
        #[arg(long, default_value_t = 0)]
        count: u64,
        /// Validate against a small JSON Schema.
        #[arg(long)]
        schema: bool,
        /// Approximate body size in bytes.
        #[arg(long, default_value_t = 1024)]
        body_bytes: usize,
        /// Route events through a 10-rule mapping into records; report
        /// end-to-end throughput and queue lag.
        #[arg(long)]
        process: bool,
        /// Target requests/s across all senders (0 = as fast as possible).
        #[arg(long, default_value_t = 0)]
        rate: u64,
    },
    /// Sync benchmarks against a partner API served here: one large inbound
    /// run, then many configurations at once.
    Sync {
        /// Server base URL (loopback only).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base: String,
        /// The server's system token.
        #[arg(long, env = "WEIR_SYSTEM_TOKEN")]
        system_token: String,
        /// Records in the large run (0 = skip it; at most 2,000,000).
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        /// Records per page.
        #[arg(long, default_value_t = 100)]
        page_size: u64,
        /// Configurations run at once afterwards (0 = skip; at most 1000).
        #[arg(long, default_value_t = 200)]
        configurations: u32,
        /// Loopback address for the partner API.
        #[arg(long, default_value = "127.0.0.1:18098")]
        partner: String,
        /// The server's PID, to report its peak RSS.
        #[arg(long)]
        server_pid: Option<u32>,
        /// Records of a run whose every record fails, then exported (0 = skip).
        #[arg(long, default_value_t = 0)]
        export_errors: u64,
    },
    /// Dashboard benchmark: `seed` a large history (API + rows generated in
    /// the database), then (after `weir rollups rebuild`) `time` the dashboard.
    Dashboard {
        /// `seed` or `time`.
        step: String,
        /// Server base URL (loopback only).
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base: String,
        /// The server's system token.
        #[arg(long, env = "WEIR_SYSTEM_TOKEN")]
        system_token: String,
        /// The server's database (loopback), for `seed`.
        #[arg(long, default_value = "")]
        database_url: String,
        /// Events to generate (at most 20,000,000).
        #[arg(long, default_value_t = 5_000_000)]
        events: u64,
        /// Runs to generate (at most 2,000,000).
        #[arg(long, default_value_t = 200_000)]
        runs: u64,
        /// Connectors to create (at most 10,000).
        #[arg(long, default_value_t = 1000)]
        connectors: u32,
        /// Timed calls per range (at most 10,000).
        #[arg(long, default_value_t = 200)]
        calls: u32,
        /// For `time`: the admin token `seed` printed.
        #[arg(long)]
        admin_token: Option<String>,
    },
    /// Mixed load at fixed rates for minutes (webhooks, syncs, dashboard and
    /// event reads): RSS, queue depth and probe lag sampled; fails on
    /// unexpected answers, RSS growth or lag over the limits.
    Soak(soak::Plan),
    /// A no-op HTTP server (202 to any POST) for the baseline; ends by itself.
    Noop {
        /// Loopback address to listen on.
        #[arg(long, default_value = "127.0.0.1:18099")]
        listen: String,
        /// Seconds before it exits (at most 3600).
        #[arg(long, default_value_t = 120)]
        lifetime_secs: u64,
    },
    /// POST unsigned 1 KB JSON bodies to a URL (the no-op baseline).
    Blast {
        /// Target URL (loopback only).
        #[arg(long)]
        url: String,
        /// Concurrent senders.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Run time (at most 600).
        #[arg(long, default_value_t = 20)]
        duration_secs: u64,
    },
    /// Raw batched insert rate of 1 KB JSON rows into a scratch table.
    InsertRate {
        /// sqlite://… or postgres://… (loopback only for PostgreSQL).
        #[arg(long)]
        database_url: String,
        /// Rows to insert (at most 2,000,000).
        #[arg(long, default_value_t = 200_000)]
        rows: u64,
        /// Rows per INSERT.
        #[arg(long, default_value_t = 256)]
        batch: usize,
        /// Concurrent writers.
        #[arg(long, default_value_t = 4)]
        writers: usize,
    },
}

/// Latencies and answers of a run.
#[derive(Default)]
pub struct Report {
    latencies: Vec<Duration>,
    /// Answers by status (0 = transport error).
    pub by_status: BTreeMap<u16, u64>,
}

impl Report {
    /// Records one answer.
    pub fn record(&mut self, status: u16, latency: Duration) {
        self.latencies.push(latency);
        *self.by_status.entry(status).or_default() += 1;
    }

    /// Adds another worker's report.
    pub fn merge(&mut self, other: Report) {
        self.latencies.extend(other.latencies);
        for (s, n) in other.by_status {
            *self.by_status.entry(s).or_default() += n;
        }
    }

    /// Prints throughput of `ok` answers and latency percentiles.
    pub fn print(&mut self, label: &str, elapsed: Duration, ok: u16) {
        self.latencies.sort();
        let n = self.latencies.len();
        let oks = self.by_status.get(&ok).copied().unwrap_or(0);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        if n == 0 {
            println!("{label}: no requests");
            return;
        }
        println!(
            "{label}: {n} requests in {:.1} s; {ok}/s = {:.0}; p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms; answers: {}",
            elapsed.as_secs_f64(),
            oks as f64 / elapsed.as_secs_f64(),
            ms(percentile(&self.latencies, 0.50)),
            ms(percentile(&self.latencies, 0.95)),
            ms(percentile(&self.latencies, 0.99)),
            ms(self.latencies[n - 1]),
            webhooks::by_status(&self.by_status),
        );
    }
}

/// Refuses anything but a loopback target.
pub(crate) fn check_loopback(base: &str) -> anyhow::Result<()> {
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

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

pub(crate) async fn post(c: &reqwest::Client, url: String, token: &str, body: Value) -> anyhow::Result<Value> {
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

/// The same allocator as the server, so the generator spends less of the
/// shared CPU on itself.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    match Cli::parse().command {
        Command::ConnectorsList { base, system_token, connectors, calls } => {
            connectors_list(base.trim_end_matches('/'), &system_token, connectors, calls).await
        }
        Command::Webhooks {
            base,
            system_token,
            method,
            concurrency,
            duration_secs,
            count,
            schema,
            body_bytes,
            process,
            rate,
        } => {
            webhooks::run(webhooks::Plan {
                base: base.trim_end_matches('/').to_owned(),
                system_token,
                method,
                concurrency,
                duration: Duration::from_secs(duration_secs),
                count,
                schema,
                body_bytes,
                process,
                rate,
            })
            .await
        }
        Command::Sync {
            base,
            system_token,
            records,
            page_size,
            configurations,
            partner,
            server_pid,
            export_errors,
        } => {
            syncs::run(syncs::Plan {
                base: base.trim_end_matches('/').to_owned(),
                system_token,
                records,
                page_size,
                configurations,
                partner,
                server_pid,
                export_errors,
            })
            .await
        }
        Command::Dashboard { step, base, system_token, database_url, events, runs, connectors, calls, admin_token } => {
            let plan = dashboard::Plan {
                base: base.trim_end_matches('/').to_owned(),
                system_token,
                database_url,
                events,
                runs,
                connectors,
                calls,
                admin_token,
            };
            match step.as_str() {
                "seed" => dashboard::seed(&plan).await,
                "time" => dashboard::time(&plan).await,
                other => bail!("step must be seed or time, not {other:?}"),
            }
        }
        Command::Soak(mut plan) => {
            plan.base = plan.base.trim_end_matches('/').to_owned();
            soak::run(plan).await
        }
        Command::Noop { listen, lifetime_secs } => baselines::noop(&listen, lifetime_secs).await,
        Command::Blast { url, concurrency, duration_secs } => baselines::blast(&url, concurrency, duration_secs).await,
        Command::InsertRate { database_url, rows, batch, writers } => {
            baselines::insert_rate(&database_url, rows, batch, writers).await
        }
    }
}
