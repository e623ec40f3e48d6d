//! The demo's traffic, until stopped: a signed webhook every ~0.5–2 s to one
//! of the receivers (Shopify orders, Stripe payments, DHL shipments — now
//! and then a malformed payload that fails its mapping or schema, a repeat
//! that Weir recognises as a duplicate, or a bad signature that is refused),
//! an inbound sync execution every ~20–30 s (`409`, already running, is
//! fine), and a one-line summary at info level every 30 s.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;
use weir_core::webhook::ReceiverAuth;
use weir_core::webhook::sign::sign_headers;

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

fn chance(p: f64) -> bool {
    rand::random_bool(p)
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

const FIRST: [&str; 12] =
    ["Anna", "Lukas", "Sofia", "Jonas", "Emma", "Mateo", "Lena", "Noah", "Chloé", "Finn", "Julia", "Piotr"];
const LAST: [&str; 12] = [
    "Schmidt",
    "Müller",
    "Rossi",
    "de Vries",
    "Novak",
    "García",
    "Jensen",
    "Dubois",
    "Weber",
    "Kowalski",
    "Bauer",
    "Lindqvist",
];
const CITIES: [(&str, &str); 10] = [
    ("Berlin", "DE"),
    ("Hamburg", "DE"),
    ("München", "DE"),
    ("Amsterdam", "NL"),
    ("Wien", "AT"),
    ("Paris", "FR"),
    ("Milano", "IT"),
    ("Madrid", "ES"),
    ("København", "DK"),
    ("Warszawa", "PL"),
];
const SKUS: [(&str, f64); 6] = [
    ("MUG-001", 12.90),
    ("TOTE-012", 9.50),
    ("LAMP-023", 49.00),
    ("BOTL-034", 19.90),
    ("SCRF-046", 34.00),
    ("POT-110", 14.00),
];
const STAGES: [&str; 4] = ["picked_up", "in_transit", "out_for_delivery", "delivered"];

fn pick<T: Copy>(items: &[T]) -> T {
    items[rand::random_range(0..items.len())]
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn hex_id(len: usize) -> String {
    let mut s = format!("{:032x}{:032x}", rand::random::<u128>(), rand::random::<u128>());
    s.truncate(len);
    s
}

/// A Stripe payment intent for `order`; now and then with an amount the
/// mapping cannot turn into an integer.
fn intent(order: &Order, cents: u64, status: &str) -> Value {
    let amount = if chance(0.03) { json!("twelve euros") } else { json!(cents) };
    json!({"id": format!("pi_3{}", hex_id(23)), "object": "payment_intent", "amount": amount, "currency": "eur",
           "status": status, "receipt_email": order.email(), "metadata": {"order_number": order.number}})
}

/// An order the shop placed, for later updates, payments and shipments.
#[derive(Clone)]
struct Order {
    id: u64,
    number: String,
    first: &'static str,
    last: &'static str,
    city: (&'static str, &'static str),
    cents: u64,
    created_at: DateTime<Utc>,
}

impl Order {
    fn email(&self) -> String {
        format!("{}.{}@example.com", self.first, self.last.replace(' ', "")).to_lowercase()
    }
}

struct Shipment {
    tracking: String,
    order: String,
    city: (&'static str, &'static str),
    stage: usize,
}

/// Realistic payloads with a little memory (bounded), so payments and
/// shipments refer to orders the shop sent before.
#[derive(Default)]
struct Fakes {
    orders: VecDeque<Order>,
    shipments: VecDeque<Shipment>,
    placed: u64,
}

const REMEMBERED: usize = 50;

type Event = (String, Value, Vec<(String, String)>);

impl Fakes {
    fn new_order(&mut self) -> Order {
        self.placed += 1;
        let order = Order {
            id: 5_900_000_000 + rand::random_range(0..99_999_999u64),
            number: format!("#{}", 1000 + self.placed + rand::random_range(0..50u64) * 1000),
            first: pick(&FIRST),
            last: pick(&LAST),
            city: pick(&CITIES),
            cents: 0,
            created_at: Utc::now(),
        };
        if self.orders.len() == REMEMBERED {
            self.orders.pop_front();
        }
        self.orders.push_back(order.clone());
        order
    }

    fn some_order(&mut self) -> Order {
        match self.orders.len() {
            0 => self.new_order(),
            n => self.orders[rand::random_range(0..n)].clone(),
        }
    }

    /// A Shopify `orders/*` delivery (or `customers/create`, which no sync
    /// configuration takes: the event completes as ignored).
    fn shop_event(&mut self) -> Event {
        let roll: f64 = rand::random();
        let (topic, mut order, status) = if roll < 0.07 {
            ("customers/create", self.some_order(), "")
        } else if roll < 0.3 && !self.orders.is_empty() {
            ("orders/updated", self.some_order(), if chance(0.2) { "refunded" } else { "paid" })
        } else {
            ("orders/create", self.new_order(), if chance(0.7) { "paid" } else { "pending" }) // not a state: partner data
        };
        let lines: Vec<Value> = (0..rand::random_range(1..4))
            .map(|_| {
                let (sku, price) = pick(&SKUS);
                json!({"sku": sku, "quantity": rand::random_range(1..4), "price": format!("{price:.2}")})
            })
            .collect();
        let total: f64 = lines
            .iter()
            .map(|l| {
                l["quantity"].as_f64().unwrap_or(1.0) * l["price"].as_str().and_then(|p| p.parse().ok()).unwrap_or(0.0)
            })
            .sum::<f64>()
            + 4.90;
        order.cents = (total * 100.0).round() as u64;
        if let Some(o) = self.orders.iter_mut().find(|o| o.id == order.id) {
            o.cents = order.cents;
        }
        let customer = json!({"id": 7_300_000 + order.id % 100_000,
                              "first_name": order.first, "last_name": order.last, "email": order.email()});
        let body = if topic == "customers/create" {
            customer
        } else {
            // Now and then the shop sends a total the mapping cannot read.
            let total_price = if chance(0.03) { json!("n/a") } else { json!(format!("{total:.2}")) };
            json!({
                "id": order.id, "name": order.number, "email": order.email(),
                "created_at": rfc3339(order.created_at), "updated_at": rfc3339(Utc::now()),
                "currency": "EUR", "total_price": total_price, "financial_status": status,
                "customer": customer, "line_items": lines,
                "shipping_address": {"city": order.city.0, "country_code": order.city.1},
            })
        };
        let headers = vec![
            ("x-shopify-topic".to_owned(), topic.to_owned()),
            ("x-shopify-shop-domain".to_owned(), "weir-demo-eu.myshopify.com".to_owned()),
            ("x-shopify-api-version".to_owned(), "2026-01".to_owned()),
        ];
        (hex_id(32), body, headers)
    }

    /// A Stripe event about a recent order's payment (or a customer or
    /// invoice event, which no configuration takes).
    fn stripe_event(&mut self) -> Event {
        let order = self.some_order();
        let cents = if order.cents > 0 { order.cents } else { rand::random_range(990..25_000) };
        let roll: f64 = rand::random();
        let (kind, object) = if roll < 0.55 {
            ("payment_intent.succeeded", intent(&order, cents, "succeeded")) // not a state: partner data
        } else if roll < 0.7 {
            ("payment_intent.payment_failed", intent(&order, cents, "requires_payment_method"))
        } else if roll < 0.8 {
            (
                "charge.refunded",
                json!({"id": format!("ch_3{}", hex_id(23)), "object": "charge", "amount": cents,
                "amount_refunded": cents, "currency": "eur", "status": "succeeded", "refunded": true, // not a state: partner data
                "receipt_email": order.email(), "metadata": {"order_number": order.number}}),
            )
        } else if roll < 0.9 {
            (
                "customer.created",
                json!({"id": format!("cus_{}", hex_id(14)), "object": "customer",
                "email": order.email(), "name": format!("{} {}", order.first, order.last)}),
            )
        } else {
            (
                "invoice.paid",
                json!({"id": format!("in_1{}", hex_id(23)), "object": "invoice",
                "amount_paid": cents, "currency": "eur", "customer_email": order.email()}),
            )
        };
        let id = format!("evt_3{}", hex_id(23));
        let body = json!({"id": id, "object": "event", "api_version": "2024-06-20", "created": Utc::now().timestamp(),
                          "livemode": false, "type": kind, "data": {"object": object}});
        (id, body, Vec::new())
    }

    /// A DHL tracking update (Standard Webhooks envelope) moving a shipment
    /// one stage on, or a new shipment for a recent order.
    fn dhl_event(&mut self) -> Event {
        let advance = !self.shipments.is_empty() && chance(0.65);
        let shipment = if advance {
            let i = rand::random_range(0..self.shipments.len());
            let s = &mut self.shipments[i];
            s.stage = (s.stage + 1).min(STAGES.len() - 1);
            s
        } else {
            let order = self.some_order();
            if self.shipments.len() == REMEMBERED {
                self.shipments.pop_front();
            }
            self.shipments.push_back(Shipment {
                tracking: format!("JJD000{:016}", rand::random_range(0..10_000_000_000_000_000u64)),
                order: order.number,
                city: order.city,
                stage: 0,
            });
            let last = self.shipments.len() - 1;
            &mut self.shipments[last]
        };
        let status = if chance(0.05) { "exception" } else { STAGES[shipment.stage] };
        let (city, country) = if shipment.stage == 0 { ("Leipzig", "DE") } else { shipment.city };
        let eta =
            if chance(0.03) { json!("tomorrow-ish") } else { json!(rfc3339(Utc::now() + chrono::TimeDelta::days(2))) };
        let mut body = json!({"type": format!("shipment.{status}"), "timestamp": rfc3339(Utc::now()), "data": {
            "tracking_number": shipment.tracking, "reference": shipment.order, "status": status.to_uppercase(),
            "service": "DHL Paket", "location": {"city": city, "country": country}, "estimated_delivery": eta,
        }});
        // Now and then an envelope without data: the receiver's schema refuses it (422).
        if chance(0.03)
            && let Some(o) = body.as_object_mut()
        {
            o.remove("data");
        }
        (format!("msg_{}", hex_id(27)), body, Vec::new())
    }
}
