//! `weir-loadgen sync`: sync-engine benchmarks against a partner API this
//! process serves on loopback: one large inbound run (records/s, the
//! server's peak RSS), and many configurations run at once (wall time,
//! p99 run duration).

use std::time::{Duration, Instant};
use weir_core::{Direction, RunStatus, Trigger};

use anyhow::{Context, bail, ensure};
use axum::extract::{Path, Query};
use serde_json::{Value, json};

use crate::{check_loopback, percentile, post};

/// What to run.
pub struct Plan {
    /// Server base URL.
    pub base: String,
    /// System token.
    pub system_token: String,
    /// Records in the large run.
    pub records: u64,
    /// Records per page.
    pub page_size: u64,
    /// Configurations run at once in the second part (0 = skip).
    pub configurations: u32,
    /// Loopback address for the partner API.
    pub partner: String,
    /// The server's PID, to read its peak RSS (Linux `VmHWM`).
    pub server_pid: Option<u32>,
    /// Records of a run whose every record fails mapping, then exported as
    /// CSV (0 = skip): the export's time and the server's peak RSS.
    pub export_errors: u64,
}

/// The partner: `GET /{name}?page=N&size=M&total=T` → `{"data": [...], "next_page": N+1|null}`.
async fn serve_partner(listen: &str) -> anyhow::Result<()> {
    async fn page(
        Path(_name): Path<String>,
        Query(q): Query<std::collections::HashMap<String, u64>>,
    ) -> axum::Json<Value> {
        let (page, size, total) = (
            q.get("page").copied().unwrap_or(1),
            q.get("size").copied().unwrap_or(100),
            q.get("total").copied().unwrap_or(0),
        );
        // `bad=1`: records without an id (each one a mapping error).
        let bad = q.get("bad").copied().unwrap_or(0) == 1;
        let start = (page.max(1) - 1) * size;
        let end = (start + size).min(total);
        let data: Vec<Value> = (start..end)
            .map(|i| {
                let mut r = json!({"id": i, "email": format!("Customer{i}@Example.com"), "name": format!("Customer {i}"),
                       "total": i as f64 * 1.5, "country": "DE", "updated_at": "2026-11-01T10:00:00Z"});
                if bad {
                    r["id"] = Value::Null;
                }
                r
            })
            .collect();
        let next = if end < total { json!(page + 1) } else { Value::Null };
        axum::Json(json!({"data": data, "next_page": next}))
    }
    let app = axum::Router::new().route("/{name}", axum::routing::get(page));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(())
}

fn rules() -> Value {
    json!([
        {"source": "id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]},
        {"source": "email", "target": "email", "transforms": [{"op": "trim"}, {"op": "lowercase"}]},
        {"source": "name", "target": "name"},
        {"source": "total", "target": "total", "transforms": [{"op": "round", "digits": 1}]},
        {"source": "country", "target": "country", "transforms": [{"op": "lookup", "table": {"DE": "Germany"}, "default": "other"}]},
        {"source": "updated_at", "target": "updated_at", "transforms": [{"op": "to_datetime"}]}
    ])
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

async fn wait_finished(
    c: &reqwest::Client,
    base: &str,
    token: &str,
    run: &str,
    limit: Duration,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + limit;
    loop {
        let h: Value = c
            .get(format!("{base}/api/v1/integration/sync-histories/{run}"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        if h["data"]["status"].as_str().and_then(|s| s.parse::<RunStatus>().ok()).is_none_or(RunStatus::is_finished) {
            return Ok(h["data"].clone());
        }
        ensure!(Instant::now() < deadline, "run {run} did not finish in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs the plan: the large run, the exported error run, then many
/// configurations at once (each part skipped when its size is 0).
pub async fn run(plan: Plan) -> anyhow::Result<()> {
    check_loopback(&plan.base)?;
    check_loopback(&format!("http://{}", plan.partner))?;
    ensure!(plan.records <= 2_000_000 && (1..=10_000).contains(&plan.page_size), "bounded run");
    ensure!(plan.configurations <= 1000, "bounded: at most 1000 configurations");
    ensure!(plan.export_errors <= 1_000_000, "bounded: at most 1,000,000 errors");
    serve_partner(&plan.partner).await?;
    let c = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let bench = Bench::setup(c, &plan).await?;
    if plan.records > 0 {
        bench.large_run().await?;
    }
    if plan.export_errors > 0 {
        bench.error_export().await?;
    }
    if plan.configurations > 0 {
        bench.many_at_once().await?;
    }
    Ok(())
}

/// A bench tenant with its admin token and the customer mapping every
/// configuration uses.
struct Bench<'a> {
    c: reqwest::Client,
    plan: &'a Plan,
    admin: String,
    mapping: String,
}

impl<'a> Bench<'a> {
    /// Creates the tenant (slug `sync-<pid>`), its admin token and the mapping.
    async fn setup(c: reqwest::Client, plan: &'a Plan) -> anyhow::Result<Self> {
        let base = plan.base.as_str();
        let slug = format!("sync-{}", std::process::id());
        let t = post(
            &c,
            format!("{base}/api/v1/system/tenants"),
            &plan.system_token,
            json!({"slug": slug, "name": "Sync bench"}),
        )
        .await?;
        let tid = t["data"]["id"].as_str().context("tenant id")?;
        let tok = post(
            &c,
            format!("{base}/api/v1/system/tenants/{tid}/tokens"),
            &plan.system_token,
            json!({"name": "bench", "role": "admin"}),
        )
        .await?;
        let admin = tok["data"]["token"].as_str().context("token")?.to_owned();
        let m = post(
            &c,
            format!("{base}/api/v1/integration/field-mappings"),
            &admin,
            json!({"name": "customers", "entity_type": "customer", "key": "external_id", "rules": rules()}),
        )
        .await?;
        let mapping = m["data"]["id"].as_str().context("mapping id")?.to_owned();
        Ok(Self { c, plan, admin, mapping })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/integration/{path}", self.plan.base)
    }

    /// An `http` connector on the partner; returns its id.
    async fn connector(&self, code: String) -> anyhow::Result<String> {
        let body = json!({"code": code, "name": "Partner", "type": "http", "environment": "development",
               "config": {"base_url": format!("http://{}", self.plan.partner), "auth": {"type": "bearer"}},
               "credentials": {"token": "bench"}});
        let conn = post(&self.c, self.url("connectors"), &self.admin, body).await?;
        Ok(conn["data"]["id"].as_str().context("connector id")?.to_owned())
    }

    /// A manual inbound configuration reading the partner's `path`; returns its id.
    async fn config(&self, cid: &str, name: String, path: String) -> anyhow::Result<String> {
        let body = json!({"connector_id": cid, "name": name, "direction": Direction::Inbound, "entity_type": "customer",
               "field_mapping_id": self.mapping, "trigger": Trigger::Manual,
               "source": {"path": path, "records_path": "data",
                          "pagination": {"type": "page", "param": "page", "start": 1, "next_path": "next_page"}}});
        let cfg = post(&self.c, self.url("sync-configurations"), &self.admin, body).await?;
        Ok(cfg["data"]["id"].as_str().context("config id")?.to_owned())
    }

    /// Executes a configuration; returns the run's id.
    async fn execute(&self, id: &str) -> anyhow::Result<String> {
        let r = post(&self.c, self.url(&format!("sync-configurations/{id}/execute")), &self.admin, json!({})).await?;
        Ok(r["data"]["sync_history_id"].as_str().context("run id")?.to_owned())
    }

    fn peak_rss(&self) -> Option<u64> {
        self.plan.server_pid.and_then(peak_rss_kib)
    }

    /// One large run: records/s and the server's peak RSS.
    async fn large_run(&self) -> anyhow::Result<()> {
        let plan = self.plan;
        let cid = self.connector("big".into()).await?;
        // The page size and total travel as query parameters of the source path.
        let path = format!("/big?size={}&total={}", plan.page_size, plan.records);
        let id = self.config(&cid, "big".into(), path).await?;
        let rss_before = self.peak_rss();
        let started = Instant::now();
        let run = self.execute(&id).await?;
        let h = wait_finished(&self.c, &plan.base, &self.admin, &run, Duration::from_secs(900)).await?;
        let wall = started.elapsed().as_secs_f64();
        if h["status"] != RunStatus::Succeeded.as_str() {
            bail!("the large run ended {}: {}", h["status"], h);
        }
        let created = h["records_created"].as_f64().unwrap_or(0.0);
        let run_secs = h["duration_ms"].as_f64().unwrap_or(0.0) / 1e3;
        println!(
            "large inbound run: {} records over {} pages; run {:.1} s = {:.0} records/s (wall {:.1} s); created {}; peak RSS of the server {} KiB (before {} KiB)",
            h["records_read"],
            h["pages"],
            run_secs,
            created / run_secs.max(1e-9),
            wall,
            created,
            kib(self.peak_rss()),
            kib(rss_before),
        );
        Ok(())
    }

    /// A run whose every record fails, exported as CSV: time and peak RSS.
    async fn error_export(&self) -> anyhow::Result<()> {
        let plan = self.plan;
        let cid = self.connector("bad".into()).await?;
        let path = format!("/bad?size={}&total={}&bad=1", plan.page_size, plan.export_errors);
        let id = self.config(&cid, "bad".into(), path).await?;
        let run = self.execute(&id).await?;
        let h = wait_finished(&self.c, &plan.base, &self.admin, &run, Duration::from_secs(900)).await?;
        ensure!(h["status"] == RunStatus::Partial.as_str(), "the failing run ended {}", h["status"]);
        let rss_before = self.peak_rss();
        let started = Instant::now();
        let mut res = self
            .c
            .get(self.url(&format!("sync-histories/{run}/export?format=csv")))
            .bearer_auth(&self.admin)
            .send()
            .await?;
        ensure!(res.status().is_success(), "export answered {}", res.status());
        let (mut bytes, mut lines) = (0usize, 0usize);
        while let Some(chunk) = res.chunk().await? {
            bytes += chunk.len();
            lines += chunk.iter().filter(|b| **b == b'\n').count();
        }
        println!(
            "export of a run with {} errors: {lines} CSV lines, {bytes} bytes in {:.1} s; server peak RSS {} KiB before, {} KiB after",
            h["records_failed"],
            started.elapsed().as_secs_f64(),
            kib(rss_before),
            kib(self.peak_rss()),
        );
        Ok(())
    }

    /// Many small configurations executed at once: wall time and run durations.
    async fn many_at_once(&self) -> anyhow::Result<()> {
        let plan = self.plan;
        let mut ids = Vec::new();
        for i in 0..plan.configurations {
            let cid = self.connector(format!("p{i:04}")).await?;
            ids.push(self.config(&cid, format!("c{i}"), format!("/many{i}?size=100&total=300")).await?);
        }
        let started = Instant::now();
        let mut runs = Vec::new();
        for id in &ids {
            runs.push(self.execute(id).await?);
        }
        let mut durations = Vec::new();
        for r in &runs {
            let h = wait_finished(&self.c, &plan.base, &self.admin, r, Duration::from_secs(600)).await?;
            ensure!(h["status"] == RunStatus::Succeeded.as_str(), "run ended {}", h["status"]);
            durations.push(Duration::from_millis(h["duration_ms"].as_u64().unwrap_or(0)));
        }
        let wall = started.elapsed();
        durations.sort();
        println!(
            "{} configurations at once: wall {:.1} s; run duration p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            plan.configurations,
            wall.as_secs_f64(),
            percentile(&durations, 0.5).as_secs_f64() * 1e3,
            percentile(&durations, 0.99).as_secs_f64() * 1e3,
            durations.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        );
        Ok(())
    }
}

/// A KiB figure, or `n/a` when not measured.
fn kib(k: Option<u64>) -> String {
    k.map(|k| k.to_string()).unwrap_or_else(|| "n/a".into())
}
