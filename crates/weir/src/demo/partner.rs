//! The fake partner: one small axum server on `127.0.0.1:0` playing three
//! outside systems under path prefixes.
//!
//! - `/shop`: a shop's REST API. `GET /shop/products?page=N` serves a
//!   catalogue of 110 products, 25 a page (`meta.next_page`, Weir's `page`
//!   pagination), behind a bearer token; about 4 % of pages answer 500 (the
//!   sync engine retries them) and now and then a product lacks its SKU (a
//!   per-record mapping error: the run ends `partial`).
//! - `/crm`: a legacy CRM whose every endpoint answers 500, so its
//!   connector shows as failing.
//! - `/erp`: the business system that receives processed records
//!   (`POST /erp/{entity}`, the webhook sync configurations' destination):
//!   204 mostly, 503 for 7 % (Weir retries) and 422 for 2 % (the event
//!   fails for good).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The shop API's bearer token (a made-up credential of a made-up system;
/// Weir keeps it sealed like any other).
pub(super) const SHOP_API_TOKEN: &str = "shpat_demo_0f3c9a7e5d2b4c1a";
/// The legacy CRM's basic-auth user and password (equally made up).
pub(super) const CRM_LOGIN: (&str, &str) = ("weir-sync", "crm-demo-password");

const PRODUCTS: u64 = 110;
const PER_PAGE: u64 = 25;

/// What the partner has answered so far (for the demo's summary line).
#[derive(Debug, Default)]
pub(super) struct PartnerStats {
    /// Product pages served.
    pub pages_served: AtomicU64,
    /// Product pages answered 500 on purpose, and every CRM request.
    pub pages_failed: AtomicU64,
    /// Records accepted by the ERP (2xx).
    pub deliveries_ok: AtomicU64,
    /// Deliveries answered 503 (Weir retries them).
    pub deliveries_retry: AtomicU64,
    /// Deliveries refused with 422 (the event fails).
    pub deliveries_refused: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The running partner server.
pub(super) struct Partner {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its counters.
    pub stats: Arc<PartnerStats>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Partner {
    /// Binds `127.0.0.1:0` and serves until [`Partner::stop`].
    pub async fn start() -> anyhow::Result<Partner> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot bind the demo partner")?;
        let url = format!("http://{}", listener.local_addr().context("partner address")?);
        let stats = Arc::new(PartnerStats::default());
        let app = Router::new()
            .route("/shop/health", get(|| async { Json(json!({"status": "ok", "version": "2026-01"})) }))
            .route("/shop/products", get(products))
            .route("/crm/{*rest}", any(crm))
            .route("/erp/{entity}", post(erp))
            .with_state(stats.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = served.await {
                tracing::warn!(error = %e, "demo partner stopped with an error");
            }
        });
        Ok(Partner { url, stats, stop, task })
    }

    /// Stops serving; connections still open after 5 s are dropped.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err() {
            task.abort();
        }
    }
}

fn chance(p: f64) -> bool {
    rand::random_bool(p)
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    page: Option<u64>,
}

async fn products(State(stats): State<Arc<PartnerStats>>, headers: HeaderMap, Query(q): Query<PageQuery>) -> Response {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {SHOP_API_TOKEN}"));
    if !authorized {
        return (StatusCode::UNAUTHORIZED, Json(json!({"errors": "[API] Invalid API key or access token"})))
            .into_response();
    }
    if chance(0.04) {
        bump(&stats.pages_failed);
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"errors": "Internal Server Error"}))).into_response();
    }
    bump(&stats.pages_served);
    let page = q.page.unwrap_or(1).max(1);
    let first = (page - 1).saturating_mul(PER_PAGE);
    let last = first.saturating_add(PER_PAGE).min(PRODUCTS);
    let data: Vec<Value> = (first..last).map(product).collect();
    let next = (last < PRODUCTS).then_some(page + 1);
    Json(json!({"data": data, "meta": {"page": page, "per_page": PER_PAGE, "total": PRODUCTS, "next_page": next}}))
        .into_response()
}

const STYLES: [&str; 11] = [
    "Classic", "Organic", "Recycled", "Compact", "Premium", "Everyday", "Nordic", "Vintage", "Travel", "Eco", "Studio",
];
const ITEMS: [(&str, &str, f64); 10] = [
    ("ceramic mug", "MUG", 12.90),
    ("cotton tote bag", "TOTE", 9.50),
    ("desk lamp", "LAMP", 49.00),
    ("water bottle", "BOTL", 19.90),
    ("notebook A5", "NOTE", 7.50),
    ("wool scarf", "SCRF", 34.00),
    ("phone stand", "STND", 15.00),
    ("espresso cups, set of 2", "CUPS", 24.00),
    ("linen napkins, set of 4", "NAPK", 18.50),
    ("plant pot", "POT", 14.00),
];

/// Product `i` of the catalogue: stable identity, a price that is sometimes
/// discounted and a stock level that moves, so re-runs update some records.
fn product(i: u64) -> Value {
    let (style, (item, code, base)) = (STYLES[(i % 11) as usize], ITEMS[(i % 10) as usize]);
    let mut price = base * (1.0 + (i % 11) as f64 * 0.05);
    if chance(0.1) {
        price *= 0.85;
    }
    let mut stock = (i * 7) % 60;
    if chance(0.3) {
        stock = stock.saturating_sub(rand::random_range(1..4));
    }
    let sku = if chance(0.004) { Value::Null } else { json!(format!("{code}-{:03}", i + 1)) };
    json!({
        "id": 8_100_000 + i,
        "sku": sku,
        "title": format!("{style} {item}"),
        "vendor": "Weir Demo Goods",
        "price": format!("{price:.2}"),
        "currency": "EUR",
        "inventory_quantity": stock,
        "status": "active",
        "updated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
}

async fn crm(State(stats): State<Arc<PartnerStats>>) -> Response {
    bump(&stats.pages_failed);
    (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": "ORA-12541: TNS:no listener"}))).into_response()
}

async fn erp(State(stats): State<Arc<PartnerStats>>, _record: Bytes) -> Response {
    let roll: f64 = rand::random();
    if roll < 0.02 {
        bump(&stats.deliveries_refused);
        (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"error": "cost centre unknown to the ERP"}))).into_response()
    } else if roll < 0.09 {
        bump(&stats.deliveries_retry);
        (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], "ERP maintenance window").into_response()
    } else {
        bump(&stats.deliveries_ok);
        StatusCode::NO_CONTENT.into_response()
    }
}
