//! Deciding what an event means: which routes (webhook sync
//! configurations) take it, and the records its payload maps to. No IO.

use serde_json::{Value, json};
use weir_core::mapping::{Mapping, Rule};
use weir_core::sync::{event_type_matches, ordering_text};
use weir_core::webhook::{ReceiverMethod, key_material};
use weir_core::{EventErrorType, MasterKey, PlanOutcome};
use weir_store::{ClaimedEvent, PlannedRecord, RecordWrite, WebhookRoute};

/// A route ready to apply: its mapping parsed and its destination key opened.
#[derive(Debug)]
pub(crate) struct CompiledRoute {
    pub route: WebhookRoute,
    pub mapping: Result<Mapping, String>,
    pub destination: Option<Result<Destination, String>>,
}

/// Where and how to deliver a configuration's records.
#[derive(Clone)]
pub(crate) struct Destination {
    pub url: url::Url,
    pub timeout_ms: u64,
    /// Standard Webhooks key bytes.
    pub key: Vec<u8>,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destination").field("host", &self.url.host_str()).field("key", &"<redacted>").finish()
    }
}

impl CompiledRoute {
    pub(crate) fn compile(route: WebhookRoute, master_key: &MasterKey) -> Self {
        let mapping = serde_json::from_value::<Vec<Rule>>(route.rules.clone())
            .map_err(|e| e.to_string())
            .and_then(|rules| Mapping::parse(rules).map_err(|e| format!("{:?}", e.as_map())));
        let destination = route
            .destination
            .as_ref()
            .map(|d| open_destination(d, route.destination_secret_sealed.as_deref(), master_key));
        Self { route, mapping, destination }
    }
}

fn open_destination(d: &Value, sealed: Option<&[u8]>, master_key: &MasterKey) -> Result<Destination, String> {
    let url = d
        .get("url")
        .and_then(Value::as_str)
        .and_then(|u| url::Url::parse(u).ok())
        .ok_or("the destination has no valid url")?;
    let timeout_ms = d.get("timeout_ms").and_then(Value::as_u64).unwrap_or(10_000).clamp(100, 25_000);
    let sealed = sealed.ok_or("the destination has no signing secret")?;
    let secret = master_key.open(sealed).map_err(|_| "the destination secret cannot be opened with this master key")?;
    let secret = String::from_utf8(secret).map_err(|_| "the destination secret is not text")?;
    let key = key_material(ReceiverMethod::StandardWebhooks, &secret).map_err(str::to_owned)?;
    Ok(Destination { url, timeout_ms, key })
}

/// A record to deliver after it is written.
#[derive(Debug, Clone)]
pub(crate) struct PlannedDelivery {
    pub sync_configuration_id: String,
    pub destination: Destination,
    pub entity_type: String,
    pub external_id: String,
    pub data: Value,
}

/// What to do with one event.
#[derive(Debug)]
pub(crate) enum Plan {
    /// No route takes it: complete with this result.
    Ignore(Value),
    /// A permanent failure; nothing is written.
    Fail { error_type: EventErrorType, message: String, result: Option<Value> },
    /// Write these records, then deliver these.
    Write { records: Vec<PlannedRecord>, deliveries: Vec<PlannedDelivery> },
}

fn external_id_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() && s.len() <= 255 => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Maps `event` through every route that takes its type.
pub(crate) fn plan(event: &ClaimedEvent, routes: &[CompiledRoute]) -> Plan {
    let matching: Vec<&CompiledRoute> =
        routes.iter().filter(|r| event_type_matches(&r.route.event_types, &event.event_type)).collect();
    if matching.is_empty() {
        return Plan::Ignore(json!({
            "action": PlanOutcome::Ignored,
            "reason": format!(
                "no active webhook sync configuration of this connector takes event type `{}`",
                event.event_type
            ),
        }));
    }
    let Some(payload) = &event.payload else {
        return Plan::Fail {
            error_type: EventErrorType::Configuration,
            message: "the payload is past retention".to_owned(),
            result: None,
        };
    };
    let mut acc = Planned::default();
    for r in matching {
        acc.route(event, payload, r);
    }
    if !acc.failures.is_empty() {
        return acc.failed();
    }
    Plan::Write { records: acc.records, deliveries: acc.deliveries }
}

/// What the routes of one event planned so far.
#[derive(Default)]
struct Planned {
    records: Vec<PlannedRecord>,
    deliveries: Vec<PlannedDelivery>,
    /// `{sync_configuration_id, target, message}` for each error.
    failures: Vec<Value>,
    /// A stored configuration that cannot be used (not the payload's fault).
    broken_configuration: bool,
}

impl Planned {
    /// Maps `payload` through one route: its record (and delivery), or its errors.
    fn route(&mut self, event: &ClaimedEvent, payload: &Value, r: &CompiledRoute) {
        let config_id = &r.route.sync_configuration_id;
        let mapping = match &r.mapping {
            Ok(m) => m,
            Err(e) => {
                self.broken_configuration = true;
                self.failures.push(json!({"sync_configuration_id": config_id, "target": null, "message": format!("the stored mapping is invalid: {e}")}));
                return;
            }
        };
        let mapped = mapping.apply(payload);
        let mut errors: Vec<Value> = mapped
            .errors
            .iter()
            .map(|e| json!({"sync_configuration_id": config_id, "target": e.target, "message": e.message}))
            .collect();
        let external_id = external_id_of(mapped.output.get(&r.route.key));
        if external_id.is_none() && !mapped.errors.iter().any(|e| e.target == r.route.key) {
            errors.push(json!({
                "sync_configuration_id": config_id, "target": r.route.key,
                "message": "the record key is missing or not a string or number",
            }));
        }
        let destination = match &r.destination {
            Some(Err(e)) => {
                self.broken_configuration = true;
                errors.push(json!({"sync_configuration_id": config_id, "target": null, "message": e}));
                None
            }
            Some(Ok(d)) => Some(d.clone()),
            None => None,
        };
        if !errors.is_empty() {
            self.failures.extend(errors);
            return;
        }
        let Some(external_id) = external_id else { return };
        let ordering_value = r.route.ordering_field.as_ref().and_then(|f| mapped.output.get(f)).and_then(ordering_text);
        let data = Value::Object(mapped.output);
        if let Some(destination) = destination {
            self.deliveries.push(PlannedDelivery {
                sync_configuration_id: config_id.clone(),
                destination,
                entity_type: r.route.entity_type.clone(),
                external_id: external_id.clone(),
                data: data.clone(),
            });
        }
        self.records.push(PlannedRecord {
            sync_configuration_id: config_id.clone(),
            write: RecordWrite {
                entity_type: r.route.entity_type.clone(),
                external_id,
                data,
                source_connector_id: Some(event.connector_id.clone()),
                last_event_id: Some(event.id.clone()),
                ordering_value,
            },
        });
    }

    /// The event fails with every route's errors: a configuration error if
    /// any stored configuration was unusable, a mapping error otherwise.
    fn failed(self) -> Plan {
        let message = self
            .failures
            .iter()
            .map(|f| match f["target"].as_str() {
                Some(t) => format!("{t}: {}", f["message"].as_str().unwrap_or_default()),
                None => f["message"].as_str().unwrap_or_default().to_owned(),
            })
            .collect::<Vec<_>>()
            .join("; ");
        Plan::Fail {
            error_type: if self.broken_configuration { EventErrorType::Configuration } else { EventErrorType::Mapping },
            message,
            result: Some(json!({"action": PlanOutcome::Failed, "errors": self.failures})),
        }
    }
}
