//! The sample lines printed during the load, and the figures they keep for
//! the summary.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Load, Plan, Target, ms};
use crate::percentile;

/// One sample line's figures.
pub(super) struct Sample {
    /// Seconds since the load started.
    pub(super) secs: f64,
    pub(super) rss_mb: Option<f64>,
    /// `weir_queue_depth` from `/metrics`.
    pub(super) depth: Option<f64>,
}

/// Every sample, and the queue's worst figures over them.
pub(super) struct Sampled {
    pub(super) samples: Vec<Sample>,
    /// Largest `weir_queue_oldest_age_seconds`.
    pub(super) max_oldest: f64,
    /// Largest count of pending events (events API).
    pub(super) max_pending: u64,
}

/// Prints a sample line every `plan.sample_secs` (the last one at
/// `deadline`) and returns what the summary needs.
pub(super) async fn sample_until(
    plan: &Plan,
    target: &Target,
    load: &Load,
    started: Instant,
    deadline: Instant,
) -> Sampled {
    let length = deadline - started;
    let mut sampled = Sampled { samples: Vec::new(), max_oldest: 0.0, max_pending: 0 };
    let mut lags_seen = 0;
    let n_samples = (length.as_secs() / plan.sample_secs).max(1);
    for k in 1..=n_samples {
        let at = if k == n_samples { deadline } else { started + Duration::from_secs(k * plan.sample_secs) };
        tokio::time::sleep_until(at.into()).await;
        let sample = sample_once(plan, target, load, started, &mut lags_seen, &mut sampled).await;
        sampled.samples.push(sample);
    }
    sampled
}

/// Reads the server's figures, prints one line and returns its sample.
async fn sample_once(
    plan: &Plan,
    target: &Target,
    load: &Load,
    started: Instant,
    lags_seen: &mut usize,
    sampled: &mut Sampled,
) -> Sample {
    let (c, base) = (&target.c, &target.base);
    let rss_mb = plan.server_pid.and_then(rss_kib).map(|k| k as f64 / 1024.0);
    let metrics = match c.get(format!("{base}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let (depth, oldest) = (gauge(&metrics, "weir_queue_depth"), gauge(&metrics, "weir_queue_oldest_age_seconds"));
    let pending =
        total(c, format!("{base}/api/v1/integration/webhook-events?per_page=1&status=pending"), &target.admin).await;
    sampled.max_oldest = sampled.max_oldest.max(oldest.unwrap_or(0.0));
    sampled.max_pending = sampled.max_pending.max(pending.unwrap_or(0));
    let window_lags: Vec<Duration> = {
        let l = load.lags.lock().unwrap_or_else(|p| p.into_inner());
        let w = l[*lags_seen..].to_vec();
        *lags_seen = l.len();
        w
    };
    let p = |w: &[Duration], q: f64| (!w.is_empty()).then(|| ms(percentile(w, q)));
    let (sent, dash, list) = (load.webhooks.take_window(), load.dashboard.take_window(), load.events.take_window());
    let unexpected = load.unexpected();
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
    Sample { secs, rss_mb, depth }
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
pub(super) async fn total(c: &reqwest::Client, url: String, token: &str) -> Option<u64> {
    let v: Value = c.get(url).bearer_auth(token).send().await.ok()?.json().await.ok()?;
    v["meta"]["total"].as_u64()
}
