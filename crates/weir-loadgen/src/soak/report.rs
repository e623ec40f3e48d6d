//! After the load: the drain wait, then the summary and its pass/fail checks.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use weir_core::RunStatus;

use super::sample::{Sampled, total};
use super::{Load, Plan, Target, ms};
use crate::percentile;

impl Target {
    /// The list URL of the soak configuration's runs in `status`.
    fn runs(&self, status: RunStatus) -> String {
        self.integration(&format!(
            "sync-histories?per_page=1&sync_configuration_id={}&status={status}",
            self.sync_config
        ))
    }
}

/// Waits (at most 120 s) until no event is waiting and no run is active;
/// returns how long that took.
pub(super) async fn drain(target: &Target) -> anyhow::Result<Duration> {
    let drain_started = Instant::now();
    loop {
        let mut busy = 0;
        for url in [
            target.integration("webhook-events?per_page=1&status=pending"),
            target.integration("webhook-events?per_page=1&status=processing"),
            target.runs(RunStatus::Queued),
            target.runs(RunStatus::Running),
        ] {
            busy += total(&target.c, url, &target.admin).await.unwrap_or(1);
        }
        if busy == 0 {
            break;
        }
        ensure!(drain_started.elapsed() < Duration::from_secs(120), "queue not drained 120 s after the load");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(drain_started.elapsed())
}

/// Prints the summary; fails if any limit was crossed.
pub(super) async fn summary(
    plan: &Plan,
    target: &Target,
    load: &Load,
    sampled: &Sampled,
    load_secs: f64,
    drain: Duration,
) -> anyhow::Result<()> {
    println!("\n== soak summary ({load_secs:.0} s of load; drained in {:.1} s)", drain.as_secs_f64());
    let mut failures = Vec::new();
    rss(plan, sampled, &mut failures);
    let max_depth = sampled.samples.iter().filter_map(|s| s.depth).fold(0.0, f64::max);
    println!(
        "queue: depth max {max_depth:.0} (weir_queue_depth), oldest waiting max {:.1} s, pending max {} (events API)",
        sampled.max_oldest, sampled.max_pending
    );
    probe_lags(plan, load, &mut failures);
    streams(load, load_secs);
    let unexpected = load.unexpected();
    held(target, load, unexpected, &mut failures).await;
    if !failures.is_empty() {
        bail!("soak failed: {}", failures.join("; "));
    }
    println!("soak passed");
    Ok(())
}

/// RSS from the first sample after warm-up to the last.
fn rss(plan: &Plan, sampled: &Sampled, failures: &mut Vec<String>) {
    let samples = &sampled.samples;
    let warm: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.secs >= plan.warmup_secs as f64)
        .filter_map(|s| Some((s.secs / 60.0, s.rss_mb?)))
        .collect();
    let (Some(first), Some(last)) = (warm.first(), warm.last()) else {
        println!("RSS: not measured (no --server-pid, or no sample after warm-up)");
        return;
    };
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
}

/// Percentiles of every probe's end-to-end lag.
fn probe_lags(plan: &Plan, load: &Load, failures: &mut Vec<String>) {
    let mut all_lags = load.lags.lock().unwrap_or_else(|p| p.into_inner()).clone();
    all_lags.sort();
    let Some(max) = all_lags.last().copied() else {
        failures.push("no probe completed".into());
        return;
    };
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
}

/// One line per stream that sent anything, with its kept unexpected bodies.
fn streams(load: &Load, load_secs: f64) {
    for s in load.streams() {
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
}

/// What the server holds: one event per 202, none failed; runs ended well.
async fn held(target: &Target, load: &Load, unexpected: u64, failures: &mut Vec<String>) {
    let (c, admin) = (&target.c, &target.admin);
    let accepted = load.webhooks.count(202) + load.probe.count(202);
    let stored = total(c, target.integration("webhook-events?per_page=1"), admin).await.unwrap_or(0);
    let failed = total(c, target.integration("webhook-events?per_page=1&status=failed"), admin).await.unwrap_or(0);
    let mut by_run_status = Vec::new();
    let mut bad_runs = 0;
    for status in RunStatus::VARIANTS.iter().copied().filter(|s| s.is_finished()) {
        let n = total(c, target.runs(status), admin).await.unwrap_or(0);
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
}

/// Least-squares slope of `(x, y)` points.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (points.len() >= 2 && sxx > 0.0).then(|| sxy / sxx)
}
