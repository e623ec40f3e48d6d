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

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weir_core::{ConnectorType, Direction, EventStatus, RunStatus, Trigger};

use anyhow::{Context, bail, ensure};
use axum::extract::{Query, State};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::time::MissedTickBehavior;
use weir_core::webhook::sign::sign_headers;
use weir_core::webhook::{ReceiverAuth, key_material};

use crate::{check_loopback, percentile, post};

/// Requests one stream may have in flight. A stream that reaches it slows
/// down (its achieved rate shows it) instead of piling up without bound.
const MAX_IN_FLIGHT: usize = 128;
/// Bodies of unexpected answers kept for the summary, per stream.
const KEEP_BODIES: usize = 3;
/// Records per page of the partner API.
const PAGE_SIZE: u64 = 100;

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

/// The answers of one load stream.
struct Stream {
    name: &'static str,
    /// Intended statuses: the expected 2xx and intended 4xx.
    intended: &'static [u16],
    tally: Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    /// Answers by status (0 = transport error).
    by_status: BTreeMap<u16, u64>,
    latencies: Vec<Duration>,
    /// Latencies since the last sample.
    window: Vec<Duration>,
    /// The first unexpected answers' bodies.
    bodies: Vec<String>,
}

impl Stream {
    fn new(name: &'static str, intended: &'static [u16]) -> Arc<Self> {
        Arc::new(Self { name, intended, tally: Mutex::default() })
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one answer; `body` is kept if the answer is unexpected.
    fn record(&self, status: u16, latency: Duration, body: impl FnOnce() -> String) {
        let mut t = self.tally();
        *t.by_status.entry(status).or_default() += 1;
        t.latencies.push(latency);
        t.window.push(latency);
        if !self.intended.contains(&status) && t.bodies.len() < KEEP_BODIES {
            let b: String = body().chars().take(300).collect();
            t.bodies.push(format!("{status}: {b}"));
        }
    }

    /// Answers other than the intended ones.
    fn unexpected(&self) -> u64 {
        self.tally().by_status.iter().filter(|(s, _)| !self.intended.contains(s)).map(|(_, n)| n).sum()
    }

    /// Latencies since the last call, sorted.
    fn take_window(&self) -> Vec<Duration> {
        let mut w = std::mem::take(&mut self.tally().window);
        w.sort();
        w
    }

    /// Answers of `status`.
    fn count(&self, status: u16) -> u64 {
        self.tally().by_status.get(&status).copied().unwrap_or(0)
    }
}

/// Sends a request, records its answer in `stream` and returns the body of
/// an intended answer.
async fn send(stream: &Stream, req: reqwest::RequestBuilder) -> Option<Vec<u8>> {
    let t0 = Instant::now();
    match req.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let body = res.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            stream.record(status, t0.elapsed(), || String::from_utf8_lossy(&body).into_owned());
            stream.intended.contains(&status).then_some(body)
        }
        Err(e) => {
            stream.record(0, t0.elapsed(), || e.to_string());
            None
        }
    }
}

/// Sends `make(n)` every `period` until `deadline` (at most `MAX_IN_FLIGHT`
/// at once), then waits for the last answers. Late ticks are caught up, so
/// the average rate holds when this process is briefly starved of CPU.
async fn drive(
    stream: Arc<Stream>,
    period: Duration,
    deadline: Instant,
    make: impl Fn(u64) -> reqwest::RequestBuilder,
) {
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    for n in 0.. {
        tick.tick().await;
        if Instant::now() >= deadline {
            break;
        }
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let (stream, req) = (stream.clone(), make(n));
        tokio::spawn(async move {
            send(&stream, req).await;
            drop(permit);
        });
    }
    let _ = permits.acquire_many(MAX_IN_FLIGHT as u32).await;
}

/// Signs deliveries to the soak's receiver.
struct Signer {
    auth: ReceiverAuth,
    key: Vec<u8>,
    url: String,
}

impl Signer {
    /// A signed `order.created` delivery with provider id `id`.
    fn request(&self, c: &reqwest::Client, id: &str, total: u64) -> reqwest::RequestBuilder {
        let body = format!(r#"{{"id":"{id}","type":"order.created","data":{{"total":{total},"currency":"EUR"}}}}"#);
        let now = chrono::Utc::now().timestamp();
        let mut req = c.post(&self.url).header("content-type", "application/json");
        for (k, v) in sign_headers(&self.auth, &self.key, id, now, body.as_bytes()) {
            req = req.header(k, v);
        }
        req.body(body)
    }
}

/// The partner API: `GET /customers?page=N` → `{"data": [...], "next_page": N+1|null}`
/// over `total` records. Each run (a request for page 1) changes every
/// record's `total`, so every run updates records rather than finding them
/// unchanged.
async fn serve_partner(total: u64) -> anyhow::Result<String> {
    async fn page(
        State((total, runs)): State<(u64, Arc<AtomicU64>)>,
        Query(q): Query<std::collections::HashMap<String, u64>>,
    ) -> axum::Json<Value> {
        let page = q.get("page").copied().unwrap_or(1).max(1);
        let run = if page == 1 { runs.fetch_add(1, Ordering::Relaxed) + 1 } else { runs.load(Ordering::Relaxed) };
        let (start, end) = ((page - 1) * PAGE_SIZE, (page * PAGE_SIZE).min(total));
        let data: Vec<Value> =
            (start..end).map(|i| json!({"id": i, "name": format!("Customer {i}"), "total": i + run})).collect();
        let next = if end < total { json!(page + 1) } else { Value::Null };
        axum::Json(json!({"data": data, "next_page": next}))
    }
    let app = axum::Router::new()
        .route("/customers", axum::routing::get(page))
        .with_state((total, Arc::new(AtomicU64::new(0))));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

/// Ids the load needs.
struct Setup {
    admin: String,
    signer: Signer,
    sync_config: String,
}

/// Creates, through the API: a tenant and admin token; a webhook connector
/// with a receiver whose events a mapping turns into records; an `http`
/// connector on the partner with a manual inbound sync configuration.
async fn setup(c: &reqwest::Client, plan: &Plan, partner: &str) -> anyhow::Result<Setup> {
    let base = &plan.base;
    let api = |path: &str| format!("{base}/api/v1/{path}");
    let slug = format!("soak-{}", std::process::id());
    let t = post(c, api("system/tenants"), &plan.system_token, json!({"slug": slug, "name": "Soak"})).await?;
    let tid = t["data"]["id"].as_str().context("tenant id")?;
    let tok = post(
        c,
        api(&format!("system/tenants/{tid}/tokens")),
        &plan.system_token,
        json!({"name": "soak", "role": "admin"}),
    )
    .await?;
    let admin = tok["data"]["token"].as_str().context("token")?.to_owned();

    // Webhooks → records.
    let conn = post(
        c,
        api("integration/connectors"),
        &admin,
        json!({"code": "shop", "name": "Shop", "type": ConnectorType::Webhook, "environment": "development", "rate_limit_per_minute": 0}),
    )
    .await?;
    let shop = conn["data"]["id"].as_str().context("connector id")?;
    let r = post(
        c,
        api(&format!("integration/connectors/{shop}/webhook-receivers")),
        &admin,
        json!({"event_type": "order.created", "auth": {"method": "standard_webhooks"},
               "schema": {"type": "object", "required": ["id", "data"]}}),
    )
    .await?;
    let receiver = &r["data"];
    let auth = ReceiverAuth::parse(&receiver["auth"]).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let key =
        key_material(auth.method(), receiver["secret"].as_str().context("secret")?).map_err(|e| anyhow::anyhow!(e))?;
    let url = format!("{base}{}", receiver["receiver_url"].as_str().context("receiver url")?);
    let m = post(
        c,
        api("integration/field-mappings"),
        &admin,
        json!({"name": "orders", "entity_type": "order", "key": "external_id", "rules": [
            {"source": "id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]},
            {"source": "type", "target": "event"},
            {"source": "data.total", "target": "total", "transforms": [{"op": "to_number"}]},
            {"source": "data.currency", "target": "currency", "default": "EUR"}]}),
    )
    .await?;
    post(
        c,
        api("integration/sync-configurations"),
        &admin,
        json!({"connector_id": shop, "name": "orders in", "direction": Direction::Inbound, "entity_type": "order",
               "field_mapping_id": m["data"]["id"], "trigger": Trigger::Webhook, "event_types": ["order.created"]}),
    )
    .await?;

    // Partner → records, on demand.
    let conn = post(
        c,
        api("integration/connectors"),
        &admin,
        json!({"code": "crm", "name": "CRM", "type": "http", "environment": "development",
               "config": {"base_url": partner, "auth": {"type": "bearer"}}, "credentials": {"token": "soak"}}),
    )
    .await?;
    let crm = conn["data"]["id"].as_str().context("connector id")?;
    let m = post(
        c,
        api("integration/field-mappings"),
        &admin,
        json!({"name": "customers", "entity_type": "customer", "key": "external_id", "rules": [
            {"source": "id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]},
            {"source": "name", "target": "name"},
            {"source": "total", "target": "total", "transforms": [{"op": "to_number"}]}]}),
    )
    .await?;
    let cfg = post(
        c,
        api("integration/sync-configurations"),
        &admin,
        json!({"connector_id": crm, "name": "customers in", "direction": Direction::Inbound, "entity_type": "customer",
               "field_mapping_id": m["data"]["id"], "trigger": Trigger::Manual,
               "source": {"path": "/customers", "records_path": "data",
                          "pagination": {"type": "page", "param": "page", "start": 1, "next_path": "next_page"}}}),
    )
    .await?;
    let sync_config = cfg["data"]["id"].as_str().context("config id")?.to_owned();
    Ok(Setup { admin, signer: Signer { auth, key, url }, sync_config })
}

/// Probe deliveries: each is sent, then polled until its event is
/// `completed`; the lag is send → seen completed (20 ms poll resolution).
struct Probes {
    c: reqwest::Client,
    base: String,
    admin: String,
    signer: Arc<Signer>,
    /// Sends and polls; a probe that failed or did not complete within two
    /// minutes is recorded here as an unexpected answer (status 0).
    stream: Arc<Stream>,
    lags: Arc<Mutex<Vec<Duration>>>,
}

impl Probes {
    /// Sends a probe every `every` until `deadline`, one at a time.
    async fn run(self, every: Duration, deadline: Instant) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        for n in 0u64.. {
            tick.tick().await;
            if Instant::now() >= deadline {
                break;
            }
            let t0 = Instant::now();
            let req = self.signer.request(&self.c, &format!("probe_{n}"), n);
            let Some(body) = send(&self.stream, req).await else { continue };
            let receipt: Value = serde_json::from_slice(&body).unwrap_or_default();
            let Some(id) = receipt["data"]["event_id"].as_str() else { continue };
            let url = format!("{}/api/v1/integration/webhook-events/{id}", self.base);
            loop {
                let status = send(&self.stream, self.c.get(&url).bearer_auth(&self.admin)).await.and_then(|b| {
                    let v: Value = serde_json::from_slice(&b).ok()?;
                    v["data"]["processing_status"].as_str().map(str::to_owned)
                });
                match status.as_deref().and_then(|s| s.parse::<EventStatus>().ok()) {
                    Some(EventStatus::Completed) => {
                        self.lags.lock().unwrap_or_else(|p| p.into_inner()).push(t0.elapsed());
                        break;
                    }
                    Some(EventStatus::Failed) => {
                        self.stream.record(0, t0.elapsed(), || format!("probe event {id} failed"));
                        break;
                    }
                    _ if t0.elapsed() > Duration::from_secs(120) => {
                        self.stream.record(0, t0.elapsed(), || format!("probe event {id} not completed in 120 s"));
                        break;
                    }
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }
    }
}

/// The server's resident set in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// An unlabelled gauge from Prometheus text.
fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// `meta.total` of a list call (`None` if the call failed).
async fn total(c: &reqwest::Client, url: String, token: &str) -> Option<u64> {
    let v: Value = c.get(url).bearer_auth(token).send().await.ok()?.json().await.ok()?;
    v["meta"]["total"].as_u64()
}

/// One sample line's figures.
struct Sample {
    secs: f64,
    rss_mb: Option<f64>,
    depth: Option<f64>,
}

/// Least-squares slope of `(x, y)` points.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (points.len() >= 2 && sxx > 0.0).then(|| sxy / sxx)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs the plan.
pub async fn run(plan: Plan) -> anyhow::Result<()> {
    check_loopback(&plan.base)?;
    ensure!((1..=120).contains(&plan.minutes), "bounded: --minutes must be 1..=120");
    ensure!(plan.webhook_rate <= 2000 && plan.dashboard_rate <= 100 && plan.events_rate <= 100, "rates too high");
    ensure!(plan.sync_every_secs >= 1 && plan.probe_every_secs >= 1 && plan.sample_secs >= 1, "periods must be ≥ 1 s");
    ensure!((1..=100_000).contains(&plan.partner_records), "--partner-records must be 1..=100000");
    let c = reqwest::Client::builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(256).build()?;
    let partner = serve_partner(plan.partner_records).await?;
    let s = setup(&c, &plan, &partner).await?;
    let base = plan.base.clone();
    let admin = s.admin.clone();
    let signer = Arc::new(s.signer);

    let webhooks = Stream::new("webhooks", &[202]);
    let syncs = Stream::new("sync execute", &[202, 409]);
    let dashboard = Stream::new("dashboard reads", &[200]);
    let events = Stream::new("event list reads", &[200]);
    let probe = Stream::new("probes (send + status polls)", &[200, 202]);
    let streams = [&webhooks, &syncs, &dashboard, &events, &probe];
    let lags = Arc::new(Mutex::new(Vec::new()));

    let length = Duration::from_secs(plan.minutes * 60);
    let started = Instant::now();
    let deadline = started + length;
    let per_sec = |rate: u64| Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let mut tasks = Vec::new();
    if plan.webhook_rate > 0 {
        let (c, signer, pid) = (c.clone(), signer.clone(), std::process::id());
        let make = move |n: u64| signer.request(&c, &format!("soak_{pid}_{n}"), n);
        tasks.push(tokio::spawn(drive(webhooks.clone(), per_sec(plan.webhook_rate), deadline, make)));
    }
    let (c2, a2, url) =
        (c.clone(), admin.clone(), format!("{base}/api/v1/integration/sync-configurations/{}/execute", s.sync_config));
    let make = move |_| c2.post(&url).bearer_auth(&a2).json(&json!({}));
    tasks.push(tokio::spawn(drive(syncs.clone(), Duration::from_secs(plan.sync_every_secs), deadline, make)));
    if plan.dashboard_rate > 0 {
        let (c2, a2, url) = (c.clone(), admin.clone(), format!("{base}/api/v1/integration/dashboard"));
        let make = move |_| c2.get(&url).bearer_auth(&a2);
        tasks.push(tokio::spawn(drive(dashboard.clone(), per_sec(plan.dashboard_rate), deadline, make)));
    }
    if plan.events_rate > 0 {
        let (c2, a2, url) = (c.clone(), admin.clone(), format!("{base}/api/v1/integration/webhook-events"));
        // Alternate the newest page and a status-filtered page.
        let make = move |n: u64| {
            let q = if n.is_multiple_of(2) { "?per_page=25" } else { "?per_page=25&status=completed" };
            c2.get(format!("{url}{q}")).bearer_auth(&a2)
        };
        tasks.push(tokio::spawn(drive(events.clone(), per_sec(plan.events_rate), deadline, make)));
    }
    let probes = Probes {
        c: c.clone(),
        base: base.clone(),
        admin: admin.clone(),
        signer: signer.clone(),
        stream: probe.clone(),
        lags: lags.clone(),
    };
    tasks.push(tokio::spawn(probes.run(Duration::from_secs(plan.probe_every_secs), deadline)));

    println!(
        "soak: {} min against {base}; webhooks {}/s, a sync execution every {} s ({} records), dashboard {}/s, event lists {}/s, a probe every {} s; warm-up {} s",
        plan.minutes,
        plan.webhook_rate,
        plan.sync_every_secs,
        plan.partner_records,
        plan.dashboard_rate,
        plan.events_rate,
        plan.probe_every_secs,
        plan.warmup_secs
    );
    let mut samples = Vec::new();
    let mut max_oldest: f64 = 0.0;
    let mut max_pending = 0;
    let mut lags_seen = 0;
    let n_samples = (length.as_secs() / plan.sample_secs).max(1);
    for k in 1..=n_samples {
        let at = if k == n_samples { deadline } else { started + Duration::from_secs(k * plan.sample_secs) };
        tokio::time::sleep_until(at.into()).await;
        let rss_mb = plan.server_pid.and_then(rss_kib).map(|k| k as f64 / 1024.0);
        let metrics = match c.get(format!("{base}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let (depth, oldest) = (gauge(&metrics, "weir_queue_depth"), gauge(&metrics, "weir_queue_oldest_age_seconds"));
        let pending =
            total(&c, format!("{base}/api/v1/integration/webhook-events?per_page=1&status=pending"), &admin).await;
        max_oldest = max_oldest.max(oldest.unwrap_or(0.0));
        max_pending = max_pending.max(pending.unwrap_or(0));
        let window_lags: Vec<Duration> = {
            let l = lags.lock().unwrap_or_else(|p| p.into_inner());
            let w = l[lags_seen..].to_vec();
            lags_seen = l.len();
            w
        };
        let p = |w: &[Duration], q: f64| (!w.is_empty()).then(|| ms(percentile(w, q)));
        let (sent, dash, list) = (webhooks.take_window(), dashboard.take_window(), events.take_window());
        let unexpected: u64 = streams.iter().map(|s| s.unexpected()).sum();
        let secs = started.elapsed().as_secs_f64();
        let fmt = |v: Option<f64>, d: usize| v.map(|v| format!("{v:.d$}")).unwrap_or_else(|| "n/a".into());
        println!(
            "[{secs:>5.0} s] rss {} MB | queue depth {} (oldest {} s), pending {} | probe lag max {} ms (n={}) | webhooks {:.0}/s p99 {} ms | reads p50 dashboard {} ms, events {} ms | unexpected {unexpected}",
            fmt(rss_mb, 1),
            fmt(depth, 0),
            fmt(oldest, 1),
            pending.map(|p| p.to_string()).unwrap_or_else(|| "n/a".into()),
            fmt(window_lags.iter().max().map(|d| ms(*d)), 0),
            window_lags.len(),
            sent.len() as f64 / plan.sample_secs as f64,
            fmt(p(&sent, 0.99), 0),
            fmt(p(&dash, 0.5), 0),
            fmt(p(&list, 0.5), 0),
        );
        samples.push(Sample { secs, rss_mb, depth });
    }
    for t in tasks {
        t.await?;
    }
    let load_secs = started.elapsed().as_secs_f64();

    // Drain: wait (bounded) until no event is waiting and no run is active.
    let drain_started = Instant::now();
    let list = |path: &str| format!("{base}/api/v1/integration/{path}");
    let runs = |status: RunStatus| {
        list(&format!("sync-histories?per_page=1&sync_configuration_id={}&status={status}", s.sync_config))
    };
    loop {
        let mut busy = 0;
        for url in [
            list("webhook-events?per_page=1&status=pending"),
            list("webhook-events?per_page=1&status=processing"),
            runs(RunStatus::Queued),
            runs(RunStatus::Running),
        ] {
            busy += total(&c, url, &admin).await.unwrap_or(1);
        }
        if busy == 0 {
            break;
        }
        ensure!(drain_started.elapsed() < Duration::from_secs(120), "queue not drained 120 s after the load");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drain = drain_started.elapsed();

    // Summary.
    println!("\n== soak summary ({load_secs:.0} s of load; drained in {:.1} s)", drain.as_secs_f64());
    let mut failures = Vec::new();
    let warm: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.secs >= plan.warmup_secs as f64)
        .filter_map(|s| Some((s.secs / 60.0, s.rss_mb?)))
        .collect();
    if let (Some(first), Some(last)) = (warm.first(), warm.last()) {
        let max = samples.iter().filter_map(|s| s.rss_mb).fold(0.0, f64::max);
        let growth = (last.1 - first.1) / first.1 * 100.0;
        println!(
            "RSS: start {:.1} MB (at {:.0} s), end {:.1} MB, max {:.1} MB, growth {growth:+.1} %, slope {} MB/min ({} samples after warm-up)",
            first.1,
            first.0 * 60.0,
            last.1,
            max,
            slope(&warm).map(|s| format!("{s:+.3}")).unwrap_or_else(|| "n/a".into()),
            warm.len(),
        );
        if growth > plan.max_rss_growth_pct {
            failures.push(format!("RSS grew {growth:.1} % (limit {} %)", plan.max_rss_growth_pct));
        }
    } else {
        println!("RSS: not measured (no --server-pid, or no sample after warm-up)");
    }
    let max_depth = samples.iter().filter_map(|s| s.depth).fold(0.0, f64::max);
    println!(
        "queue: depth max {max_depth:.0} (weir_queue_depth), oldest waiting max {max_oldest:.1} s, pending max {max_pending} (events API)"
    );
    let mut all_lags = lags.lock().unwrap_or_else(|p| p.into_inner()).clone();
    all_lags.sort();
    if let Some(max) = all_lags.last().copied() {
        println!(
            "probe lag (send → completed): n={} p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            all_lags.len(),
            ms(percentile(&all_lags, 0.5)),
            ms(percentile(&all_lags, 0.99)),
            ms(max),
        );
        if max.as_secs_f64() > plan.max_lag_secs {
            failures.push(format!("probe lag {:.1} s over {} s", max.as_secs_f64(), plan.max_lag_secs));
        }
    } else {
        failures.push("no probe completed".into());
    }
    for s in streams {
        let mut t = s.tally();
        t.latencies.sort();
        let n = t.latencies.len() as u64;
        if n == 0 {
            continue;
        }
        println!(
            "{}: {n} requests ({:.1}/s); latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; answers: {}",
            s.name,
            n as f64 / load_secs,
            ms(percentile(&t.latencies, 0.5)),
            ms(percentile(&t.latencies, 0.99)),
            ms(t.latencies[t.latencies.len() - 1]),
            crate::webhooks::by_status(&t.by_status),
        );
        for b in &t.bodies {
            println!("    unexpected {b}");
        }
    }
    let unexpected: u64 = streams.iter().map(|s| s.unexpected()).sum();

    // What the server holds: one event per 202, none failed; runs ended well.
    let accepted = webhooks.count(202) + probe.count(202);
    let stored = total(&c, list("webhook-events?per_page=1"), &admin).await.unwrap_or(0);
    let failed = total(&c, list("webhook-events?per_page=1&status=failed"), &admin).await.unwrap_or(0);
    let mut by_run_status = Vec::new();
    let mut bad_runs = 0;
    for status in RunStatus::VARIANTS.iter().copied().filter(|s| s.is_finished()) {
        let n = total(&c, runs(status), &admin).await.unwrap_or(0);
        if status != RunStatus::Succeeded {
            bad_runs += n;
        }
        by_run_status.push(format!("{status}={n}"));
    }
    println!(
        "stored events {stored} for {accepted} accepted ({}); failed events {failed}; sync runs {}",
        if stored == accepted { "match" } else { "MISMATCH" },
        by_run_status.join(" ")
    );
    println!("unexpected answers: {unexpected}");
    if unexpected > 0 {
        failures.push(format!("{unexpected} unexpected answers"));
    }
    if stored != accepted {
        failures.push(format!("{stored} events stored for {accepted} accepted"));
    }
    if failed > 0 || bad_runs > 0 {
        failures.push(format!("{failed} failed events, {bad_runs} sync runs not succeeded"));
    }
    if !failures.is_empty() {
        bail!("soak failed: {}", failures.join("; "));
    }
    println!("soak passed");
    Ok(())
}
