//! Delivering written records to the business system's HTTP endpoint,
//! signed with Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`) so the receiver can verify and deduplicate them.

use std::time::Duration;

use serde_json::{Value, json};
use weir_core::webhook::ReceiverAuth;
use weir_core::webhook::sign::sign_headers;
use weir_store::RecordEffect;

use super::plan::PlannedDelivery;
use crate::Outbound;

/// How a delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeliveryResult {
    /// 2xx.
    Delivered { status: u16 },
    /// Worth retrying: 5xx, 408, 429, a timeout or a connection failure.
    Transient { status: Option<u16>, error: String },
    /// Not worth retrying: any other 4xx, or a URL the policy refuses.
    Permanent { status: Option<u16>, error: String },
}

impl DeliveryResult {
    pub(crate) fn to_json(&self, d: &PlannedDelivery) -> Value {
        let (outcome, status, error) = match self {
            DeliveryResult::Delivered { status } => ("delivered", Some(*status), None),
            DeliveryResult::Transient { status, error } => ("retryable_error", *status, Some(error.as_str())),
            DeliveryResult::Permanent { status, error } => ("permanent_error", *status, Some(error.as_str())),
        };
        json!({
            "sync_configuration_id": d.sync_configuration_id,
            "host": d.destination.url.host_str(),
            "outcome": outcome, "status_code": status, "error": error,
        })
    }
}

/// The message id of a record's delivery: stable across retries and
/// replays of the same event, so the receiver can drop repeats.
pub(crate) fn message_id(event_id: &str, d: &PlannedDelivery) -> String {
    format!("msg_{event_id}_{}", d.sync_configuration_id)
}

/// Posts one record to its destination.
pub(crate) async fn deliver(
    outbound: &Outbound,
    event_id: &str,
    d: &PlannedDelivery,
    effect: Option<&RecordEffect>,
) -> DeliveryResult {
    if let Err(e) = outbound.guard(&d.destination.url).await {
        return DeliveryResult::Permanent { status: None, error: e.to_owned() };
    }
    let body = json!({
        "type": "record.upserted",
        "timestamp": chrono::Utc::now(),
        "data": {
            "entity_type": d.entity_type,
            "external_id": d.external_id,
            "version": effect.map(|e| e.version),
            "action": effect.map(|e| e.to_json()["action"].clone()),
            "record": d.data,
            "event_id": event_id,
            "sync_configuration_id": d.sync_configuration_id,
        },
    });
    let body = match serde_json::to_vec(&body) {
        Ok(b) => b,
        Err(e) => return DeliveryResult::Permanent { status: None, error: e.to_string() },
    };
    let id = message_id(event_id, d);
    let auth = ReceiverAuth::StandardWebhooks { public_key: None };
    let mut req = outbound
        .client()
        .post(d.destination.url.clone())
        .timeout(Duration::from_millis(d.destination.timeout_ms))
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    for (k, v) in sign_headers(&auth, &d.destination.key, &id, chrono::Utc::now().timestamp(), &body) {
        req = req.header(k, v);
    }
    match req.body(body).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            match status {
                200..=299 => DeliveryResult::Delivered { status },
                408 | 429 | 500..=599 => DeliveryResult::Transient {
                    status: Some(status),
                    error: format!("the destination answered {status}"),
                },
                _ => DeliveryResult::Permanent {
                    status: Some(status),
                    error: format!("the destination answered {status}"),
                },
            }
        }
        Err(e) if e.is_timeout() => DeliveryResult::Transient {
            status: None,
            error: format!("no answer within {} ms", d.destination.timeout_ms),
        },
        Err(e) if e.is_connect() => {
            DeliveryResult::Transient { status: None, error: "could not connect to the destination".to_owned() }
        }
        // Without the URL: its query may carry a token.
        Err(e) => DeliveryResult::Transient { status: None, error: format!("request failed: {}", e.without_url()) },
    }
}
