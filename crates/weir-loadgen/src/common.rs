//! What every benchmark shares: the loopback guard, JSON POSTs that fail
//! on a non-2xx answer, and latency reports.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use serde_json::Value;

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
            crate::webhooks::by_status(&self.by_status),
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

/// The `p` quantile (0..=1) of sorted, non-empty latencies.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// POSTs `body` with a bearer token; an answer other than 2xx is an error
/// carrying its status and body.
pub(crate) async fn post(c: &reqwest::Client, url: String, token: &str, body: Value) -> anyhow::Result<Value> {
    let r = c.post(url).bearer_auth(token).json(&body).send().await?;
    let status = r.status();
    let v: Value = r.json().await?;
    if !status.is_success() {
        bail!("{status}: {v}");
    }
    Ok(v)
}
