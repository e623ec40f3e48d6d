//! Tenant isolation as a matrix generated from the OpenAPI document (issue 9
//! item 6), on both backends.
//!
//! Tenant A gets one of every kind of object the API has: an `http`
//! connector in production (against a wiremock partner) and a `webhook`
//! connector, a webhook receiver, a field mapping, a webhook-triggered and a
//! manual sync configuration, webhook events (one completed, one failed)
//! from signed deliveries, the records processing and a sync run wrote, the
//! run (partial) with its per-record error, a pending change request, API
//! tokens, and the audit trail all of this wrote. Tenant B (with objects of
//! its own) then uses its **admin** token against every one of them.
//!
//! What it proves:
//! - **Every operation on every templated path** of `/api/v1/integration/…`
//!   and `/api/v1/tokens/…` in the served document, called by B with A's ids
//!   (and a plausible body, so that a body check cannot answer first), is
//!   `404 application/problem+json` — and byte for byte the answer B gets for
//!   an id that does not exist, so B cannot even learn that A's id exists.
//! - **Every list** (GET without a path parameter there), with `per_page=100`
//!   when it pages and each `format` it exports, holds nothing of A in its
//!   whole text: no id, secret, token, code, key, record, audit hash or the
//!   partner's address. Each id filter a list takes (`connector_id`, …),
//!   given A's id, answers exactly as for an unknown id (`/sync-status`: 404).
//! - Bodies that **reference** A's objects (a sync configuration on A's
//!   connector and mapping, a bulk replay filtered to A's connector or
//!   receiver) behave exactly as with ids that do not exist.
//! - B's **live stream**, open the whole time, carried B's own delivery but
//!   nothing of A's deliveries, processing, sync run or health changes.
//! - **Nothing of A changed**: every GET of A's objects, every list, export
//!   and dashboard of A, and A's audit trail, read with A's token before and
//!   after, are identical (only `last_used_at` of tokens is left out, see
//!   [`normalized`]).
//!
//! How a new endpoint gets covered: the matrix is built from
//! `/api/v1/openapi.json`, so a new operation on a known path template is
//! called automatically. A new path template fails the test until it gets
//! a row in [`TEMPLATES`] (which kind of A's object fills it); a new
//! operation with a request body fails until [`body_for`] knows a plausible
//! body; a new list that does not answer 200 without parameters, or a new
//! `…_id` query filter, fails until [`NEEDS_FILTER`] / [`ID_FILTERS`] name it.
//! Skipped on purpose: `/api/v1/system/*` (the system token's, not a
//! tenant's) and the public receive URL (keyed by an unguessable receiver
//! key, not by tenant credentials).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use weir::config::Settings;
use weir_core::ids::new_id;
use weir_core::webhook::sign::sign_headers;
use weir_core::webhook::{ReceiverAuth, key_material};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::backend_tests;
use crate::helpers::{Backend, TestApp};

backend_tests!(tenant_b_reaches_nothing_of_tenant_a);

const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const INTEGRATION: &str = "/api/v1/integration";
const SYSTEM_PREFIX: &str = "/api/v1/system/";
/// Keyed by an unguessable receiver key, not by a tenant's token: skipped.
const RECEIVE: &str = "/api/v1/integration/webhooks/{connector_code}/receive/{receiver_key}";
/// Keyed by an unguessable invitation token, not by a tenant's: skipped.
const INVITE: &str = "/api/v1/invites/{token}/accept";
/// Public by tenant slug (whether a tenant has SSO, starting and finishing
/// its sign-in): no tenant's data to reach with a token, so skipped; a
/// sign-in of one tenant finished at another's callback is refused in
/// `tests/api/sso.rs` (the "mix-up").
const SSO_PUBLIC: [&str; 3] = ["/api/v1/sso/{tenant}", "/api/v1/sso/{tenant}/start", "/api/v1/sso/{tenant}/callback"];
/// A's record type (B's is `customer`), so it is recognisable as A's.
const A_ENTITY: &str = "alpha_customer";

/// Kinds of objects a path parameter can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Connector,
    Receiver,
    FieldMapping,
    SyncConfiguration,
    WebhookEvent,
    Record,
    SyncHistory,
    ChangeRequest,
    Token,
    User,
    ServiceAccount,
}

/// Every templated path of the tenant API and the kind of A's object that
/// fills its parameters. The test fails on a templated path of the document
/// missing here (add its row and the matrix covers it) and on a row the
/// document no longer has.
const TEMPLATES: &[(&str, Kind)] = &[
    ("/api/v1/integration/change-requests/{id}", Kind::ChangeRequest),
    ("/api/v1/integration/change-requests/{id}/approve", Kind::ChangeRequest),
    ("/api/v1/integration/change-requests/{id}/reject", Kind::ChangeRequest),
    ("/api/v1/integration/connectors/{id}", Kind::Connector),
    ("/api/v1/integration/connectors/{id}/test-connection", Kind::Connector),
    ("/api/v1/integration/connectors/{id}/webhook-receivers", Kind::Connector),
    ("/api/v1/integration/field-mappings/{id}", Kind::FieldMapping),
    ("/api/v1/integration/field-mappings/{id}/preview", Kind::FieldMapping),
    ("/api/v1/integration/records/{entity_type}/{external_id}", Kind::Record),
    ("/api/v1/integration/sync-configurations/{id}", Kind::SyncConfiguration),
    ("/api/v1/integration/sync-configurations/{id}/execute", Kind::SyncConfiguration),
    ("/api/v1/integration/sync-histories/{id}", Kind::SyncHistory),
    ("/api/v1/integration/sync-histories/{id}/cancel", Kind::SyncHistory),
    ("/api/v1/integration/sync-histories/{id}/errors", Kind::SyncHistory),
    ("/api/v1/integration/sync-histories/{id}/export", Kind::SyncHistory),
    ("/api/v1/integration/webhook-events/{id}", Kind::WebhookEvent),
    ("/api/v1/integration/webhook-events/{id}/payload", Kind::WebhookEvent),
    ("/api/v1/integration/webhook-events/{id}/replay", Kind::WebhookEvent),
    ("/api/v1/integration/webhook-receivers/{id}", Kind::Receiver),
    ("/api/v1/integration/webhook-receivers/{id}/rotate-secret", Kind::Receiver),
    ("/api/v1/tokens/{id}", Kind::Token),
    // A bearer token has no sessions or tokens of its own: 404 for any id.
    ("/api/v1/me/sessions/{id}", Kind::Token),
    ("/api/v1/me/tokens/{id}", Kind::Token),
    ("/api/v1/service-accounts/{id}", Kind::ServiceAccount),
    ("/api/v1/users/{id}", Kind::User),
];

/// Lists that answer 422 without a filter: called only with their id
/// filters (A's id must answer exactly as an unknown id: 404).
const NEEDS_FILTER: &[&str] = &["/api/v1/integration/sync-status"];

/// `…_id` query parameters that hold no Weir object id: the sender's own
/// event id is a search term (another tenant searching A's finds nothing:
/// `tests/api/event_search.rs`).
const NOT_OBJECT_IDS: &[&str] = &["provider_event_id"];

/// The live stream never ends; it is read with a deadline instead (below;
/// `tests/api/live.rs` checks the other event kinds one by one).
const STREAM: &str = "/api/v1/integration/stream";

/// Query parameters that name an object, and the kind of A's object to try.
/// A list with another `…_id` parameter fails the test until it is added.
const ID_FILTERS: &[(&str, Kind)] = &[
    ("connector_id", Kind::Connector),
    ("receiver_id", Kind::Receiver),
    ("sync_configuration_id", Kind::SyncConfiguration),
];

/// Values for a template's parameters, by name.
type Binding = Vec<(&'static str, String)>;

/// Fast retries and polling, a known master key, no scheduler.
fn settings() -> Settings {
    Settings {
        retry_backoff: Some("40ms,40ms".into()),
        worker_poll_ms: Some("20".into()),
        sync_retry_backoff: Some("20ms,20ms".into()),
        scheduler_interval_ms: Some("0".into()),
        master_key: Some(MASTER_KEY.into()),
        ..Settings::default()
    }
}

/// A plausible body for each templated operation that takes one, so that
/// a body check cannot answer before the tenant check does. An operation
/// with a request body missing here fails the test.
fn body_for(method: &Method, template: &str) -> Option<Value> {
    if method.as_str() == "PATCH" && matches!(template, "/api/v1/users/{id}" | "/api/v1/service-accounts/{id}") {
        return Some(json!({"name": "Taken over by B", "role": "viewer"}));
    }
    let path = template.strip_prefix(INTEGRATION)?;
    Some(match (method.as_str(), path) {
        ("PATCH", "/connectors/{id}") => json!({"name": "Taken over by B"}),
        ("POST", "/connectors/{id}/webhook-receivers") => {
            json!({"event_type": "*", "auth": {"method": "bearer"}})
        }
        ("PATCH", "/webhook-receivers/{id}") => json!({"is_active": false}),
        ("POST", "/webhook-receivers/{id}/rotate-secret") => json!({"expire_old": true}),
        ("PATCH", "/field-mappings/{id}") => json!({
            "name": "taken-over", "entity_type": "customer", "key": "external_id",
            "rules": [{"source": "id", "target": "external_id", "required": true}]
        }),
        ("POST", "/field-mappings/{id}/preview") => json!({"sample": {"id": "probe"}}),
        ("PATCH", "/sync-configurations/{id}") => json!({"name": "Taken over by B"}),
        ("POST", "/change-requests/{id}/approve" | "/change-requests/{id}/reject") => {
            json!({"note": "decided by B"})
        }
        _ => return None,
    })
}

/// One operation of the document.
struct Op {
    method: Method,
    template: String,
    has_body: bool,
    query: BTreeSet<String>,
}

/// Every operation in the document's `paths`.
fn operations(doc: &Value) -> Vec<Op> {
    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    let mut ops = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("the document has paths") {
        let shared = item.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
        for (key, op) in item.as_object().expect("a path item is an object") {
            if !METHODS.contains(&key.as_str()) {
                continue;
            }
            let own = op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
            let query = shared
                .iter()
                .chain(&own)
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect();
            ops.push(Op {
                method: Method::from_bytes(key.to_ascii_uppercase().as_bytes()).expect("method"),
                template: template.clone(),
                has_body: op.get("requestBody").is_some(),
                query,
            });
        }
    }
    ops
}

/// Query strings to try: `per_page=100` when the operation pages, and once
/// per export format when it has `format`.
fn query_variants(op: &Op) -> Vec<String> {
    let mut base = if op.query.contains("per_page") { vec!["per_page=100".to_owned()] } else { vec![] };
    if op.query.contains("schedule") {
        // The schedule preview's required parameter (it reads no tenant data).
        base.push("schedule=0+3+*+*+*".to_owned());
    }
    let mut out = vec![base.clone()];
    if op.query.contains("format") {
        out = ["csv", "json"].iter().map(|f| [base.clone(), vec![format!("format={f}")]].concat()).collect();
    }
    out.into_iter().map(|q| q.join("&")).collect()
}

fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") }
}

fn fill(template: &str, binding: &Binding) -> String {
    binding.iter().fold(template.to_owned(), |p, (name, value)| p.replace(&format!("{{{name}}}"), value))
}

/// The same parameters naming nothing: fresh ids, an unknown external id.
fn unknown(binding: &Binding) -> Binding {
    binding
        .iter()
        .map(|(name, value)| match *name {
            "external_id" => (*name, "no-such-record".to_owned()),
            "entity_type" => (*name, value.clone()),
            _ => (*name, new_id()),
        })
        .collect()
}

fn method_rank(m: &Method) -> u8 {
    match *m {
        Method::GET | Method::HEAD => 0,
        Method::PATCH | Method::PUT => 2,
        Method::DELETE => 3,
        _ => 1,
    }
}

/// An answer kept as text (exports are CSV).
struct Answer {
    status: StatusCode,
    content_type: String,
    text: String,
}

impl Answer {
    fn summary(&self) -> String {
        format!("{} {} {}", self.status, self.content_type, self.text.chars().take(400).collect::<String>())
    }
}

async fn probe(app: &TestApp, token: &str, method: &Method, path: &str, body: Option<&Value>) -> Answer {
    let mut r = app.req(method.clone(), path, Some(token));
    if let Some(b) = body {
        r = r.json(b);
    }
    let res = r.send().await.expect("request");
    let status = res.status();
    let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text = res.text().await.expect("body");
    Answer { status, content_type, text }
}

/// `text` with every value in `values` replaced by `<id>`.
fn mask(text: &str, values: &[&str]) -> String {
    values.iter().filter(|v| !v.is_empty()).fold(text.to_owned(), |t, v| t.replace(v, "<id>"))
}

/// Compares B's answer for A's value(s) with its answer for unknown ones.
fn same_as_unknown(ours: &Answer, control: &Answer, sent: &[&str], unknown_sent: &[&str]) -> bool {
    ours.status == control.status
        && ours.content_type == control.content_type
        && mask(&ours.text, sent) == mask(&control.text, unknown_sent)
}

/// The needles of A found in `text`, except the values B sent itself.
fn leaked<'a>(text: &str, needles: &'a [String], sent: &[&str]) -> Vec<&'a str> {
    needles.iter().map(String::as_str).filter(|n| !sent.contains(n) && text.contains(*n)).collect()
}

/// Status and body for the snapshot. Two exclusions:
/// - `last_used_at` of tokens (in `GET /api/v1/tokens`). The snapshots
///   themselves authenticate with A's admin token, which may write it (at
///   most once a minute) — A's activity, not B's. B never authenticates as
///   A, so it cannot move it, and the rest of every token (name, role,
///   `revoked_at`) is compared.
/// - `signed_at` and `signature` of the audit head: each read signs the
///   head anew; its `seq` and `hash` (the chain's state) are compared.
fn normalized(a: &Answer) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("last_used_at");
                if m.contains_key("public_key") {
                    m.remove("signed_at");
                    m.remove("signature");
                }
                m.values_mut().for_each(strip);
            }
            Value::Array(xs) => xs.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let body = match serde_json::from_str::<Value>(&a.text) {
        Ok(mut v) => {
            strip(&mut v);
            v
        }
        Err(_) => Value::String(a.text.clone()),
    };
    json!({"status": a.status.as_u16(), "body": body})
}

/// A's reads, path → normalized answer, with A's token.
async fn snapshot(app: &TestApp, token: &str, paths: &BTreeSet<String>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for p in paths {
        let a = probe(app, token, &Method::GET, p, None).await;
        out.insert(p.clone(), normalized(&a));
    }
    out
}

async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, v) = app.call(Method::POST, path, Some(token), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "POST {path}: {v}");
    v["data"].clone()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

/// A signed (Standard Webhooks) delivery to a receiver; answers the event id.
async fn deliver(app: &TestApp, receiver: &Value, secret: &str, msg_id: &str, body: Value) -> String {
    let body = serde_json::to_vec(&body).unwrap();
    let auth = ReceiverAuth::parse(&receiver["auth"]).unwrap();
    let key = key_material(auth.method(), secret).unwrap();
    let mut req =
        app.client.post(app.url(receiver["receiver_url"].as_str().unwrap())).header("content-type", "application/json");
    for (k, v) in sign_headers(&auth, &key, msg_id, chrono::Utc::now().timestamp(), &body) {
        req = req.header(k, v);
    }
    let (s, r) = crate::helpers::send(req.body(body)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    r["data"]["event_id"].as_str().unwrap().to_owned()
}

/// Polls `path` until `done` holds for its `data` (bounded: 15 s).
async fn wait_for(app: &TestApp, token: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..300 {
        let (s, v) = app.call(Method::GET, path, Some(token), None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        if done(&v["data"]) {
            return v["data"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never got there");
}

async fn processed(app: &TestApp, token: &str, event_id: &str) -> Value {
    wait_for(app, token, &format!("{INTEGRATION}/webhook-events/{event_id}"), |d| {
        matches!(d["processing_status"].as_str(), Some("completed" | "failed"))
    })
    .await
}

/// Tenant A with one of everything.
struct Alpha {
    admin: String,
    objects: BTreeMap<Kind, Vec<Binding>>,
    /// Everything of A that must never appear in an answer to B.
    needles: Vec<String>,
    /// Kept alive for the run (and its address is a needle).
    _partner: MockServer,
}

impl Alpha {
    fn ids(&self, kind: Kind) -> Vec<String> {
        self.objects[&kind].iter().map(|b| b[0].1.clone()).collect()
    }
}

async fn alpha(app: &TestApp) -> Alpha {
    let tenant_id = app.tenant("alpha").await;
    let (admin_id, admin) = app.token(&tenant_id, "admin").await;
    let (viewer_id, viewer) = app.token(&tenant_id, "viewer").await;
    let mut needles = vec![tenant_id, admin_id, admin.clone(), viewer_id.clone(), viewer];

    // A token issued through the tenant API.
    let t = created(app, &admin, "/api/v1/tokens", json!({"name": "alpha automation", "role": "operator"})).await;
    let api_token_id = id(&t);
    needles.extend([api_token_id.clone(), t["token"].as_str().unwrap().to_owned()]);
    // A person, invited.
    let invited =
        created(app, &admin, "/api/v1/users", json!({"email": "ua@alpha.test", "name": "Una Alpha", "role": "viewer"}))
            .await;
    let user_id = id(&invited);
    let account =
        created(app, &admin, "/api/v1/service-accounts", json!({"name": "alpha robot", "role": "viewer"})).await;
    let account_id = id(&account);
    needles.extend([account_id.clone(), "alpha robot".to_owned()]);
    needles.extend([user_id.clone(), "ua@alpha.test".to_owned(), "Una Alpha".to_owned()]);

    // The partner: two customers, one without a key (a per-record error).
    let partner = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/customers"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!([{"id": "alpha-pull-1", "email": "P1@ALPHA.TEST"}, {"email": "no-key@alpha.test"}]),
            ),
        )
        .mount(&partner)
        .await;
    needles.push(partner.uri().trim_start_matches("http://").to_owned());

    let c = format!("{INTEGRATION}/connectors");
    let http_config = json!({"base_url": partner.uri(), "auth": {"type": "bearer"}, "timeout_ms": 2000});
    let http = created(
        app,
        &admin,
        &c,
        json!({"code": "alpha-crm", "name": "Alpha CRM", "type": "http", "environment": "production",
               "config": http_config, "credentials": {"token": "alpha-secret-credential"}}),
    )
    .await;
    let hooks = created(
        app,
        &admin,
        &c,
        json!({"code": "alpha-hooks", "name": "Alpha hooks", "type": "webhook", "environment": "development"}),
    )
    .await;
    let (http_id, hooks_id) = (id(&http), id(&hooks));
    let receiver = created(
        app,
        &admin,
        &format!("{c}/{hooks_id}/webhook-receivers"),
        json!({"event_type": "*", "auth": {"method": "standard_webhooks"}}),
    )
    .await;
    let secret = receiver["secret"].as_str().unwrap().to_owned();
    let mapping = created(
        app,
        &admin,
        &format!("{INTEGRATION}/field-mappings"),
        json!({"name": "alpha-customers", "entity_type": A_ENTITY, "key": "external_id", "rules": [
            {"source": "id", "target": "external_id", "required": true, "transforms": [{"op": "to_string"}]},
            {"source": "email", "target": "email", "transforms": [{"op": "lowercase"}]}
        ]}),
    )
    .await;
    let syncs = format!("{INTEGRATION}/sync-configurations");
    let routed = created(
        app,
        &admin,
        &syncs,
        json!({"connector_id": hooks_id, "name": "alpha webhooks in", "direction": "inbound",
               "entity_type": A_ENTITY, "field_mapping_id": id(&mapping), "trigger": "webhook", "event_types": ["*"]}),
    )
    .await;
    let manual = created(
        app,
        &admin,
        &syncs,
        json!({"connector_id": http_id, "name": "alpha pull", "direction": "inbound", "entity_type": A_ENTITY,
               "field_mapping_id": id(&mapping), "trigger": "manual", "source": {"path": "/customers"}}),
    )
    .await;

    // Two deliveries: one becomes a record, one fails (no key).
    let ok = deliver(
        app,
        &receiver,
        &secret,
        "alpha-msg-1",
        json!({"type": "customer.created", "id": "alpha-rec-1", "email": "Ann@Alpha.test"}),
    )
    .await;
    let bad =
        deliver(app, &receiver, &secret, "alpha-msg-2", json!({"type": "customer.created", "email": "x@alpha.test"}))
            .await;
    assert_eq!(processed(app, &admin, &ok).await["processing_status"], "completed");
    assert_eq!(processed(app, &admin, &bad).await["processing_status"], "failed");

    // A manual run: one record written, one per-record error.
    let (s, run) = app.call(Method::POST, &format!("{syncs}/{}/execute", id(&manual)), Some(&admin), None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{run}");
    let run_id = run["data"]["sync_history_id"].as_str().unwrap().to_owned();
    let run = wait_for(app, &admin, &format!("{INTEGRATION}/sync-histories/{run_id}"), |d| {
        !matches!(d["status"].as_str(), Some("queued" | "running"))
    })
    .await;
    assert_eq!((run["status"].as_str(), run["records_failed"].as_i64()), (Some("partial"), Some(1)), "{run}");
    let (_, errors) =
        app.call(Method::GET, &format!("{INTEGRATION}/sync-histories/{run_id}/errors"), Some(&admin), None).await;
    needles.extend(errors["data"].as_array().unwrap().iter().map(id));

    // A production connector's config change is held as a change request.
    let (s, held) = app
        .call(
            Method::PATCH,
            &format!("{c}/{http_id}"),
            Some(&admin),
            Some(json!({"config": {"base_url": partner.uri(), "auth": {"type": "bearer"}, "timeout_ms": 3000}})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{held}");
    let change_request_id = held["data"]["change_request"]["id"].as_str().unwrap().to_owned();

    // The audit trail all of this wrote: its ids and hashes are A's too.
    let (_, audit) = app.call(Method::GET, &format!("{INTEGRATION}/audit-logs?per_page=100"), Some(&admin), None).await;
    let entries = audit["data"].as_array().unwrap();
    assert!(entries.len() > 10, "{audit}");
    for e in entries {
        needles.push(id(e));
        needles.push(e["entry_hash"].as_str().unwrap().to_owned());
    }

    let one = |v: &str| vec![("id", v.to_owned())];
    let objects = BTreeMap::from([
        (Kind::Connector, vec![one(&http_id), one(&hooks_id)]),
        (Kind::Receiver, vec![one(&id(&receiver))]),
        (Kind::FieldMapping, vec![one(&id(&mapping))]),
        (Kind::SyncConfiguration, vec![one(&id(&routed)), one(&id(&manual))]),
        (Kind::WebhookEvent, vec![one(&ok), one(&bad)]),
        (
            Kind::Record,
            ["alpha-rec-1", "alpha-pull-1"]
                .iter()
                .map(|x| vec![("entity_type", A_ENTITY.to_owned()), ("external_id", (*x).to_owned())])
                .collect(),
        ),
        (Kind::SyncHistory, vec![one(&run_id)]),
        (Kind::ChangeRequest, vec![one(&change_request_id)]),
        // Not A's admin token: the snapshots read with it.
        (Kind::Token, vec![one(&api_token_id), one(&viewer_id)]),
        (Kind::User, vec![one(&user_id)]),
        (Kind::ServiceAccount, vec![one(&account_id)]),
    ]);
    for bindings in objects.values() {
        needles.extend(bindings.iter().flat_map(|b| b.iter().map(|(_, v)| v.clone())));
    }
    needles.extend(
        [
            "alpha-secret-credential",
            "alpha-crm",
            "alpha-hooks",
            "Alpha CRM",
            "alpha-customers",
            "alpha pull",
            "alpha-msg-1",
            "ann@alpha.test",
            "p1@alpha.test",
        ]
        .map(str::to_owned),
    );
    needles.extend([secret, receiver["key"].as_str().unwrap().to_owned()]);
    needles.sort();
    needles.dedup();
    Alpha { admin, objects, needles, _partner: partner }
}

/// Tenant B: a webhook pipeline of its own, so its lists are not empty.
struct Bravo {
    admin: String,
    receiver: Value,
    secret: String,
    config_id: String,
}

async fn bravo(app: &TestApp) -> Bravo {
    let tenant_id = app.tenant("bravo").await;
    let (_, admin) = app.token(&tenant_id, "admin").await;
    let c = created(
        app,
        &admin,
        &format!("{INTEGRATION}/connectors"),
        json!({"code": "bravo-shop", "name": "Bravo shop", "type": "webhook", "environment": "development"}),
    )
    .await;
    let receiver = created(
        app,
        &admin,
        &format!("{INTEGRATION}/connectors/{}/webhook-receivers", id(&c)),
        json!({"event_type": "*", "auth": {"method": "standard_webhooks"}}),
    )
    .await;
    let m = created(
        app,
        &admin,
        &format!("{INTEGRATION}/field-mappings"),
        json!({"name": "bravo-customers", "entity_type": "customer", "key": "external_id",
               "rules": [{"source": "id", "target": "external_id", "required": true}]}),
    )
    .await;
    let config = created(
        app,
        &admin,
        &format!("{INTEGRATION}/sync-configurations"),
        json!({"connector_id": id(&c), "name": "bravo in", "direction": "inbound", "entity_type": "customer",
               "field_mapping_id": id(&m), "trigger": "webhook", "event_types": ["*"]}),
    )
    .await;
    let secret = receiver["secret"].as_str().unwrap().to_owned();
    let e = deliver(app, &receiver, &secret, "bravo-msg-1", json!({"type": "customer.created", "id": "bravo-1"})).await;
    assert_eq!(processed(app, &admin, &e).await["processing_status"], "completed");
    Bravo { admin, receiver, secret, config_id: id(&config) }
}

/// One call of the matrix: A's path and the same path naming nothing.
struct Call {
    method: Method,
    template: String,
    path: String,
    unknown_path: String,
    sent: Vec<String>,
    unknown_sent: Vec<String>,
    body: Option<Value>,
}

/// A list call; with a filter, the same list filtered by an unknown id.
struct ListCall {
    path: String,
    filter: Option<(String, String, String)>,
}

async fn tenant_b_reaches_nothing_of_tenant_a(b: Backend) {
    let started = Instant::now();
    let Some(app) = TestApp::spawn_with(b, settings()).await else { return };
    let mut problems: Vec<String> = Vec::new();

    // B first, with its live stream open before A exists (its own client:
    // the suite's client has a 30 s total timeout).
    let bravo = bravo(&app).await;
    let mut stream =
        reqwest::Client::new().get(app.url(STREAM)).bearer_auth(&bravo.admin).send().await.expect("stream");
    assert_eq!(stream.status(), StatusCode::OK);
    let alpha = alpha(&app).await;

    // The document the server serves.
    let (s, doc) = app.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let ops = operations(&doc);
    let in_scope = |t: &str| {
        t.starts_with(&format!("{INTEGRATION}/"))
            || t == "/api/v1/tokens"
            || t.starts_with("/api/v1/tokens/")
            || t == "/api/v1/users"
            || t.starts_with("/api/v1/users/")
            || t == "/api/v1/service-accounts"
            || t.starts_with("/api/v1/service-accounts/")
    };

    // The table matches the document both ways.
    let templated: BTreeSet<&str> = ops
        .iter()
        .map(|o| o.template.as_str())
        .filter(|t| t.contains('{') && !t.starts_with(SYSTEM_PREFIX) && *t != RECEIVE && *t != INVITE)
        .filter(|t| !SSO_PUBLIC.contains(t))
        .collect();
    for t in &templated {
        if !TEMPLATES.iter().any(|(k, _)| k == t) {
            problems.push(format!(
                "{t}: a templated path the isolation matrix does not know; add it to TEMPLATES in tests/api/isolation.rs"
            ));
        }
    }
    for (t, _) in TEMPLATES {
        if !templated.contains(t) {
            problems.push(format!("{t}: in TEMPLATES but no longer in the OpenAPI document; remove the row"));
        }
    }

    // The matrix: every operation × every A object of its kind × query variants.
    let mut calls = Vec::new();
    let mut matrix_ops = 0;
    for op in ops.iter().filter(|o| templated.contains(o.template.as_str())) {
        let Some((_, kind)) = TEMPLATES.iter().find(|(t, _)| *t == op.template) else { continue };
        let body = match (op.has_body, body_for(&op.method, &op.template)) {
            (false, _) => None,
            (true, Some(b)) => Some(b),
            (true, None) => {
                problems.push(format!(
                    "{} {}: takes a body; add a plausible one to body_for in tests/api/isolation.rs",
                    op.method, op.template
                ));
                continue;
            }
        };
        matrix_ops += 1;
        for binding in &alpha.objects[kind] {
            let path = fill(&op.template, binding);
            let other = unknown(binding);
            let unknown_path = fill(&op.template, &other);
            if path.contains('{') {
                problems.push(format!("{}: a parameter that {kind:?} does not fill ({path})", op.template));
                continue;
            }
            for q in query_variants(op) {
                calls.push(Call {
                    method: op.method.clone(),
                    template: op.template.clone(),
                    path: with_query(&path, &q),
                    unknown_path: with_query(&unknown_path, &q),
                    sent: binding.iter().map(|(_, v)| v.clone()).collect(),
                    unknown_sent: other.iter().map(|(_, v)| v.clone()).collect(),
                    body: body.clone(),
                });
            }
        }
    }
    // Reads first, deletions last: a leaking DELETE must not hide the rest.
    calls.sort_by_key(|c| method_rank(&c.method));
    if calls.len() < 40 {
        problems
            .push(format!("the matrix is suspiciously small ({} calls): is the document parsed right?", calls.len()));
    }

    // Lists: GETs without a path parameter, plain and with each id filter.
    let mut lists = Vec::new();
    for op in ops.iter().filter(|o| o.method == Method::GET && !o.template.contains('{') && in_scope(&o.template)) {
        if op.template == STREAM {
            continue;
        }
        let variants = query_variants(op);
        if !NEEDS_FILTER.contains(&op.template.as_str()) {
            lists.extend(variants.iter().map(|q| ListCall { path: with_query(&op.template, q), filter: None }));
        }
        for param in op.query.iter().filter(|p| p.ends_with("_id") && !NOT_OBJECT_IDS.contains(&p.as_str())) {
            let Some((_, kind)) = ID_FILTERS.iter().find(|(p, _)| p == param) else {
                problems.push(format!(
                    "GET {}?{param}=: an id filter ID_FILTERS in tests/api/isolation.rs does not know",
                    op.template
                ));
                continue;
            };
            for a_id in alpha.ids(*kind) {
                let other = new_id();
                let q = [variants[0].clone(), format!("{param}={a_id}")].join("&");
                let q = q.trim_start_matches('&');
                lists.push(ListCall {
                    path: with_query(&op.template, q),
                    filter: Some((a_id.clone(), other.clone(), with_query(&op.template, &q.replace(&a_id, &other)))),
                });
            }
        }
    }

    // A's state before: every GET of the matrix and every list, with A's
    // token. Each must answer 200 — else the table names the wrong objects
    // and B's 404s would prove nothing.
    let mut reads: BTreeSet<String> =
        calls.iter().filter(|c| c.method == Method::GET).map(|c| c.path.clone()).collect();
    reads.extend(lists.iter().map(|l| l.path.clone()));
    let before = snapshot(&app, &alpha.admin, &reads).await;
    for (p, v) in &before {
        assert_eq!(v["status"], 200, "A's own GET {p} must answer 200 (check TEMPLATES): {v}");
    }

    // The matrix, with B's admin token.
    for c in &calls {
        let ours = probe(&app, &bravo.admin, &c.method, &c.path, c.body.as_ref()).await;
        let control = probe(&app, &bravo.admin, &c.method, &c.unknown_path, c.body.as_ref()).await;
        let sent: Vec<&str> = c.sent.iter().map(String::as_str).collect();
        let unknown_sent: Vec<&str> = c.unknown_sent.iter().map(String::as_str).collect();
        if ours.status != StatusCode::NOT_FOUND || !ours.content_type.starts_with("application/problem+json") {
            problems.push(format!("{} {} ({}) by tenant B: {}", c.method, c.path, c.template, ours.summary()));
        } else if !same_as_unknown(&ours, &control, &sent, &unknown_sent) {
            problems.push(format!(
                "{} {} by tenant B: differs from an unknown id's answer: {} vs {}",
                c.method,
                c.path,
                ours.summary(),
                control.summary()
            ));
        }
        let found = leaked(&ours.text, &alpha.needles, &sent);
        if !found.is_empty() {
            problems.push(format!("{} {} by tenant B shows A's {found:?}", c.method, c.path));
        }
    }

    // Every list and export, with B's token.
    for l in &lists {
        let ours = probe(&app, &bravo.admin, &Method::GET, &l.path, None).await;
        let sent: Vec<&str> = l.filter.iter().map(|(a, _, _)| a.as_str()).collect();
        match &l.filter {
            None if ours.status != StatusCode::OK => problems.push(format!(
                "GET {} by tenant B: {} (a list that needs parameters? add it to NEEDS_FILTER)",
                l.path,
                ours.summary()
            )),
            None => {}
            Some((a_id, other, unknown_path)) => {
                let control = probe(&app, &bravo.admin, &Method::GET, unknown_path, None).await;
                if !same_as_unknown(&ours, &control, &[a_id.as_str()], &[other.as_str()]) {
                    problems.push(format!(
                        "GET {} by tenant B: differs from an unknown id's answer: {} vs {}",
                        l.path,
                        ours.summary(),
                        control.summary()
                    ));
                }
            }
        }
        let found = leaked(&ours.text, &alpha.needles, &sent);
        if !found.is_empty() {
            problems.push(format!("GET {} by tenant B shows A's {found:?}", l.path));
        }
    }

    // Bodies that name A's objects behave as if they named nothing (these
    // are not in the generated matrix: a body's references are not in the
    // document's path templates).
    let syncs = format!("{INTEGRATION}/sync-configurations");
    let replay = format!("{INTEGRATION}/webhook-events/replay");
    let (a_http, a_hooks) = (alpha.ids(Kind::Connector)[0].clone(), alpha.ids(Kind::Connector)[1].clone());
    let a_mapping = alpha.ids(Kind::FieldMapping)[0].clone();
    let a_receiver = alpha.ids(Kind::Receiver)[0].clone();
    let references = [
        (
            Method::POST,
            syncs.clone(),
            json!({"connector_id": a_http, "name": "on A's", "direction": "inbound", "entity_type": "customer",
                   "field_mapping_id": a_mapping, "trigger": "manual", "source": {"path": "/x"}}),
        ),
        (Method::PATCH, format!("{syncs}/{}", bravo.config_id), json!({"connector_id": a_hooks})),
        (Method::PATCH, format!("{syncs}/{}", bravo.config_id), json!({"field_mapping_id": a_mapping})),
        (Method::POST, replay.clone(), json!({"connector_id": a_hooks, "status": "completed"})),
        (Method::POST, replay.clone(), json!({"receiver_id": a_receiver})),
    ];
    for (m, p, body) in &references {
        let a_ids: Vec<String> = [&a_http, &a_hooks, &a_mapping, &a_receiver]
            .into_iter()
            .filter(|i| body.to_string().contains(*i))
            .cloned()
            .collect();
        let others: Vec<String> = a_ids.iter().map(|_| new_id()).collect();
        let mut control_text = body.to_string();
        for (a, o) in a_ids.iter().zip(&others) {
            control_text = control_text.replace(a, o);
        }
        let control_body: Value = serde_json::from_str(&control_text).unwrap();
        let ours = probe(&app, &bravo.admin, m, p, Some(body)).await;
        let control = probe(&app, &bravo.admin, m, p, Some(&control_body)).await;
        let sent: Vec<&str> = a_ids.iter().map(String::as_str).collect();
        let unknown_sent: Vec<&str> = others.iter().map(String::as_str).collect();
        let expected_ok = p == &replay;
        if ours.status.is_success() != expected_ok || !same_as_unknown(&ours, &control, &sent, &unknown_sent) {
            problems.push(format!(
                "{m} {p} {body} by tenant B: {} (with unknown ids: {})",
                ours.summary(),
                control.summary()
            ));
        }
        let found = leaked(&ours.text, &alpha.needles, &sent);
        if !found.is_empty() {
            problems.push(format!("{m} {p} by tenant B shows A's {found:?}"));
        }
    }

    // B's live stream: a delivery of B's own now, read until it was
    // processed (bounded). Everything A's setup published came before it
    // on the same bus, so the text read holds all of that too.
    let late = deliver(
        &app,
        &bravo.receiver,
        &bravo.secret,
        "bravo-msg-2",
        json!({"type": "customer.created", "id": "bravo-2"}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut seen = String::new();
    while seen.matches(&late).count() < 2 {
        let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, stream.chunk()).await else { break };
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(stream);
    if !(seen.contains("event.received") && seen.contains("event.processed") && seen.contains(&late)) {
        problems.push(format!("B's stream did not carry B's own delivery (the check proves nothing): {seen:?}"));
    }
    let found = leaked(&seen, &alpha.needles, &[]);
    if !found.is_empty() {
        problems.push(format!("B's live stream shows A's {found:?}"));
    }

    // Nothing of A changed.
    let after = snapshot(&app, &alpha.admin, &reads).await;
    for (p, v) in &before {
        if after.get(p) != Some(v) {
            let show = |v: Option<&Value>| v.map(|v| v.to_string().chars().take(600).collect::<String>());
            problems.push(format!("A's GET {p} changed: before {:?}, after {:?}", show(Some(v)), show(after.get(p))));
        }
    }

    eprintln!(
        "isolation on {b:?}: {} templated paths, {matrix_ops} operations, {} calls by B with A's ids \
         (each also with unknown ids), {} list calls, {} references, {} of A's reads compared, {} needles; {:.1?}",
        templated.len(),
        calls.len(),
        lists.len(),
        references.len(),
        before.len(),
        alpha.needles.len(),
        started.elapsed()
    );
    assert!(problems.is_empty(), "tenant isolation: {} finding(s):\n- {}", problems.len(), problems.join("\n- "));
    app.stop().await;
}
