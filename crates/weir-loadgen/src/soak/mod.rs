//! `weir-loadgen soak`: minutes of mixed load at fixed, sustainable rates —
//! signed webhooks routed into records, a manual inbound sync against a
//! partner API served here, dashboard and event list reads — to show that
//! the server stays stable: RSS flat, no answer other than the intended
//! ones, queue lag bounded.
//!
//! Every answer is classified per stream as intended (the expected 2xx, or
//! 409 on executing a sync whose run is still active) or unexpected (any
//! other status, or a transport error). Every `sample` seconds a line shows
//! the server's RSS (`/proc/<pid>/status`), the queue (`/metrics` and the
//! events API) and the end-to-end lag of probe deliveries (sent, then polled
//! until `completed`). After the load the queue is drained and the stored
//! events, failed events and sync runs are checked.

mod probes;
mod report;
mod sample;
mod setup;
mod stream;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::ensure;
use serde_json::json;

use crate::check_loopback;
use probes::Probes;
use setup::{Setup, Signer, serve_partner, setup};
use stream::{Stream, drive};

/// What to run (the `soak` subcommand's options).
#[derive(Debug, clap::Args)]
pub struct Plan {
    /// Server base URL (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub base: String,
    /// The server's system token.
    #[arg(long, env = "WEIR_SYSTEM_TOKEN")]
    pub system_token: String,
    /// Minutes of load (1..=120).
    #[arg(long, default_value_t = 10)]
    pub minutes: u64,
    /// Signed webhook deliveries per second (unique ids).
    #[arg(long, default_value_t = 200)]
    pub webhook_rate: u64,
    /// Seconds between sync executions (409 while a run is active is intended).
    #[arg(long, default_value_t = 5)]
    pub sync_every_secs: u64,
    /// Dashboard reads per second.
    #[arg(long, default_value_t = 5)]
    pub dashboard_rate: u64,
    /// Event list reads per second.
    #[arg(long, default_value_t = 5)]
    pub events_rate: u64,
    /// Records the partner API serves per sync run (pages of 100).
    #[arg(long, default_value_t = 500)]
    pub partner_records: u64,
    /// Seconds between probe deliveries (end-to-end lag).
    #[arg(long, default_value_t = 2)]
    pub probe_every_secs: u64,
    /// Seconds between sample lines.
    #[arg(long, default_value_t = 10)]
    pub sample_secs: u64,
    /// Warm-up before the RSS start figure.
    #[arg(long, default_value_t = 60)]
    pub warmup_secs: u64,
    /// The server's PID, for its RSS (/proc/<pid>/status).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Fail if RSS grew more than this percentage from warm-up to end.
    #[arg(long, default_value_t = 25.0)]
    pub max_rss_growth_pct: f64,
    /// Fail if a probe's end-to-end lag exceeded this many seconds.
    #[arg(long, default_value_t = 30.0)]
    pub max_lag_secs: f64,
}

/// The load's streams and the probe lags, shared with the tasks that drive them.
struct Load {
    webhooks: Arc<Stream>,
    syncs: Arc<Stream>,
    dashboard: Arc<Stream>,
    events: Arc<Stream>,
    /// Probe sends and status polls.
    probe: Arc<Stream>,
    /// End-to-end lag of each completed probe, in completion order.
    lags: Arc<Mutex<Vec<Duration>>>,
}

impl Load {
    fn new() -> Self {
        Self {
            webhooks: Stream::new("webhooks", &[202]),
            syncs: Stream::new("sync execute", &[202, 409]),
            dashboard: Stream::new("dashboard reads", &[200]),
            events: Stream::new("event list reads", &[200]),
            probe: Stream::new("probes (send + status polls)", &[200, 202]),
            lags: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Every stream, in summary order.
    fn streams(&self) -> [&Arc<Stream>; 5] {
        [&self.webhooks, &self.syncs, &self.dashboard, &self.events, &self.probe]
    }

    /// Unexpected answers over all streams.
    fn unexpected(&self) -> u64 {
        self.streams().iter().map(|s| s.unexpected()).sum()
    }
}

/// What the load and the checks after it talk to.
struct Target {
    c: reqwest::Client,
    base: String,
    admin: String,
    sync_config: String,
}

impl Target {
    /// `{base}/api/v1/integration/{path}`.
    fn integration(&self, path: &str) -> String {
        format!("{}/api/v1/integration/{path}", self.base)
    }
}

/// Runs the plan: setup, load with samples, drain, summary.
pub async fn run(mut plan: Plan) -> anyhow::Result<()> {
    plan.base = plan.base.trim_end_matches('/').to_owned();
    validate(&plan)?;
    let c = reqwest::Client::builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(256).build()?;
    let partner = serve_partner(plan.partner_records).await?;
    let Setup { admin, signer, sync_config } = setup(&c, &plan, &partner).await?;
    let target = Target { c, base: plan.base.clone(), admin, sync_config };
    let load = Load::new();

    let length = Duration::from_secs(plan.minutes * 60);
    let started = Instant::now();
    let deadline = started + length;
    let tasks = start_load(&plan, &target, &load, Arc::new(signer), deadline);
    print_banner(&plan);
    let sampled = sample::sample_until(&plan, &target, &load, started, deadline).await;
    for t in tasks {
        t.await?;
    }
    let load_secs = started.elapsed().as_secs_f64();
    let drain = report::drain(&target).await?;
    report::summary(&plan, &target, &load, &sampled, load_secs, drain).await
}

/// The bounds on the plan.
fn validate(plan: &Plan) -> anyhow::Result<()> {
    check_loopback(&plan.base)?;
    ensure!((1..=120).contains(&plan.minutes), "bounded: --minutes must be 1..=120");
    ensure!(plan.webhook_rate <= 2000 && plan.dashboard_rate <= 100 && plan.events_rate <= 100, "rates too high");
    ensure!(plan.sync_every_secs >= 1 && plan.probe_every_secs >= 1 && plan.sample_secs >= 1, "periods must be ≥ 1 s");
    ensure!((1..=100_000).contains(&plan.partner_records), "--partner-records must be 1..=100000");
    Ok(())
}

/// Spawns one task per stream (a stream at rate 0 is not started; syncs
/// always are) and the probes, all ending at `deadline`.
fn start_load(
    plan: &Plan,
    target: &Target,
    load: &Load,
    signer: Arc<Signer>,
    deadline: Instant,
) -> Vec<tokio::task::JoinHandle<()>> {
    let (c, admin) = (&target.c, &target.admin);
    let per_sec = |rate: u64| Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut tasks = Vec::new();
    if plan.webhook_rate > 0 {
        let (c, signer, pid) = (c.clone(), signer.clone(), std::process::id());
        let make = move |n: u64| signer.request(&c, &format!("soak_{pid}_{n}"), n);
        tasks.push(tokio::spawn(drive(load.webhooks.clone(), per_sec(plan.webhook_rate), deadline, make)));
    }
    let (c2, a2, url) =
        (c.clone(), admin.clone(), target.integration(&format!("sync-configurations/{}/execute", target.sync_config)));
    let make = move |_| c2.post(&url).bearer_auth(&a2).json(&json!({}));
    tasks.push(tokio::spawn(drive(load.syncs.clone(), Duration::from_secs(plan.sync_every_secs), deadline, make)));
    if plan.dashboard_rate > 0 {
        let (c2, a2, url) = (c.clone(), admin.clone(), target.integration("dashboard"));
        let make = move |_| c2.get(&url).bearer_auth(&a2);
        tasks.push(tokio::spawn(drive(load.dashboard.clone(), per_sec(plan.dashboard_rate), deadline, make)));
    }
    if plan.events_rate > 0 {
        let (c2, a2, url) = (c.clone(), admin.clone(), target.integration("webhook-events"));
        // Alternate the newest page and a status-filtered page.
        let make = move |n: u64| {
            let q = if n.is_multiple_of(2) { "?per_page=25" } else { "?per_page=25&status=completed" };
            c2.get(format!("{url}{q}")).bearer_auth(&a2)
        };
        tasks.push(tokio::spawn(drive(load.events.clone(), per_sec(plan.events_rate), deadline, make)));
    }
    let probes = Probes {
        c: c.clone(),
        base: target.base.clone(),
        admin: admin.clone(),
        signer,
        stream: load.probe.clone(),
        lags: load.lags.clone(),
    };
    tasks.push(tokio::spawn(probes.run(Duration::from_secs(plan.probe_every_secs), deadline)));
    tasks
}

fn print_banner(plan: &Plan) {
    println!(
        "soak: {} min against {}; webhooks {}/s, a sync execution every {} s ({} records), dashboard {}/s, event lists {}/s, a probe every {} s; warm-up {} s",
        plan.minutes,
        plan.base,
        plan.webhook_rate,
        plan.sync_every_secs,
        plan.partner_records,
        plan.dashboard_rate,
        plan.events_rate,
        plan.probe_every_secs,
        plan.warmup_secs
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
