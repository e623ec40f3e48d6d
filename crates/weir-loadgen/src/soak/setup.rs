//! What the soak creates before the load: the partner API it serves itself,
//! and through the Weir API a tenant, a webhook flow into records and a
//! manual inbound sync on the partner.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use axum::extract::{Query, State};
use serde_json::{Value, json};
use weir_core::webhook::sign::sign_headers;
use weir_core::webhook::{ReceiverAuth, key_material};
use weir_core::{ConnectorType, Direction, Trigger};

use super::Plan;
use crate::post;

/// Records per page of the partner API.
const PAGE_SIZE: u64 = 100;

/// Signs deliveries to the soak's receiver.
pub(super) struct Signer {
    auth: ReceiverAuth,
    key: Vec<u8>,
    url: String,
}

impl Signer {
    /// A signed `order.created` delivery with provider id `id`.
    pub(super) fn request(&self, c: &reqwest::Client, id: &str, total: u64) -> reqwest::RequestBuilder {
        let body = format!(r#"{{"id":"{id}","type":"order.created","data":{{"total":{total},"currency":"EUR"}}}}"#);
        let now = chrono::Utc::now().timestamp();
        let mut req = c.post(&self.url).header("content-type", "application/json");
        for (k, v) in sign_headers(&self.auth, &self.key, id, now, body.as_bytes()) {
            req = req.header(k, v);
        }
        req.body(body)
    }
}

/// The partner API: `GET /customers?page=N` → `{"data": [...], "next_page": N+1|null}`
/// over `total` records. Each run (a request for page 1) changes every
/// record's `total`, so every run updates records rather than finding
/// them unchanged.
pub(super) async fn serve_partner(total: u64) -> anyhow::Result<String> {
    async fn page(
        State((total, runs)): State<(u64, Arc<AtomicU64>)>,
        Query(q): Query<std::collections::HashMap<String, u64>>,
    ) -> axum::Json<Value> {
        let page = q.get("page").copied().unwrap_or(1).max(1);
        let run = if page == 1 { runs.fetch_add(1, Ordering::Relaxed) + 1 } else { runs.load(Ordering::Relaxed) };
        let (start, end) = ((page - 1) * PAGE_SIZE, (page * PAGE_SIZE).min(total));
        let data: Vec<Value> =
            (start..end).map(|i| json!({"id": i, "name": format!("Customer {i}"), "total": i + run})).collect();
        let next = if end < total { json!(page + 1) } else { Value::Null };
        axum::Json(json!({"data": data, "next_page": next}))
    }
    let app = axum::Router::new()
        .route("/customers", axum::routing::get(page))
        .with_state((total, Arc::new(AtomicU64::new(0))));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

/// Ids the load needs.
pub(super) struct Setup {
    /// The soak tenant's admin token.
    pub(super) admin: String,
    pub(super) signer: Signer,
    /// The manual inbound sync configuration the load executes.
    pub(super) sync_config: String,
}

/// Creates, through the API: a tenant and admin token; a webhook connector
/// with a receiver whose events a mapping turns into records; an `http`
/// connector on the partner with a manual inbound sync configuration.
pub(super) async fn setup(c: &reqwest::Client, plan: &Plan, partner: &str) -> anyhow::Result<Setup> {
    let api = Api { c, base: &plan.base };
    let admin = api.tenant_admin(&plan.system_token).await?;
    let signer = api.webhooks_into_records(&admin).await?;
    let sync_config = api.partner_sync(&admin, partner).await?;
    Ok(Setup { admin, signer, sync_config })
}

/// The API calls of `setup`.
struct Api<'a> {
    c: &'a reqwest::Client,
    base: &'a str,
}

impl Api<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/{path}", self.base)
    }

    /// A new tenant (slug `soak-<pid>`) and an admin token for it.
    async fn tenant_admin(&self, system_token: &str) -> anyhow::Result<String> {
        let c = self.c;
        let slug = format!("soak-{}", std::process::id());
        let t = post(c, self.url("system/tenants"), system_token, json!({"slug": slug, "name": "Soak"})).await?;
        let tid = t["data"]["id"].as_str().context("tenant id")?;
        let tok = post(
            c,
            self.url(&format!("system/tenants/{tid}/tokens")),
            system_token,
            json!({"name": "soak", "role": "admin"}),
        )
        .await?;
        Ok(tok["data"]["token"].as_str().context("token")?.to_owned())
    }

    /// Webhooks → records: a webhook connector, its receiver, a mapping and
    /// a webhook-triggered sync configuration. Returns the receiver's signer.
    async fn webhooks_into_records(&self, admin: &str) -> anyhow::Result<Signer> {
        let c = self.c;
        let conn = post(
            c,
            self.url("integration/connectors"),
            admin,
            json!({"code": "shop", "name": "Shop", "type": ConnectorType::Webhook, "environment": "development", "rate_limit_per_minute": 0}),
        )
        .await?;
        let shop = conn["data"]["id"].as_str().context("connector id")?;
        let r = post(
            c,
            self.url(&format!("integration/connectors/{shop}/webhook-receivers")),
            admin,
            json!({"event_type": "order.created", "auth": {"method": "standard_webhooks"},
                   "schema": {"type": "object", "required": ["id", "data"]}}),
        )
        .await?;
        let receiver = &r["data"];
        let auth = ReceiverAuth::parse(&receiver["auth"]).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let key = key_material(auth.method(), receiver["secret"].as_str().context("secret")?)
            .map_err(|e| anyhow::anyhow!(e))?;
        let url = format!("{}{}", self.base, receiver["receiver_url"].as_str().context("receiver url")?);
        let m = post(
            c,
            self.url("integration/field-mappings"),
            admin,
            json!({"name": "orders", "entity_type": "order", "key": "external_id", "rules": [
                {"source": "id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]},
                {"source": "type", "target": "event"},
                {"source": "data.total", "target": "total", "transforms": [{"op": "to_number"}]},
                {"source": "data.currency", "target": "currency", "default": "EUR"}]}),
        )
        .await?;
        post(
            c,
            self.url("integration/sync-configurations"),
            admin,
            json!({"connector_id": shop, "name": "orders in", "direction": Direction::Inbound, "entity_type": "order",
                   "field_mapping_id": m["data"]["id"], "trigger": Trigger::Webhook, "event_types": ["order.created"]}),
        )
        .await?;
        Ok(Signer { auth, key, url })
    }

    /// Partner → records, on demand: an `http` connector on the partner, a
    /// mapping and a manual sync configuration. Returns the configuration's id.
    async fn partner_sync(&self, admin: &str, partner: &str) -> anyhow::Result<String> {
        let c = self.c;
        let conn = post(
            c,
            self.url("integration/connectors"),
            admin,
            json!({"code": "crm", "name": "CRM", "type": "http", "environment": "development",
                   "config": {"base_url": partner, "auth": {"type": "bearer"}}, "credentials": {"token": "soak"}}),
        )
        .await?;
        let crm = conn["data"]["id"].as_str().context("connector id")?;
        let m = post(
            c,
            self.url("integration/field-mappings"),
            admin,
            json!({"name": "customers", "entity_type": "customer", "key": "external_id", "rules": [
                {"source": "id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]},
                {"source": "name", "target": "name"},
                {"source": "total", "target": "total", "transforms": [{"op": "to_number"}]}]}),
        )
        .await?;
        let cfg = post(
            c,
            self.url("integration/sync-configurations"),
            admin,
            json!({"connector_id": crm, "name": "customers in", "direction": Direction::Inbound, "entity_type": "customer",
                   "field_mapping_id": m["data"]["id"], "trigger": Trigger::Manual,
                   "source": {"path": "/customers", "records_path": "data",
                              "pagination": {"type": "page", "param": "page", "start": 1, "next_path": "next_page"}}}),
        )
        .await?;
        Ok(cfg["data"]["id"].as_str().context("config id")?.to_owned())
    }
}
