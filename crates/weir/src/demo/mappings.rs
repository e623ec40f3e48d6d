//! The demo's field mappings: realistic payloads into ERP-shaped records.

use serde_json::{Value, json};

fn to_string() -> Value {
    json!([{"op": "to_string"}])
}

fn to_datetime() -> Value {
    json!([{"op": "to_datetime"}])
}

/// Shopify orders (`orders/create`, `orders/updated`, `orders/paid`).
pub(super) fn orders() -> Value {
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
pub(super) fn products() -> Value {
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
pub(super) fn payments() -> Value {
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
pub(super) fn shipments() -> Value {
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
pub(super) fn customers() -> Value {
    json!({"name": "CRM customers", "entity_type": "customer", "key": "external_id", "rules": [
        {"source": "customer_no", "target": "external_id", "transforms": to_string(), "required": true},
        {"source": "email", "target": "email", "transforms": [{"op": "trim"}, {"op": "lowercase"}]},
        {"source": "company", "target": "company"},
    ]})
}
