//! The load streams: each counts its answers (intended or not) and latencies,
//! and `drive` sends one stream at a fixed rate.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::time::MissedTickBehavior;

/// Requests one stream may have in flight. A stream that reaches it slows
/// down (its achieved rate shows it) instead of piling up without bound.
const MAX_IN_FLIGHT: usize = 128;
/// Bodies of unexpected answers kept for the summary, per stream.
const KEEP_BODIES: usize = 3;

/// The answers of one load stream.
pub(super) struct Stream {
    pub(super) name: &'static str,
    /// Intended statuses: the expected 2xx and intended 4xx.
    pub(super) intended: &'static [u16],
    tally: Mutex<Tally>,
}

#[derive(Default)]
pub(super) struct Tally {
    /// Answers by status (0 = transport error).
    pub(super) by_status: BTreeMap<u16, u64>,
    pub(super) latencies: Vec<Duration>,
    /// Latencies since the last sample.
    window: Vec<Duration>,
    /// The first unexpected answers' bodies.
    pub(super) bodies: Vec<String>,
}

impl Stream {
    pub(super) fn new(name: &'static str, intended: &'static [u16]) -> Arc<Self> {
        Arc::new(Self { name, intended, tally: Mutex::default() })
    }

    pub(super) fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one answer; `body` is kept if the answer is unexpected.
    pub(super) fn record(&self, status: u16, latency: Duration, body: impl FnOnce() -> String) {
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
    pub(super) fn unexpected(&self) -> u64 {
        self.tally().by_status.iter().filter(|(s, _)| !self.intended.contains(s)).map(|(_, n)| n).sum()
    }

    /// Latencies since the last call, sorted.
    pub(super) fn take_window(&self) -> Vec<Duration> {
        let mut w = std::mem::take(&mut self.tally().window);
        w.sort();
        w
    }

    /// Answers of `status`.
    pub(super) fn count(&self, status: u16) -> u64 {
        self.tally().by_status.get(&status).copied().unwrap_or(0)
    }
}

/// Sends a request, records its answer in `stream` and returns the body of
/// an intended answer.
pub(super) async fn send(stream: &Stream, req: reqwest::RequestBuilder) -> Option<Vec<u8>> {
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
pub(super) async fn drive(
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
