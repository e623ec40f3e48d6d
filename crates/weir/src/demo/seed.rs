//! Seeding the `demo` tenant, safe to repeat on the same database.
//!
//! The tenant and its tokens come from the store, as `weir tenant create`
//! and `weir token create` make them (before the server starts). Everything
//! else goes through Weir's public HTTP API with the admin token, found by
//! code or name and created or brought up to date:
//!
//! | connector | type | receives | syncs |
//! |---|---|---|---|
//! | `shop-eu` Shopify EU shop | http (bearer) | Shopify-signed orders | orders → ERP; product catalogue pulled (schedule) |
//! | `stripe` Stripe payments | webhook | Stripe-signed events | payments → ERP |
//! | `dhl` Carrier DHL | webhook | Standard Webhooks shipments (JSON Schema) | shipments → ERP |
//! | `crm` Legacy CRM | http (basic) | — | customers pulled (manual; the CRM always fails) |
//!
//! On a second run the partner has a new port: the http connectors' new
//! `base_url` is a production change, so it becomes a change request that a
//! second admin token (`demo approver`, revoked afterwards) approves — the
//! four-eyes rule at work. Receivers get fresh secrets by rotation (the old
//! ones expire at once), since a secret is only ever shown when it is set.

use std::time::Duration;
use weir_core::{ConnectorType, Direction, Trigger};

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir_core::webhook::{ReceiverAuth, generate_secret, key_material};
use weir_core::{ApiTokenName, Role, TenantName, TenantSlug};
use weir_store::{NewTenant, NewToken, StoreError, SystemScope, TenantScope};

use super::partner::{CRM_LOGIN, SHOP_API_TOKEN};
use super::trickle::{Source, Target};
use crate::config::Config;

const TENANT_SLUG: &str = "demo";
const ADMIN_TOKEN_NAME: &str = "demo admin";
const APPROVER_TOKEN_NAME: &str = "demo approver";

/// A token issued for this run.
pub(super) struct Issued {
    id: String,
    token: String,
}

/// The tenant's tokens for this run.
pub(super) struct Tokens {
    admin: Issued,
    /// Only when the tenant existed already (its connectors may need a
    /// change approved).
    approver: Option<Issued>,
}

/// What the trickle needs: where to send, how to sign, what to run.
pub(super) struct Seeded {
    /// The admin token (printed once in the banner).
    pub admin_token: String,
    /// The receivers with their secrets' key material.
    pub targets: Vec<Target>,
    /// `(name, id)` of the inbound sync configurations to execute.
    pub syncs: Vec<(String, String)>,
}

/// Finds or creates the `demo` tenant and issues this run's tokens through
/// the store (closed again before the server opens it). On the demo's own
/// database a system token is made sure of here, without printing it: the
/// demo does not need one, and `serve`'s first-start banner would only
/// confuse.
pub(super) async fn issue_tokens(config: &Config, own_database: bool) -> anyhow::Result<Tokens> {
    let store = crate::app::open_store(config).await?;
    let issued = async {
        if own_database && config.system_token.is_none() && store.ensure_system_token(None).await?.is_some() {
            tracing::info!("the demo database got a system token that is not shown; set WEIR_SYSTEM_TOKEN to use one");
        }
        let cap = SystemScope::local_operator();
        let (tenant, existed) = match store.get_tenant_by_slug(&cap, TENANT_SLUG).await {
            Ok(t) => (t, true),
            Err(StoreError::NotFound) => {
                let new = NewTenant {
                    slug: TenantSlug::parse(TENANT_SLUG).context("tenant slug")?,
                    name: TenantName::parse("Demo Trading GmbH").context("tenant name")?,
                };
                (store.create_tenant(&cap, new).await?, false)
            }
            Err(e) => return Err(e.into()),
        };
        if !tenant.is_active {
            bail!("the tenant `{TENANT_SLUG}` in this database is deactivated; use a fresh demo database");
        }
        let scope = store.tenant_scope(&cap, &tenant.id).await?;
        let admin = issue(&store, &scope, ADMIN_TOKEN_NAME).await?;
        let approver = if existed { Some(issue(&store, &scope, APPROVER_TOKEN_NAME).await?) } else { None };
        Ok(Tokens { admin, approver })
    }
    .await;
    store.close().await;
    issued
}

/// An admin token named `name`. Issued by "weir demo", not by another
/// token, so the approver counts as a different admin than the requester.
async fn issue(store: &weir_store::Store, scope: &TenantScope, name: &str) -> anyhow::Result<Issued> {
    let new = NewToken { name: ApiTokenName::parse(name).context("token name")?, role: Role::Admin };
    let t = store.create_token(scope, new, weir_store::Issuer::Outside("weir demo")).await?;
    Ok(Issued { id: t.token.id, token: t.plain.expose().to_owned() })
}

/// A small client for Weir's API; errors name the request and the problem's
/// detail, never a token.
struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut req = self.client.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.with_context(|| format!("{method} {path}"))?;
        let status = res.status();
        let bytes = res.bytes().await.with_context(|| format!("{method} {path}: reading the answer"))?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    /// The answer's body, or an error unless it is 2xx.
    async fn ok(&self, token: &str, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let (status, answer) = self.call(token, method.clone(), path, body).await?;
        if !status.is_success() {
            bail!("{method} {path} answered {status}: {}", problem_text(&answer));
        }
        Ok(answer)
    }

    /// The `data` list of a GET.
    async fn list(&self, token: &str, path: &str) -> anyhow::Result<Vec<Value>> {
        let answer = self.ok(token, Method::GET, path, None).await?;
        Ok(answer["data"].as_array().cloned().unwrap_or_default())
    }
}

fn problem_text(v: &Value) -> String {
    let detail = v["detail"].as_str().or(v["title"].as_str()).unwrap_or("no detail");
    match v.get("errors") {
        Some(errors) => format!("{detail} {errors}"),
        None => detail.to_owned(),
    }
}

fn id_of(v: &Value) -> anyhow::Result<String> {
    v["id"].as_str().map(str::to_owned).context("the answer has no id")
}

/// Seeds everything through the API at `base` (ready), pointing the
/// connectors and destinations at the partner at `partner`.
pub(super) async fn seed(base: &str, partner: &str, tokens: Tokens) -> anyhow::Result<Seeded> {
    let api =
        Api { client: reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?, base: base.to_owned() };
    let s = Seeder { api: &api, admin: &tokens.admin.token, approver: tokens.approver.as_ref(), partner };

    let shop = s
        .connector(json!({
            "code": "shop-eu", "name": "Shopify EU shop", "type": "http", "environment": "production",
            "config": {"base_url": format!("{partner}/shop"), "health_path": "/health", "timeout_ms": 5000,
                       "auth": {"type": "bearer"}},
            "credentials": {"token": SHOP_API_TOKEN},
        }))
        .await?;
    let stripe =
        s.connector(json!({"code": "stripe", "name": "Stripe payments", "type": ConnectorType::Webhook})).await?;
    let dhl = s.connector(json!({"code": "dhl", "name": "Carrier DHL", "type": ConnectorType::Webhook})).await?;
    let crm = s
        .connector(json!({
            "code": "crm", "name": "Legacy CRM", "type": "http", "environment": "production",
            "config": {"base_url": format!("{partner}/crm"), "health_path": "/health", "timeout_ms": 3000,
                       "auth": {"type": "basic"}},
            "credentials": {"username": CRM_LOGIN.0, "password": CRM_LOGIN.1},
        }))
        .await?;

    let orders = s.mapping(mappings::orders()).await?;
    let products = s.mapping(mappings::products()).await?;
    let payments = s.mapping(mappings::payments()).await?;
    let shipments = s.mapping(mappings::shipments()).await?;
    let customers = s.mapping(mappings::customers()).await?;

    let dhl_schema = json!({"type": "object", "required": ["type", "timestamp", "data"],
                            "properties": {"data": {"type": "object", "required": ["tracking_number"]}}});
    let targets = vec![
        s.receiver(Source::Shop, &shop, ReceiverAuth::Shopify, None).await?,
        s.receiver(Source::Stripe, &stripe, ReceiverAuth::Stripe, None).await?,
        s.receiver(Source::Dhl, &dhl, ReceiverAuth::StandardWebhooks { public_key: None }, Some(dhl_schema)).await?,
    ];

    let destination = |entity: &str| json!({"url": format!("{partner}/erp/{entity}"), "timeout_ms": 5000});
    s.sync(json!({
        "connector_id": shop, "name": "Orders to ERP", "direction": Direction::Inbound, "entity_type": "order",
        "field_mapping_id": orders, "trigger": Trigger::Webhook,
        "event_types": ["orders/create", "orders/updated", "orders/paid"], "ordering_field": "updated_at",
        "destination": destination("orders"),
    }))
    .await?;
    s.sync(json!({
        "connector_id": stripe, "name": "Payments to ERP", "direction": Direction::Inbound, "entity_type": "payment",
        "field_mapping_id": payments, "trigger": Trigger::Webhook,
        "event_types": ["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded"],
        "ordering_field": "updated_at", "destination": destination("payments"),
    }))
    .await?;
    s.sync(json!({
        "connector_id": dhl, "name": "Shipment tracking to ERP", "direction": Direction::Inbound, "entity_type": "shipment",
        "field_mapping_id": shipments, "trigger": Trigger::Webhook,
        "event_types": ["shipment.picked_up", "shipment.in_transit", "shipment.out_for_delivery",
                        "shipment.delivered", "shipment.exception"],
        "ordering_field": "updated_at", "destination": destination("shipments"),
    }))
    .await?;
    let catalogue = s
        .sync(json!({
            "connector_id": shop, "name": "Product catalogue", "direction": Direction::Inbound, "entity_type": "product",
            "field_mapping_id": products, "trigger": Trigger::Schedule, "schedule": "*/5 * * * *",
            "source": {"path": "/products", "records_path": "data",
                       "pagination": {"type": "page", "param": "page", "start": 1, "next_path": "meta.next_page"}},
        }))
        .await?;
    let crm_customers = s
        .sync(json!({
            "connector_id": crm, "name": "CRM customers", "direction": Direction::Inbound, "entity_type": "customer",
            "field_mapping_id": customers, "trigger": Trigger::Manual,
            "source": {"path": "/customers", "records_path": "data",
                       "pagination": {"type": "cursor", "param": "cursor", "next_path": "meta.next_cursor"}},
        }))
        .await?;

    s.revoke_earlier_tokens(&tokens.admin.id).await?;
    Ok(Seeded {
        admin_token: tokens.admin.token.clone(),
        targets,
        syncs: vec![("Product catalogue".to_owned(), catalogue), ("CRM customers".to_owned(), crm_customers)],
    })
}

struct Seeder<'a> {
    api: &'a Api,
    admin: &'a str,
    approver: Option<&'a Issued>,
    partner: &'a str,
}

impl Seeder<'_> {
    /// The connector with `desired["code"]`: created, or switched on, renamed
    /// and re-pointed at the partner (through an approved change request).
    async fn connector(&self, desired: Value) -> anyhow::Result<String> {
        let code = desired["code"].as_str().context("connector code")?;
        let found = self
            .api
            .list(self.admin, &format!("/api/v1/integration/connectors?q={code}&per_page=100"))
            .await?
            .into_iter()
            .find(|c| c["code"] == code);
        let Some(existing) = found else {
            let created =
                self.api.ok(self.admin, Method::POST, "/api/v1/integration/connectors", Some(&desired)).await?;
            return id_of(&created["data"]);
        };
        let id = id_of(&existing)?;
        let path = format!("/api/v1/integration/connectors/{id}");
        if existing["is_active"] != true || existing["name"] != desired["name"] {
            let plain = json!({"name": desired["name"], "is_active": true});
            self.api.ok(self.admin, Method::PATCH, &path, Some(&plain)).await?;
        }
        if let Some(config) = desired.get("config")
            && existing["config"]["base_url"] != config["base_url"]
        {
            let (status, answer) =
                self.api.call(self.admin, Method::PATCH, &path, Some(&json!({"config": config}))).await?;
            match status {
                StatusCode::OK => {}
                StatusCode::ACCEPTED => self.approve(code, &answer["data"]["change_request"]).await?,
                other => bail!("PATCH {path} answered {other}: {}", problem_text(&answer)),
            }
        }
        Ok(id)
    }

    /// Approves a change request with the second admin token.
    async fn approve(&self, code: &str, request: &Value) -> anyhow::Result<()> {
        let Some(approver) = self.approver else {
            bail!("connector {code} needs a change approved, but no approver token was issued");
        };
        let path = format!("/api/v1/integration/change-requests/{}/approve", id_of(request)?);
        let note = json!({"note": format!("weir demo: the partner now listens at {}", self.partner)});
        self.api.ok(&approver.token, Method::POST, &path, Some(&note)).await?;
        tracing::info!(connector = code, "approved the demo connector's new base URL");
        Ok(())
    }

    /// The field mapping named `desired["name"]`, created or replaced.
    async fn mapping(&self, desired: Value) -> anyhow::Result<String> {
        let name = &desired["name"];
        let entity = desired["entity_type"].as_str().context("mapping entity type")?;
        let path = format!("/api/v1/integration/field-mappings?entity_type={entity}&per_page=100");
        match self.api.list(self.admin, &path).await?.into_iter().find(|m| &m["name"] == name) {
            Some(m) => {
                let id = id_of(&m)?;
                let path = format!("/api/v1/integration/field-mappings/{id}");
                self.api.ok(self.admin, Method::PATCH, &path, Some(&desired)).await?;
                Ok(id)
            }
            None => {
                let created =
                    self.api.ok(self.admin, Method::POST, "/api/v1/integration/field-mappings", Some(&desired)).await?;
                id_of(&created["data"])
            }
        }
    }

    /// The connector's `*` receiver with method `auth`, with a new secret
    /// set by the demo (created, or rotated with the old secret expired).
    async fn receiver(
        &self,
        source: Source,
        connector: &str,
        auth: ReceiverAuth,
        schema: Option<Value>,
    ) -> anyhow::Result<Target> {
        let method = auth.method();
        let secret = generate_secret(method);
        let key = key_material(method, &secret).map_err(|e| anyhow::anyhow!("demo receiver secret: {e}"))?;
        let path = format!("/api/v1/integration/webhook-receivers?connector_id={connector}&per_page=100");
        let found = self
            .api
            .list(self.admin, &path)
            .await?
            .into_iter()
            .find(|r| r["event_type"] == "*" && r["auth"]["method"] == method.as_str());
        let receiver_url = match found {
            Some(r) => {
                let id = id_of(&r)?;
                let path = format!("/api/v1/integration/webhook-receivers/{id}");
                let patch = json!({"is_active": true, "schema": schema});
                self.api.ok(self.admin, Method::PATCH, &path, Some(&patch)).await?;
                let rotate = json!({"secret": secret, "expire_old": true});
                self.api.ok(self.admin, Method::POST, &format!("{path}/rotate-secret"), Some(&rotate)).await?;
                r["receiver_url"].as_str().context("receiver_url")?.to_owned()
            }
            None => {
                let mut body = json!({"event_type": "*", "auth": auth.to_json(), "secret": secret});
                if let Some(schema) = schema {
                    body["schema"] = schema;
                }
                let path = format!("/api/v1/integration/connectors/{connector}/webhook-receivers");
                let created = self.api.ok(self.admin, Method::POST, &path, Some(&body)).await?;
                created["data"]["receiver_url"].as_str().context("receiver_url")?.to_owned()
            }
        };
        Ok(Target { source, path: receiver_url, auth, key })
    }

    /// The sync configuration named `desired["name"]` on its connector,
    /// created or brought up to date (a whole-body PATCH).
    async fn sync(&self, desired: Value) -> anyhow::Result<String> {
        let connector = desired["connector_id"].as_str().context("sync connector")?;
        let path = format!("/api/v1/integration/sync-configurations?connector_id={connector}&per_page=100");
        match self.api.list(self.admin, &path).await?.into_iter().find(|c| c["name"] == desired["name"]) {
            Some(c) => {
                let id = id_of(&c)?;
                let mut patch = desired.clone();
                patch["is_active"] = json!(true);
                let path = format!("/api/v1/integration/sync-configurations/{id}");
                self.api.ok(self.admin, Method::PATCH, &path, Some(&patch)).await?;
                Ok(id)
            }
            None => {
                let created = self
                    .api
                    .ok(self.admin, Method::POST, "/api/v1/integration/sync-configurations", Some(&desired))
                    .await?;
                id_of(&created["data"])
            }
        }
    }

    /// Revokes the tokens earlier demo runs printed, and this run's approver.
    async fn revoke_earlier_tokens(&self, keep: &str) -> anyhow::Result<()> {
        for t in self.api.list(self.admin, "/api/v1/tokens?per_page=100").await? {
            let ours = t["name"] == ADMIN_TOKEN_NAME || t["name"] == APPROVER_TOKEN_NAME;
            if ours && t["revoked_at"].is_null() && t["id"] != keep {
                let path = format!("/api/v1/tokens/{}", id_of(&t)?);
                self.api.ok(self.admin, Method::DELETE, &path, None).await?;
            }
        }
        Ok(())
    }
}

/// The field mappings: realistic payloads into ERP-shaped records.
mod mappings {
    use serde_json::{Value, json};

    fn to_string() -> Value {
        json!([{"op": "to_string"}])
    }

    fn to_datetime() -> Value {
        json!([{"op": "to_datetime"}])
    }

    /// Shopify orders (`orders/create`, `orders/updated`, `orders/paid`).
    pub fn orders() -> Value {
        json!({"name": "Shop orders", "entity_type": "order", "key": "external_id", "rules": [
            {"source": "id", "target": "external_id", "transforms": to_string(), "required": true},
            {"source": "name", "target": "order_number"},
            {"source": "email", "target": "email", "transforms": [{"op": "trim"}, {"op": "lowercase"}]},
            {"target": "customer_name",
             "transforms": [{"op": "template", "template": "{customer.first_name} {customer.last_name}"}]},
            {"source": "total_price", "target": "total", "transforms": [{"op": "to_number"}], "required": true},
            {"source": "currency", "target": "currency", "transforms": [{"op": "uppercase"}]},
            {"source": "financial_status", "target": "payment_status", "default": "pending"}, // not a state: partner data
            {"source": "shipping_address.country_code", "target": "ship_to.country"},
            {"source": "shipping_address.city", "target": "ship_to.city"},
            {"source": "line_items[0].sku", "target": "first_sku"},
            {"source": "created_at", "target": "placed_at", "transforms": to_datetime()},
            {"source": "updated_at", "target": "updated_at", "transforms": to_datetime(), "required": true},
        ]})
    }

    /// The shop's product pages.
    pub fn products() -> Value {
        json!({"name": "Shop products", "entity_type": "product", "key": "external_id", "rules": [
            {"source": "id", "target": "external_id", "transforms": to_string(), "required": true},
            {"source": "sku", "target": "sku", "transforms": [{"op": "trim"}, {"op": "uppercase"}], "required": true},
            {"source": "title", "target": "name"},
            {"source": "price", "target": "price", "transforms": [{"op": "to_number"}]},
            {"source": "currency", "target": "currency", "default": "EUR"},
            {"source": "inventory_quantity", "target": "stock", "transforms": [{"op": "to_integer"}]},
            {"source": "status", "target": "status"},
        ]})
    }

    /// Stripe events about payment intents and charges.
    pub fn payments() -> Value {
        json!({"name": "Stripe payments", "entity_type": "payment", "key": "external_id", "rules": [
            {"source": "data.object.id", "target": "external_id", "required": true},
            {"source": "type", "target": "last_event"},
            {"source": "data.object.amount", "target": "amount_cents", "transforms": [{"op": "to_integer"}], "required": true},
            {"source": "data.object.currency", "target": "currency", "transforms": [{"op": "uppercase"}]},
            {"source": "data.object.status", "target": "status"},
            {"source": "data.object.receipt_email", "target": "email"},
            {"source": "data.object.metadata.order_number", "target": "order_number"},
            {"source": "created", "target": "updated_at", "transforms": to_datetime(), "required": true}, // not a state: a field
        ]})
    }

    /// DHL tracking updates (Standard Webhooks envelopes).
    pub fn shipments() -> Value {
        json!({"name": "DHL shipments", "entity_type": "shipment", "key": "external_id", "rules": [
            {"source": "data.tracking_number", "target": "external_id", "required": true},
            {"source": "data.reference", "target": "order_number"},
            {"source": "data.status", "target": "status", "transforms": [{"op": "lowercase"}]},
            {"source": "data.service", "target": "service"},
            {"target": "location", "transforms": [{"op": "concat", "sources": ["data.location.city", "data.location.country"], "separator": ", "}]},
            {"source": "data.estimated_delivery", "target": "estimated_delivery", "transforms": to_datetime()},
            {"source": "timestamp", "target": "updated_at", "transforms": to_datetime(), "required": true},
        ]})
    }

    /// The CRM's customers (never reached: the CRM fails).
    pub fn customers() -> Value {
        json!({"name": "CRM customers", "entity_type": "customer", "key": "external_id", "rules": [
            {"source": "customer_no", "target": "external_id", "transforms": to_string(), "required": true},
            {"source": "email", "target": "email", "transforms": [{"op": "trim"}, {"op": "lowercase"}]},
            {"source": "company", "target": "company"},
        ]})
    }
}
