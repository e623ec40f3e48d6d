//! Whether a sync configuration may be written, decided from the request
//! and the facts about its references (gathered by the handler). Pure: no
//! database, no clock, no key; the handler seals the secret and computes the
//! next run time from what this returns.

use serde_json::Value;
use weir_core::sync::{self, DestinationSpec, MAX_EVENT_TYPES, Schedule, Supplied, check_shape};
use weir_core::tenant::parse_display_name;
use weir_core::webhook::{ReceiverMethod, key_material};
use weir_core::{ConnectorType, FieldErrors};
use weir_store::SyncConfigurationSpec;

use super::SyncConfigurationIn;

/// The field mapping a configuration names, as the caller's tenant has it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum MappingRef {
    /// The request names none.
    NotGiven,
    /// The id is not one of the tenant's mappings (or not an id).
    Missing,
    /// The tenant's mapping: the record type it maps to and its rules' targets.
    Found {
        /// Its `entity_type`.
        entity_type: String,
        /// The `target` of each of its rules.
        targets: Vec<String>,
    },
}

/// What the handler found about the configuration's references.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct References {
    /// The connector's type, when it is the caller's tenant's.
    pub connector_type: Option<ConnectorType>,
    /// The field mapping.
    pub mapping: MappingRef,
}

/// What to do about the destination's signing secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SecretPlan {
    /// Leave it as stored (none needed, or one is already there).
    Keep,
    /// Use the one the caller sent.
    Supplied(String),
    /// A delivery URL gets its first: make one.
    Generate,
}

/// A configuration that may be written: the spec (without its sealed
/// secret and next run time), its parsed schedule, and the secret plan.
#[derive(Debug)]
pub(super) struct Decided {
    /// What the store writes, but `destination_secret_sealed` and `next_run_at`.
    pub spec: SyncConfigurationSpec,
    /// The parsed cron schedule, if any.
    pub schedule: Option<Schedule>,
    /// The destination secret to seal, if any.
    pub secret: SecretPlan,
}

/// Applies every rule: names and types, event types, schedule, source,
/// destination, ordering field, the references (another tenant's id is "no
/// such …"), and which fields the direction × trigger × connector type
/// combination needs. All field errors at once, or the decided write.
pub(super) fn decide(
    body: SyncConfigurationIn,
    refs: &References,
    current_has_secret: bool,
) -> Result<Decided, FieldErrors> {
    let mut e = FieldErrors::new();
    let name = e.check("name", parse_display_name(&body.name, 200));
    if !sync::is_entity_type(&body.entity_type) {
        e.add("entity_type", "must be 1 to 100 of a-z, 0-9, '_', '.', '-'");
    }
    let event_types = event_types(&body.event_types, &mut e);
    let schedule = match body.schedule.as_deref() {
        Some(s) => e.check("schedule", Schedule::parse(s)), // not a state: the field name
        None => None,
    };
    if let Some(src) = &body.source {
        src.validate(&mut e);
    }
    let destination = body.destination.clone().map(|d| DestinationSpec {
        path: d.path,
        url: d.url,
        timeout_ms: d.timeout_ms.unwrap_or(sync::DEFAULT_DESTINATION_TIMEOUT_MS),
    });
    if let Some(d) = &destination {
        d.validate(body.trigger, &mut e);
    }
    if let Some(f) = &body.ordering_field
        && (f.is_empty() || f.len() > 100)
    {
        e.add("ordering_field", "must be 1 to 100 characters");
    }
    check_references(&body, refs, &mut e);
    if let Some(connector_type) = refs.connector_type {
        let has = Supplied {
            event_types: !event_types.is_empty(),
            source: body.source.is_some(),
            destination: destination.is_some(),
            schedule: body.schedule.is_some(),
            field_mapping: body.field_mapping_id.is_some(),
        };
        for (field, message) in check_shape(body.direction, body.trigger, connector_type, has) {
            e.add(field, message);
        }
    }
    let secret = secret_plan(&body, destination.as_ref(), current_has_secret, &mut e);
    e.into_result()?;
    let spec = SyncConfigurationSpec {
        connector_id: body.connector_id,
        name: name.unwrap_or_default(),
        direction: body.direction,
        entity_type: body.entity_type,
        field_mapping_id: body.field_mapping_id,
        trigger: body.trigger,
        event_types,
        schedule: schedule.as_ref().map(|s| s.as_str().to_owned()),
        next_run_at: None,
        source: body.source.map(|s| serde_json::to_value(s).unwrap_or(Value::Null)),
        destination: destination.map(|d| serde_json::to_value(d).unwrap_or(Value::Null)),
        destination_secret_sealed: None,
        ordering_field: body.ordering_field,
        is_active: body.is_active,
    };
    Ok(Decided { spec, schedule, secret })
}

/// Trimmed, de-duplicated event types (order kept).
fn event_types(given: &[String], e: &mut FieldErrors) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in given {
        let t = t.trim();
        if t.is_empty() || t.len() > 200 || t.chars().any(char::is_control) {
            e.add("event_types", "each must be 1 to 200 printable characters");
        } else if !out.iter().any(|x| x == t) {
            out.push(t.to_owned());
        }
    }
    if out.len() > MAX_EVENT_TYPES {
        e.add("event_types", format!("at most {MAX_EVENT_TYPES}"));
    }
    out
}

fn check_references(body: &SyncConfigurationIn, refs: &References, e: &mut FieldErrors) {
    if refs.connector_type.is_none() {
        e.add("connector_id", "no such connector");
    }
    match &refs.mapping {
        MappingRef::NotGiven => {}
        MappingRef::Missing => e.add("field_mapping_id", "no such field mapping"),
        MappingRef::Found { entity_type, targets } => {
            if *entity_type != body.entity_type {
                e.add("field_mapping_id", format!("maps to entity type `{entity_type}`, not `{}`", body.entity_type));
            }
            if let Some(f) = &body.ordering_field
                && !targets.contains(f)
            {
                e.add("ordering_field", "must be a target of the field mapping's rules");
            }
        }
    }
}

/// The destination's signing secret: the caller's, or a new one when a
/// delivery URL gets its first.
fn secret_plan(
    body: &SyncConfigurationIn,
    destination: Option<&DestinationSpec>,
    current_has_secret: bool,
    e: &mut FieldErrors,
) -> SecretPlan {
    let wants_secret = destination.is_some_and(|d| d.url.is_some());
    let supplied = body.destination.as_ref().and_then(|d| d.secret.clone());
    if let Some(s) = &supplied {
        if !wants_secret {
            e.add("destination.secret", "only a destination `url` is signed");
        } else if let Err(msg) = key_material(ReceiverMethod::StandardWebhooks, s) {
            e.add("destination.secret", msg);
        }
    }
    match (wants_secret, supplied) {
        (true, Some(s)) => SecretPlan::Supplied(s),
        (true, None) if !current_has_secret => SecretPlan::Generate,
        _ => SecretPlan::Keep,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(v: serde_json::Value) -> SyncConfigurationIn {
        serde_json::from_value(v).unwrap()
    }

    fn webhook_in() -> serde_json::Value {
        json!({"connector_id": "c", "name": "Orders", "direction": "inbound", "entity_type": "order",
               "field_mapping_id": "m", "trigger": "webhook", "event_types": [" order.created ", "order.created"]})
    }

    fn found(entity_type: &str, targets: &[&str]) -> References {
        References {
            connector_type: Some(ConnectorType::Webhook),
            mapping: MappingRef::Found {
                entity_type: entity_type.into(),
                targets: targets.iter().map(|t| t.to_string()).collect(),
            },
        }
    }

    #[test]
    fn a_valid_webhook_configuration_is_decided() {
        let d = decide(body(webhook_in()), &found("order", &["id"]), false).unwrap();
        assert_eq!(d.spec.event_types, ["order.created"], "trimmed and de-duplicated");
        assert_eq!(d.secret, SecretPlan::Keep, "no destination, no secret");
        assert!(d.schedule.is_none() && d.spec.next_run_at.is_none());
    }

    #[test]
    fn references_of_another_tenant_are_no_such() {
        let refs = References { connector_type: None, mapping: MappingRef::Missing };
        let err = decide(body(webhook_in()), &refs, false).unwrap_err();
        let m = err.as_map();
        assert_eq!(m["connector_id"], ["no such connector"]);
        assert_eq!(m["field_mapping_id"], ["no such field mapping"]);
    }

    #[test]
    fn the_mapping_must_fit_the_entity_type_and_ordering_field() {
        let mut v = webhook_in();
        v["ordering_field"] = json!("updated_at");
        let err = decide(body(v), &found("customer", &["id"]), false).unwrap_err();
        let m = err.as_map();
        assert_eq!(m["field_mapping_id"], ["maps to entity type `customer`, not `order`"]);
        assert_eq!(m["ordering_field"], ["must be a target of the field mapping's rules"]);
    }

    #[test]
    fn a_delivery_url_gets_a_secret_once() {
        let mut v = webhook_in();
        v["destination"] = json!({"url": "https://erp.example/in"});
        let refs = found("order", &["id"]);
        assert_eq!(decide(body(v.clone()), &refs, false).unwrap().secret, SecretPlan::Generate);
        assert_eq!(decide(body(v.clone()), &refs, true).unwrap().secret, SecretPlan::Keep);
        v["destination"]["secret"] = json!("not a standard webhooks secret");
        assert!(decide(body(v), &refs, false).unwrap_err().as_map().contains_key("destination.secret"));
    }

    #[test]
    fn the_shape_is_checked_against_the_connector_type() {
        let v = json!({"connector_id": "c", "name": "Pull", "direction": "inbound", "entity_type": "customer",
                       "field_mapping_id": "m", "trigger": "manual", "source": {"path": "/customers"}});
        let err = decide(body(v), &found("customer", &["id"]), false).unwrap_err();
        assert_eq!(err.as_map()["connector_id"], ["a webhook connector has no API to pull from or push to"]);
    }
}
