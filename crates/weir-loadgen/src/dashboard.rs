//! `weir-loadgen dashboard`: a large history for one tenant — 1,000
//! connectors (through the API), then millions of events and hundreds of
//! thousands of runs generated inside the database (loopback only) — then
//! `GET /dashboard` timed. Run `weir rollups rebuild` between `--seed` and
//! `--time` so the rollups are what the raw rows say.

use std::time::{Duration, Instant};
use weir_core::{Direction, EventErrorType, EventStatus, RollupCounter, RunStatus, SyncErrorType, Trigger};

use anyhow::{Context, bail, ensure};
use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use serde_json::{Value, json};

use crate::{check_loopback, percentile, post};

/// What to do.
pub struct Plan {
    /// Server base URL.
    pub base: String,
    /// System token.
    pub system_token: String,
    /// The server's database (loopback), for generating rows.
    pub database_url: String,
    /// Events to generate.
    pub events: u64,
    /// Runs to generate.
    pub runs: u64,
    /// Connectors to create.
    pub connectors: u32,
    /// Timed calls per range.
    pub calls: u32,
    /// The admin token of an earlier `--seed` (then only timing runs).
    pub admin_token: Option<String>,
}

/// Runs `step`: `seed` or `time`.
pub async fn run(step: &str, plan: &Plan) -> anyhow::Result<()> {
    match step {
        "seed" => seed(plan).await,
        "time" => time(plan).await,
        other => bail!("step must be seed or time, not {other:?}"),
    }
}

/// Creates the tenant and connectors through the API, then generates the
/// rows in the database; prints the admin token for the timing step.
pub async fn seed(plan: &Plan) -> anyhow::Result<()> {
    check_loopback(&plan.base)?;
    ensure!(plan.events <= 20_000_000 && plan.runs <= 2_000_000 && plan.connectors <= 10_000, "bounded run");
    let pg = plan.database_url.starts_with("postgres");
    if pg {
        let host = plan.database_url.split('@').nth(1).and_then(|h| h.split([':', '/']).next()).unwrap_or("");
        ensure!(host == "127.0.0.1" || host == "localhost", "loopback databases only");
    }
    let seeded = seed_api(plan).await?;
    let db = Database::connect(&plan.database_url).await.context("connect")?;
    let txn = db.begin().await?;
    txn.execute_unprepared("CREATE TEMP TABLE bench_conn (n INTEGER PRIMARY KEY, id VARCHAR(36) NOT NULL)").await?;
    for (chunk_no, chunk) in seeded.ids.chunks(500).enumerate() {
        let values: Vec<String> =
            chunk.iter().enumerate().map(|(i, id)| format!("({}, '{id}')", chunk_no * 500 + i)).collect();
        txn.execute_unprepared(&format!("INSERT INTO bench_conn (n, id) VALUES {}", values.join(", "))).await?;
    }
    let dialect = Dialect::new(pg);
    let started = Instant::now();
    txn.execute_unprepared(&events_sql(plan, &seeded, &dialect)).await?;
    println!("generated {} events in {:.1} s", plan.events, started.elapsed().as_secs_f64());
    let started = Instant::now();
    txn.execute_unprepared(&runs_sql(plan, &seeded, &dialect)).await?;
    txn.commit().await?;
    println!("generated {} runs in {:.1} s", plan.runs, started.elapsed().as_secs_f64());
    println!("{}", json!({"admin_token": seeded.admin}));
    Ok(())
}

/// What `seed_api` created, which the generated rows refer to.
struct Seeded {
    tid: String,
    admin: String,
    /// Connector ids, in creation order.
    ids: Vec<String>,
    receiver_id: String,
    config_id: String,
}

/// Through the API: the tenant, its admin token, the connectors, and a
/// receiver, mapping and configuration on the first connector.
async fn seed_api(plan: &Plan) -> anyhow::Result<Seeded> {
    let c = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let base = plan.base.as_str();
    let t = post(
        &c,
        format!("{base}/api/v1/system/tenants"),
        &plan.system_token,
        json!({"slug": format!("dash-{}", std::process::id()), "name": "Dashboard bench"}),
    )
    .await?;
    let tid = t["data"]["id"].as_str().context("tenant id")?.to_owned();
    let tok = post(
        &c,
        format!("{base}/api/v1/system/tenants/{tid}/tokens"),
        &plan.system_token,
        json!({"name": "bench", "role": "admin"}),
    )
    .await?;
    let admin = tok["data"]["token"].as_str().context("token")?.to_owned();
    let started = Instant::now();
    let mut ids = Vec::new();
    for i in 0..plan.connectors {
        let body = json!({"code": format!("c{i:05}"), "name": format!("Connector {i}"), "type": "http", "environment": "development", "config": {"base_url": "http://127.0.0.1:9"}});
        let r = post(&c, format!("{base}/api/v1/integration/connectors"), &admin, body).await?;
        ids.push(r["data"]["id"].as_str().context("connector id")?.to_owned());
    }
    let first = ids.first().context("at least one connector")?.clone();
    let receiver = post(
        &c,
        format!("{base}/api/v1/integration/connectors/{first}/webhook-receivers"),
        &admin,
        json!({"event_type": "*", "auth": {"method": "bearer"}}),
    )
    .await?;
    let receiver_id = receiver["data"]["id"].as_str().context("receiver id")?.to_owned();
    let mapping = post(
        &c,
        format!("{base}/api/v1/integration/field-mappings"),
        &admin,
        json!({"name": "m", "entity_type": "customer", "key": "id", "rules": [{"source": "id", "target": "id"}]}),
    )
    .await?;
    let config = post(
        &c,
        format!("{base}/api/v1/integration/sync-configurations"),
        &admin,
        json!({
        "connector_id": first, "name": "pull", "direction": Direction::Inbound, "entity_type": "customer",
        "field_mapping_id": mapping["data"]["id"], "trigger": Trigger::Manual, "source": {"path": "/x"}}),
    )
    .await?;
    let config_id = config["data"]["id"].as_str().context("config id")?.to_owned();
    println!("created {} connectors in {:.1} s", ids.len(), started.elapsed().as_secs_f64());
    Ok(Seeded { tid, admin, ids, receiver_id, config_id })
}

/// The SQL that differs between PostgreSQL and SQLite.
struct Dialect {
    /// Numbers 1..=N as `g.i` (`{N}` is replaced).
    series: String,
    /// A timestamp spread over the last 30 days by `g.i`.
    ts: String,
    /// An empty JSON object literal.
    json: String,
}

impl Dialect {
    fn new(pg: bool) -> Self {
        let (series, ts, json) = if pg {
            (
                "generate_series(1, {N}) AS g(i)".to_owned(),
                "now() - ((g.i % 30) * interval '1 day') - ((g.i % 86400) * interval '1 second')".to_owned(),
                "'{}'::jsonb".to_owned(),
            )
        } else {
            (
                "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {N}) SELECT i FROM s) AS g".to_owned(),
                "strftime('%Y-%m-%dT%H:%M:%S.000000+00:00', 'now', '-' || (g.i % 30) || ' days', '-' || (g.i % 86400) || ' seconds')".to_owned(),
                "'{}'".to_owned(),
            )
        };
        Self { series, ts, json }
    }
}

/// Generated events: one in 20 failed with a mapping error.
fn events_sql(plan: &Plan, s: &Seeded, d: &Dialect) -> String {
    let (tid, receiver_id, n) = (&s.tid, &s.receiver_id, s.ids.len());
    let (ts, json) = (&d.ts, &d.json);
    format!(
        "INSERT INTO webhook_events (id, tenant_id, receiver_id, connector_id, event_type, provider_event_id, payload, payload_sha256, payload_size, headers, processing_status, attempts, next_attempt_at, lease_owner, lease_expires_at, error_type, error_message, result, attempt_log, received_at, processed_at, updated_at) \
         SELECT 'ev-' || g.i, '{tid}', '{receiver_id}', c.id, 'order.created', NULL, {json}, 'x', 2, NULL, \
         CASE WHEN g.i % 20 = 0 THEN '{failed}' ELSE '{completed}' END, 1, {ts}, NULL, NULL, \
         CASE WHEN g.i % 20 = 0 THEN '{mapping}' ELSE NULL END, NULL, NULL, NULL, {ts}, {ts}, {ts} \
         FROM {series} JOIN bench_conn c ON c.n = g.i % {n}",
        series = d.series.replace("{N}", &plan.events.to_string()),
        failed = EventStatus::Failed,
        completed = EventStatus::Completed,
        mapping = EventErrorType::Mapping,
    )
}

/// Generated scheduled runs: one in 10 failed, one in 10 partial.
fn runs_sql(plan: &Plan, s: &Seeded, d: &Dialect) -> String {
    let (tid, config_id, n) = (&s.tid, &s.config_id, s.ids.len());
    let ts = &d.ts;
    format!(
        "INSERT INTO sync_histories (id, tenant_id, sync_configuration_id, connector_id, trigger_type, status, queued_at, started_at, finished_at, duration_ms, records_read, records_created, records_updated, records_failed, error_type, error_message, lease_owner, lease_expires_at, cancel_requested, progress, bytes_transferred, pages) \
         SELECT 'run-' || g.i, '{tid}', '{config_id}', c.id, '{schedule}', \
         CASE WHEN g.i % 10 = 0 THEN '{failed}' WHEN g.i % 10 = 1 THEN '{partial}' ELSE '{succeeded}' END, {ts}, {ts}, {ts}, 1000, 100, 10, 5, \
         CASE WHEN g.i % 10 = 1 THEN 2 ELSE 0 END, CASE WHEN g.i % 10 = 0 THEN '{http}' ELSE NULL END, NULL, NULL, NULL, false, NULL, 10000, 1 \
         FROM {series} JOIN bench_conn c ON c.n = g.i % {n}",
        series = d.series.replace("{N}", &plan.runs.to_string()),
        schedule = Trigger::Schedule,
        failed = RunStatus::Failed,
        partial = RunStatus::Partial,
        succeeded = RunStatus::Succeeded,
        http = SyncErrorType::Http,
    )
}

/// Times `GET /dashboard` for the default range and for 30 days.
pub async fn time(plan: &Plan) -> anyhow::Result<()> {
    check_loopback(&plan.base)?;
    ensure!(plan.calls <= 10_000, "bounded: at most 10000 calls");
    let admin = plan.admin_token.clone().context("--admin-token from the seed step")?;
    let c = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    for (label, query) in [
        ("default range (7 days)", String::new()),
        ("30 days", "?from=".to_owned() + &(chrono::Utc::now().date_naive() - chrono::Days::new(29)).to_string()),
    ] {
        let url = format!("{}/api/v1/integration/dashboard{query}", plan.base);
        let mut sample = Value::Null;
        for _ in 0..5 {
            sample = c.get(&url).bearer_auth(&admin).send().await?.json().await?;
        }
        let mut times = Vec::with_capacity(plan.calls as usize);
        for _ in 0..plan.calls {
            let t0 = Instant::now();
            let r = c.get(&url).bearer_auth(&admin).send().await?;
            ensure!(r.status().is_success(), "dashboard answered {}", r.status());
            r.bytes().await?;
            times.push(t0.elapsed());
        }
        times.sort();
        let s = &sample["data"]["summary"];
        println!(
            "GET /dashboard {label}: {} calls, median {:.1} ms, p99 {:.1} ms, max {:.1} ms (webhooks_received {}, total_syncs {}, connectors {})",
            plan.calls,
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            s[RollupCounter::WebhooksReceived.as_str()],
            s["total_syncs"],
            s["total_connectors"],
        );
    }
    Ok(())
}
