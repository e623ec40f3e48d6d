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

use super::mappings;
use super::partner::{CRM_LOGIN, SHOP_API_TOKEN};
use super::tokens::{ADMIN_TOKEN_NAME, APPROVER_TOKEN_NAME, Issued, Tokens};
use super::trickle::{Source, Target};

/// What the trickle needs: where to send, how to sign, what to run.
pub(super) struct Seeded {
    /// The admin token (printed once in the banner).
    pub admin_token: String,
    /// The receivers with their secrets' key material.
    pub targets: Vec<Target>,
    /// `(name, id)` of the inbound sync configurations to execute.
    pub syncs: Vec<(String, String)>,
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
    let c = s.connectors().await?;
    let m = Mappings {
        orders: s.mapping(mappings::orders()).await?,
        products: s.mapping(mappings::products()).await?,
        payments: s.mapping(mappings::payments()).await?,
        shipments: s.mapping(mappings::shipments()).await?,
        customers: s.mapping(mappings::customers()).await?,
    };
    let dhl_schema = json!({"type": "object", "required": ["type", "timestamp", "data"],
                            "properties": {"data": {"type": "object", "required": ["tracking_number"]}}});
    let targets = vec![
        s.receiver(Source::Shop, &c.shop, ReceiverAuth::Shopify, None).await?,
        s.receiver(Source::Stripe, &c.stripe, ReceiverAuth::Stripe, None).await?,
        s.receiver(Source::Dhl, &c.dhl, ReceiverAuth::StandardWebhooks { public_key: None }, Some(dhl_schema)).await?,
    ];
    s.webhook_syncs(&c, &m).await?;
    let syncs = s.pulled_syncs(&c, &m).await?;
    s.revoke_earlier_tokens(&tokens.admin.id).await?;
    Ok(Seeded { admin_token: tokens.admin.token.clone(), targets, syncs })
}

/// The ids of the four connectors.
struct Connectors {
    shop: String,
    stripe: String,
    dhl: String,
    crm: String,
}

/// The ids of the five field mappings.
struct Mappings {
    orders: String,
    products: String,
    payments: String,
    shipments: String,
    customers: String,
}

impl Seeder<'_> {
    /// The four connectors, on the partner where they call out.
    async fn connectors(&self) -> anyhow::Result<Connectors> {
        let (s, partner) = (self, self.partner);
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
        Ok(Connectors { shop, stripe, dhl, crm })
    }

    /// The three webhook-triggered syncs, each delivering to the partner's ERP.
    async fn webhook_syncs(&self, c: &Connectors, m: &Mappings) -> anyhow::Result<()> {
        let (s, partner) = (self, self.partner);
        let (shop, stripe, dhl) = (&c.shop, &c.stripe, &c.dhl);
        let (orders, payments, shipments) = (&m.orders, &m.payments, &m.shipments);
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
        Ok(())
    }

    /// The two pulled syncs; returns `(name, id)` of each, for the trickle.
    async fn pulled_syncs(&self, c: &Connectors, m: &Mappings) -> anyhow::Result<Vec<(String, String)>> {
        let s = self;
        let (shop, crm, products, customers) = (&c.shop, &c.crm, &m.products, &m.customers);
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
        Ok(vec![("Product catalogue".to_owned(), catalogue), ("CRM customers".to_owned(), crm_customers)])
    }
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
