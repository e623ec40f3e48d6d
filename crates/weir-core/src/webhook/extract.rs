//! Which event a delivery is: its type (for `*` receivers) and the
//! provider's own id for it (for duplicate detection).

use serde_json::Value;
use sha2::Digest as _;

use super::Headers;
use super::auth::ReceiverMethod;

/// Longest event type or provider id kept; longer values are refused.
pub const MAX_ID_LEN: usize = 200;

fn clean(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty() && v.len() <= MAX_ID_LEN && !v.chars().any(char::is_control)).then(|| v.to_owned())
}

/// The provider's id of this delivery: `webhook-id`/`svix-id`,
/// `X-GitHub-Delivery`, `X-Shopify-Webhook-Id`, Stripe's body `id`, or a
/// generic `Idempotency-Key` header.
pub fn provider_event_id(method: ReceiverMethod, headers: &dyn Headers, body: &Value) -> Option<String> {
    // The method's own header first, then any of the others API.md lists.
    let own: &[&str] = match method {
        ReceiverMethod::Github => &["x-github-delivery"],
        ReceiverMethod::Shopify => &["x-shopify-webhook-id"],
        _ => &[],
    };
    let from_own = own.iter().find_map(|h| headers.get(h));
    let from_body = match method {
        ReceiverMethod::Stripe => body.get("id").and_then(Value::as_str),
        _ => None,
    };
    let from_any = ["webhook-id", "svix-id", "x-github-delivery", "x-shopify-webhook-id", "idempotency-key"]
        .iter()
        .find_map(|h| headers.get(h));
    let raw = from_own.or(from_body).or(from_any)?.trim();
    if raw.is_empty() {
        return None;
    }
    // An over-long or odd id still deduplicates: it is kept as its hash.
    clean(raw).or_else(|| Some(format!("sha256:{}", crate::hex::encode(&sha2::Sha256::digest(raw.as_bytes())))))
}

/// The event type: the receiver's own unless it is `*`, then the first of
/// the `webhook-event-type`, `X-GitHub-Event`, `X-Shopify-Topic`,
/// `X-Event-Type` headers, or the body's `type` or `event` string.
pub fn event_type_of(receiver_type: &str, headers: &dyn Headers, body: &Value) -> Option<String> {
    if receiver_type != "*" {
        return Some(receiver_type.to_owned());
    }
    ["webhook-event-type", "x-github-event", "x-shopify-topic", "x-event-type"]
        .iter()
        .find_map(|h| headers.get(h))
        .or_else(|| body.get("type").and_then(Value::as_str))
        .or_else(|| body.get("event").and_then(Value::as_str))
        .and_then(clean)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ids_and_types_by_provider() {
        let h = [("Webhook-Id", "msg_1"), ("X-GitHub-Delivery", "gh-1"), ("Idempotency-Key", "idem-9")];
        assert_eq!(provider_event_id(ReceiverMethod::StandardWebhooks, &h, &json!({})).as_deref(), Some("msg_1"));
        assert_eq!(provider_event_id(ReceiverMethod::Github, &h, &json!({})).as_deref(), Some("gh-1"));
        assert_eq!(provider_event_id(ReceiverMethod::Stripe, &h, &json!({"id": "evt_1"})).as_deref(), Some("evt_1"));
        assert_eq!(provider_event_id(ReceiverMethod::Bearer, &h, &json!({})).as_deref(), Some("msg_1"));
        let only_idem = [("Idempotency-Key", "idem-9")];
        assert_eq!(provider_event_id(ReceiverMethod::Bearer, &only_idem, &json!({})).as_deref(), Some("idem-9"));
        assert_eq!(provider_event_id(ReceiverMethod::Bearer, &[("x", "y")], &json!({})), None);
        // Listed headers count for any method; long ids are hashed, not dropped.
        assert_eq!(
            provider_event_id(ReceiverMethod::Bearer, &[("webhook-id", "w1")], &json!({})).as_deref(),
            Some("w1")
        );
        let long = "x".repeat(500);
        let hashed =
            provider_event_id(ReceiverMethod::Bearer, &[("idempotency-key", long.as_str())], &json!({})).unwrap();
        assert!(hashed.starts_with("sha256:") && hashed.len() == 71);
        assert_eq!(event_type_of("order.created", &h, &json!({"type": "x"})).as_deref(), Some("order.created"));
        assert_eq!(event_type_of("*", &[("X-GitHub-Event", "push")], &json!({})).as_deref(), Some("push"));
        assert_eq!(event_type_of("*", &[("a", "b")], &json!({"event": "paid"})).as_deref(), Some("paid"));
        assert_eq!(event_type_of("*", &[("a", "b")], &json!({"type": 5})), None);
    }
}

#[cfg(test)]
mod props {
    //! Extraction over any header text and any body: values come out
    //! trimmed, bounded and free of control characters (or hashed), the
    //! method's own header first.

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn method() -> impl Strategy<Value = ReceiverMethod> {
        prop_oneof![
            Just(ReceiverMethod::HmacSha256),
            Just(ReceiverMethod::StandardWebhooks),
            Just(ReceiverMethod::Github),
            Just(ReceiverMethod::Stripe),
            Just(ReceiverMethod::Shopify),
            Just(ReceiverMethod::Slack),
            Just(ReceiverMethod::Bearer),
            Just(ReceiverMethod::ApiKey),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn extracted_values_are_clean(
            m in method(),
            name in prop::sample::select(vec![
                "webhook-id", "svix-id", "x-github-delivery", "x-shopify-webhook-id", "idempotency-key",
                "webhook-event-type", "x-github-event", "x-shopify-topic", "x-event-type", "x-other",
            ]),
            value in "\\PC{0,8}|[ \t\r\u{0}\u{7f}a-z]{0,8}|x{190,260}",
            body_type in "\\PC{0,8}|[ \t\u{1}a-z]{0,8}",
        ) {
            let headers = [(name, value.as_str())];
            let body = json!({"type": body_type, "event": "fallback", "id": value});
            if let Some(t) = event_type_of("*", &headers, &body) {
                prop_assert!(!t.is_empty() && t.len() <= MAX_ID_LEN && t == t.trim());
                prop_assert!(!t.chars().any(char::is_control), "{:?}", t);
            }
            prop_assert_eq!(event_type_of("fixed.type", &headers, &body), Some("fixed.type".to_owned()));
            if let Some(id) = provider_event_id(m, &headers, &body) {
                let hashed = id.len() == 71 && id.starts_with("sha256:");
                let clean = !id.is_empty() && id.len() <= MAX_ID_LEN && id == id.trim() && !id.chars().any(char::is_control);
                prop_assert!(hashed || clean, "{:?}", id);
            }
        }
    }
}
