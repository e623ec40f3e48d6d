//! `weir-loadgen webhooks`: signed deliveries at a fixed concurrency for a
//! bounded time or count; reports accepted/s, latency percentiles and
//! errors by status, then checks that the server stored exactly one event
//! per 202.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use weir_core::{ConnectorType, Direction, EventStatus, Trigger};

use anyhow::{Context, ensure};
use serde_json::{Value, json};
use weir_core::webhook::sign::sign_headers;
use weir_core::webhook::{ReceiverAuth, key_material};

use crate::{Report, check_loopback, post};

/// What to send.
pub struct Plan {
    /// Server base URL.
    pub base: String,
    /// System token.
    pub system_token: String,
    /// `bearer`, `hmac_sha256` or `standard_webhooks`.
    pub method: String,
    /// Concurrent senders.
    pub concurrency: usize,
    /// Stop after this long.
    pub duration: Duration,
    /// Stop after this many requests (0 = no count limit).
    pub count: u64,
    /// Give the receiver a small JSON Schema.
    pub schema: bool,
    /// Approximate body size.
    pub body_bytes: usize,
    /// Also route the events through a 10-rule mapping into records and
    /// report end-to-end throughput and queue lag.
    pub process: bool,
    /// Target requests per second across all senders (0 = as fast as possible).
    pub rate: u64,
}

/// The 10 rules of the end-to-end benchmark's mapping.
fn ten_rules() -> Value {
    json!([
        {"source": "id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]},
        {"source": "type", "target": "event"},
        {"source": "data.total", "target": "total", "transforms": [{"op": "to_number"}]},
        {"source": "data.total", "target": "total_rounded", "transforms": [{"op": "round", "digits": 0}]},
        {"source": "data.total", "target": "total_text", "transforms": [{"op": "to_string"}]},
        {"source": "id", "target": "id_upper", "transforms": [{"op": "uppercase"}]},
        {"source": "data.pad", "target": "note", "transforms": [{"op": "trim"}]},
        {"source": "data.currency", "target": "currency", "default": "EUR"},
        {"target": "label", "transforms": [{"op": "template", "template": "{type}:{id}"}]},
        {"source": "type", "target": "status", "transforms": [{"op": "lookup", "table": {"order.created": "new"}, "default": "other"}]}
    ])
}

/// Creates a tenant, connector and receiver; returns (admin token, receiver JSON).
async fn setup(c: &reqwest::Client, plan: &Plan) -> anyhow::Result<(String, Value)> {
    let base = &plan.base;
    let slug = format!("load-{}-{}", std::process::id(), chrono_free_suffix());
    let t = post(c, format!("{base}/api/v1/system/tenants"), &plan.system_token, json!({"slug": slug, "name": "Load"}))
        .await?;
    let tid = t["data"]["id"].as_str().context("tenant id")?;
    let tok = post(
        c,
        format!("{base}/api/v1/system/tenants/{tid}/tokens"),
        &plan.system_token,
        json!({"name": "load", "role": "admin"}),
    )
    .await?;
    let admin = tok["data"]["token"].as_str().context("token")?.to_owned();
    let conn = post(c, format!("{base}/api/v1/integration/connectors"), &admin,
        json!({"code": "load", "name": "Load", "type": ConnectorType::Webhook, "environment": "development", "rate_limit_per_minute": 0})).await?;
    let cid = conn["data"]["id"].as_str().context("connector id")?;
    let mut body = json!({"event_type": "order.created", "auth": {"method": plan.method}});
    if plan.schema {
        body["schema"] = json!({"type": "object", "required": ["id", "data"],
            "properties": {"id": {"type": "string"}, "data": {"type": "object"}}});
    }
    let r = post(c, format!("{base}/api/v1/integration/connectors/{cid}/webhook-receivers"), &admin, body).await?;
    if plan.process {
        let m = post(
            c,
            format!("{base}/api/v1/integration/field-mappings"),
            &admin,
            json!({"name": "orders", "entity_type": "order", "key": "external_id", "rules": ten_rules()}),
        )
        .await?;
        post(
            c,
            format!("{base}/api/v1/integration/sync-configurations"),
            &admin,
            json!({
                "connector_id": cid, "name": "orders in", "direction": Direction::Inbound, "entity_type": "order",
                "field_mapping_id": m["data"]["id"], "trigger": Trigger::Webhook, "event_types": ["order.created"],
            }),
        )
        .await?;
    }
    Ok((admin, r["data"].clone()))
}

fn chrono_free_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64 % 1_000_000)
        .unwrap_or(0)
}

/// Runs the plan: setup, the senders until the deadline or count, the
/// stored-events check, and (with `process`) the end-to-end report.
pub async fn run(plan: Plan) -> anyhow::Result<()> {
    check_loopback(&plan.base)?;
    ensure!(plan.concurrency >= 1 && plan.concurrency <= 1024, "concurrency must be 1..=1024");
    ensure!(plan.duration <= Duration::from_secs(600), "bounded: at most 600 s");
    ensure!(plan.count <= 10_000_000, "bounded: at most 10,000,000 requests");
    let c =
        reqwest::Client::builder().timeout(Duration::from_secs(30)).pool_max_idle_per_host(plan.concurrency).build()?;
    let (admin, receiver) = setup(&c, &plan).await?;
    let auth = ReceiverAuth::parse(&receiver["auth"]).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let secret = receiver["secret"].as_str().context("secret")?;
    let key = key_material(auth.method(), secret).map_err(|e| anyhow::anyhow!(e))?;
    let url = format!("{}{}", plan.base, receiver["receiver_url"].as_str().context("url")?);
    let sender = Arc::new(Sender {
        c: c.clone(),
        auth,
        key,
        url,
        pad: "x".repeat(plan.body_bytes.saturating_sub(120)),
        sent: AtomicU64::new(0),
        count: plan.count,
        deadline: Instant::now() + plan.duration,
        // Each sender's share of the target rate, as a pause between its requests.
        pause: (plan.rate > 0).then(|| Duration::from_secs_f64(plan.concurrency as f64 / plan.rate as f64)),
    });
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let workers: Vec<_> = (0..plan.concurrency).map(|w| tokio::spawn(sender.clone().worker(w))).collect();
    let mut total = Report::default();
    for w in futures::future::join_all(workers).await {
        total.merge(w?);
    }
    let elapsed = started.elapsed();
    total.print(
        &format!("webhooks method={} concurrency={} schema={}", plan.method, plan.concurrency, plan.schema),
        elapsed,
        202,
    );
    let accepted = check_stored(&c, &plan.base, &admin, &total).await?;
    if plan.process {
        end_to_end(&c, &plan.base, &admin, accepted, started_at).await?;
    }
    Ok(())
}

/// What every sender shares: the signed target and the run's limits.
struct Sender {
    c: reqwest::Client,
    auth: ReceiverAuth,
    key: Vec<u8>,
    url: String,
    /// Filler that brings a body to about `body_bytes`.
    pad: String,
    /// Requests started over all senders, for the `count` limit.
    sent: AtomicU64,
    count: u64,
    deadline: Instant,
    /// Pause between one sender's requests (`None` = as fast as possible).
    pause: Option<Duration>,
}

impl Sender {
    /// Sender `w`: signed deliveries with ids `msg_{w}_{i}` until the deadline
    /// or the shared count is reached.
    async fn worker(self: Arc<Self>, w: usize) -> Report {
        let mut report = Report::default();
        let mut i = 0u64;
        let mut tick = self.pause.map(|p| {
            let mut t = tokio::time::interval(p);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        while Instant::now() < self.deadline {
            if let Some(t) = tick.as_mut() {
                t.tick().await;
            }
            let n = self.sent.fetch_add(1, Ordering::Relaxed);
            if self.count > 0 && n >= self.count {
                break;
            }
            i += 1;
            let req = self.request(&format!("msg_{w}_{i}"));
            let t0 = Instant::now();
            match req.send().await {
                Ok(res) => {
                    let status = res.status().as_u16();
                    let _ = res.bytes().await;
                    report.record(status, t0.elapsed());
                }
                Err(_) => report.record(0, t0.elapsed()),
            }
        }
        report
    }

    /// A signed `order.created` delivery with provider id `id`.
    fn request(&self, id: &str) -> reqwest::RequestBuilder {
        let pad = &self.pad;
        let body = format!(r#"{{"id":"{id}","type":"order.created","data":{{"total":42,"pad":"{pad}"}}}}"#);
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let mut req = self.c.post(&self.url).header("content-type", "application/json");
        for (k, v) in sign_headers(&self.auth, &self.key, id, now, body.as_bytes()) {
            req = req.header(k, v);
        }
        req.body(body)
    }
}

/// Every 202 is a stored event, and nothing else is; returns the 202 count.
async fn check_stored(c: &reqwest::Client, base: &str, admin: &str, total: &Report) -> anyhow::Result<u64> {
    let r = c.get(format!("{base}/api/v1/integration/webhook-events?per_page=1")).bearer_auth(admin).send().await?;
    let stored = r.json::<Value>().await?["meta"]["total"].as_u64().unwrap_or(0);
    let accepted = total.by_status.get(&202).copied().unwrap_or(0);
    println!(
        "stored events: {stored}, 202 answers: {accepted} -> {}",
        if stored == accepted { "MATCH" } else { "MISMATCH" }
    );
    ensure!(stored == accepted, "stored events differ from 202 answers");
    Ok(accepted)
}

/// Waits (bounded) until every accepted event is processed, then reports
/// end-to-end throughput (first send → last record written) and queue lag
/// (received → processed) percentiles.
async fn end_to_end(
    c: &reqwest::Client,
    base: &str,
    admin: &str,
    accepted: u64,
    started_at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    let total = |status: EventStatus| {
        let url = format!("{base}/api/v1/integration/webhook-events?per_page=1&status={status}");
        async move {
            let v: Value = c.get(url).bearer_auth(admin).send().await?.json().await?;
            anyhow::Ok(v["meta"]["total"].as_u64().unwrap_or(0))
        }
    };
    let wait_until = Instant::now() + Duration::from_secs(300);
    loop {
        let (done, failed) = (total(EventStatus::Completed).await?, total(EventStatus::Failed).await?);
        if done + failed >= accepted {
            ensure!(failed == 0, "{failed} events failed");
            break;
        }
        ensure!(Instant::now() < wait_until, "only {done} of {accepted} events processed after 300 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut lags = Vec::with_capacity(accepted as usize);
    let mut last = started_at;
    let pages = accepted.div_ceil(100);
    for page in 1..=pages {
        let url = format!("{base}/api/v1/integration/webhook-events?per_page=100&page={page}");
        let v: Value = c.get(url).bearer_auth(admin).send().await?.json().await?;
        for e in v["data"].as_array().into_iter().flatten() {
            let t = |k: &str| e[k].as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
            if let (Some(r), Some(p)) = (t("received_at"), t("processed_at")) {
                let p = p.with_timezone(&chrono::Utc);
                last = last.max(p);
                lags.push((p - r.with_timezone(&chrono::Utc)).to_std().unwrap_or_default());
            }
        }
    }
    ensure!(!lags.is_empty(), "no processed events");
    lags.sort();
    let span = (last - started_at).to_std().unwrap_or_default().as_secs_f64();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "end to end: {} events processed in {span:.1} s from first send = {:.0} events/s; lag received->completed p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lags.len(),
        lags.len() as f64 / span,
        ms(crate::percentile(&lags, 0.5)),
        ms(crate::percentile(&lags, 0.99)),
        ms(lags[lags.len() - 1]),
    );
    Ok(())
}

/// Errors by status, for printing.
pub fn by_status(m: &BTreeMap<u16, u64>) -> String {
    m.iter()
        .map(|(s, n)| format!("{}={n}", if *s == 0 { "transport".to_owned() } else { s.to_string() }))
        .collect::<Vec<_>>()
        .join(" ")
}
