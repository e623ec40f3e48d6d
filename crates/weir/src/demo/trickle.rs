//! The demo's traffic, until stopped: a signed webhook every ~0.5–2 s to one
//! of the receivers (Shopify orders, Stripe payments, DHL shipments — now
//! and then a malformed payload that fails its mapping or schema, a repeat
//! that Weir recognises as a duplicate, or a bad signature that is refused),
//! an inbound sync execution every ~20–30 s (`409`, already running, is
//! fine), and a one-line summary at info level every 30 s.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use tokio::sync::watch;
use tokio::time::Instant;
use weir_core::webhook::ReceiverAuth;
use weir_core::webhook::sign::sign_headers;

use super::fakes::{Fakes, chance};
use super::partner::PartnerStats;
use super::seed::Seeded;

/// Pace of the demo's traffic.
#[derive(Debug, Clone)]
pub struct TrickleOptions {
    /// The pause between two webhooks, uniformly random in `(min, max)`.
    pub webhook_every: (Duration, Duration),
    /// The pause between two sync executions, uniformly random in `(min, max)`.
    pub sync_every: (Duration, Duration),
    /// How often the summary line is logged (at least every second).
    pub summary_every: Duration,
}

impl Default for TrickleOptions {
    fn default() -> Self {
        Self {
            webhook_every: (Duration::from_millis(500), Duration::from_secs(2)),
            sync_every: (Duration::from_secs(20), Duration::from_secs(30)),
            summary_every: Duration::from_secs(30),
        }
    }
}

/// Which outside system a receiver stands for (what its payloads look like).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// Shopify orders, `X-Shopify-Topic`.
    Shop,
    /// Stripe events.
    Stripe,
    /// DHL tracking updates as Standard Webhooks.
    Dhl,
}

/// A receiver to send to.
pub(super) struct Target {
    /// Kind of payload.
    pub source: Source,
    /// The receive path (`/api/v1/integration/webhooks/{code}/receive/{key}`).
    pub path: String,
    /// Its verification method.
    pub auth: ReceiverAuth,
    /// The secret's key material.
    pub key: Vec<u8>,
}

#[derive(Debug, Default)]
struct Counts {
    sent: u64,
    accepted: u64,
    duplicates: u64,
    refused: u64,
    errors: u64,
    syncs_started: u64,
    syncs_busy: u64,
    sync_errors: u64,
}

/// A delivery as sent, kept to repeat it now and then.
struct Sent {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct Trickle {
    client: reqwest::Client,
    base: String,
    seeded: Seeded,
    partner: Arc<PartnerStats>,
    options: TrickleOptions,
    counts: Counts,
    data: Fakes,
    last: Option<Sent>,
}

/// Runs the traffic until `stop` turns true (or its sender is gone), then
/// logs a last summary.
pub(super) async fn run(
    seeded: Seeded,
    base: String,
    partner: Arc<PartnerStats>,
    options: TrickleOptions,
    mut stop: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "demo traffic cannot start: no HTTP client");
            return;
        }
    };
    let mut t = Trickle {
        client,
        base,
        seeded,
        partner,
        options,
        counts: Counts::default(),
        data: Fakes::default(),
        last: None,
    };
    tokio::select! {
        _ = stop.wait_for(|s| *s) => {}
        () = t.run_loop() => {}
    }
    t.summary();
}

/// A random pause in `range` (at least 1 ms).
fn between((lo, hi): (Duration, Duration)) -> Duration {
    let lo = lo.as_millis().max(1) as u64;
    let hi = hi.as_millis() as u64;
    Duration::from_millis(if hi > lo { rand::random_range(lo..=hi) } else { lo })
}

impl Trickle {
    async fn run_loop(&mut self) {
        let summary_every = self.options.summary_every.max(Duration::from_secs(1));
        let mut next_webhook = Instant::now();
        let mut next_sync = Instant::now();
        let mut next_summary = Instant::now() + summary_every;
        let mut sync_turn = 0usize;
        loop {
            tokio::time::sleep_until(next_webhook.min(next_sync).min(next_summary)).await;
            let now = Instant::now();
            if now >= next_webhook {
                self.send_webhook().await;
                next_webhook = Instant::now() + between(self.options.webhook_every);
            }
            if now >= next_sync {
                self.execute_sync(sync_turn).await;
                sync_turn = sync_turn.wrapping_add(1);
                next_sync = Instant::now() + between(self.options.sync_every);
            }
            if now >= next_summary {
                self.summary();
                next_summary = now + summary_every;
            }
        }
    }

    async fn send_webhook(&mut self) {
        // Now and then a provider repeats a delivery: Weir answers 200 duplicate.
        if chance(0.02)
            && let Some(last) = self.last.take()
        {
            self.post(&last).await;
            self.last = Some(last);
            return;
        }
        let pick: f64 = rand::random();
        let wanted = if pick < 0.45 {
            Source::Shop
        } else if pick < 0.8 {
            Source::Stripe
        } else {
            Source::Dhl
        };
        let Some(target) = self.seeded.targets.iter().find(|t| t.source == wanted) else { return };
        let (id, body, mut extra) = match target.source {
            Source::Shop => self.data.shop_event(),
            Source::Stripe => self.data.stripe_event(),
            Source::Dhl => self.data.dhl_event(),
        };
        let body = serde_json::to_vec(&body).unwrap_or_default();
        // Very occasionally a forged or misconfigured sender: 401.
        let wrong_key = b"someone-else-s-signing-secret".to_vec();
        let key = if chance(0.015) { &wrong_key } else { &target.key };
        let mut headers = sign_headers(&target.auth, key, &id, Utc::now().timestamp(), &body);
        headers.append(&mut extra);
        let sent = Sent { path: target.path.clone(), headers, body };
        self.post(&sent).await;
        self.last = Some(sent);
    }

    async fn post(&mut self, sent: &Sent) {
        let mut req = self
            .client
            .post(format!("{}{}", self.base, sent.path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(sent.body.clone());
        for (k, v) in &sent.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        self.counts.sent += 1;
        match req.send().await.map(|r| r.status()) {
            Ok(StatusCode::ACCEPTED) => self.counts.accepted += 1,
            Ok(StatusCode::OK) => self.counts.duplicates += 1,
            Ok(s) if s.is_client_error() => self.counts.refused += 1,
            Ok(s) => {
                tracing::debug!(status = %s, "demo webhook answered unexpectedly");
                self.counts.errors += 1;
            }
            Err(e) => {
                tracing::debug!(error = %e, "demo webhook not delivered");
                self.counts.errors += 1;
            }
        }
    }

    async fn execute_sync(&mut self, turn: usize) {
        let syncs = &self.seeded.syncs;
        let Some((name, id)) = syncs.get(turn % syncs.len().max(1)) else { return };
        let url = format!("{}/api/v1/integration/sync-configurations/{id}/execute", self.base);
        match self.client.post(url).bearer_auth(&self.seeded.admin_token).send().await.map(|r| r.status()) {
            Ok(StatusCode::ACCEPTED) => {
                tracing::debug!(sync = %name, "demo sync queued");
                self.counts.syncs_started += 1;
            }
            Ok(StatusCode::CONFLICT) => self.counts.syncs_busy += 1,
            Ok(s) => {
                tracing::debug!(sync = %name, status = %s, "demo sync not queued");
                self.counts.sync_errors += 1;
            }
            Err(e) => {
                tracing::debug!(sync = %name, error = %e, "demo sync not queued");
                self.counts.sync_errors += 1;
            }
        }
    }

    fn summary(&self) {
        let c = &self.counts;
        let p = &self.partner;
        let load = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
        tracing::info!(
            webhooks_sent = c.sent,
            accepted = c.accepted,
            duplicates = c.duplicates,
            refused = c.refused,
            send_errors = c.errors,
            syncs_started = c.syncs_started,
            syncs_already_running = c.syncs_busy,
            sync_errors = c.sync_errors,
            partner_pages = load(&p.pages_served),
            partner_page_failures = load(&p.pages_failed),
            erp_accepted = load(&p.deliveries_ok),
            erp_503 = load(&p.deliveries_retry),
            erp_422 = load(&p.deliveries_refused),
            "demo traffic"
        );
    }
}
