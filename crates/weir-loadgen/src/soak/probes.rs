//! Probe deliveries, which measure end-to-end lag under the load.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::time::MissedTickBehavior;
use weir_core::EventStatus;

use super::setup::Signer;
use super::stream::{Stream, send};

/// Probe deliveries: each is sent, then polled until its event is
/// `completed`; the lag is send → seen completed (20 ms poll resolution).
pub(super) struct Probes {
    pub(super) c: reqwest::Client,
    pub(super) base: String,
    pub(super) admin: String,
    pub(super) signer: Arc<Signer>,
    /// Sends and polls; a probe that failed or did not complete within two
    /// minutes is recorded here as an unexpected answer (status 0).
    pub(super) stream: Arc<Stream>,
    pub(super) lags: Arc<Mutex<Vec<Duration>>>,
}

impl Probes {
    /// Sends a probe every `every` until `deadline`, one at a time.
    pub(super) async fn run(self, every: Duration, deadline: Instant) {
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
