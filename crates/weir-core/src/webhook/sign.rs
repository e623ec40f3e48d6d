//! Signing deliveries the way each provider does: the other half of the
//! verifiers, for tests and `weir-loadgen`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::auth::{HmacEncoding, ReceiverAuth};

fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The headers a provider would send for `body`, signed with `key` (the
/// key material, see [`super::key_material`]; for `bearer`/`api_key` the
/// secret itself). `id` and `timestamp` are used where the scheme has them.
pub fn sign_headers(auth: &ReceiverAuth, key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Vec<(String, String)> {
    let ts = timestamp.to_string();
    let h = |k: &str, v: String| (k.to_owned(), v);
    match auth {
        ReceiverAuth::HmacSha256 { header, encoding, prefix, timestamp_header } => {
            let sig = match timestamp_header {
                Some(_) => mac(key, &[ts.as_bytes(), b".", body]),
                None => mac(key, &[body]),
            };
            let enc = match encoding {
                HmacEncoding::Hex => hex(&sig),
                HmacEncoding::Base64 => STANDARD.encode(sig),
            };
            let mut out = vec![h(header, format!("{prefix}{enc}"))];
            if let Some(th) = timestamp_header {
                out.push(h(th, ts));
            }
            out
        }
        ReceiverAuth::StandardWebhooks { .. } => {
            let sig = mac(key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
            vec![
                h("webhook-id", id.to_owned()),
                h("webhook-timestamp", ts),
                h("webhook-signature", format!("v1,{}", STANDARD.encode(sig))),
            ]
        }
        ReceiverAuth::Github => vec![
            h("x-hub-signature-256", format!("sha256={}", hex(&mac(key, &[body])))),
            h("x-github-delivery", id.to_owned()),
        ],
        ReceiverAuth::Stripe => {
            vec![h("stripe-signature", format!("t={ts},v1={}", hex(&mac(key, &[ts.as_bytes(), b".", body]))))]
        }
        ReceiverAuth::Shopify => vec![
            h("x-shopify-hmac-sha256", STANDARD.encode(mac(key, &[body]))),
            h("x-shopify-webhook-id", id.to_owned()),
        ],
        ReceiverAuth::Slack => vec![
            h("x-slack-signature", format!("v0={}", hex(&mac(key, &[b"v0:", ts.as_bytes(), b":", body])))),
            h("x-slack-request-timestamp", ts),
        ],
        ReceiverAuth::Bearer => vec![h("authorization", format!("Bearer {}", String::from_utf8_lossy(key)))],
        ReceiverAuth::ApiKey { header } => vec![h(header, String::from_utf8_lossy(key).into_owned())],
    }
}
