//! Made-up partner payloads for the demo's traffic: Shopify orders, Stripe
//! payments and DHL shipments that refer to each other, with now and then a
//! malformed field.

use std::collections::VecDeque;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

/// True with probability `p`.
pub(super) fn chance(p: f64) -> bool {
    rand::random_bool(p)
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
pub(super) struct Fakes {
    orders: VecDeque<Order>,
    shipments: VecDeque<Shipment>,
    placed: u64,
}

const REMEMBERED: usize = 50;

/// A delivery to send: provider event id, JSON body and extra headers.
pub(super) type Event = (String, Value, Vec<(String, String)>);

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
    pub(super) fn shop_event(&mut self) -> Event {
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
    pub(super) fn stripe_event(&mut self) -> Event {
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
    pub(super) fn dhl_event(&mut self) -> Event {
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
