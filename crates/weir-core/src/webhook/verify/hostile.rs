//! Hostile input against the verifiers, beyond sign-then-verify (which
//! `tests.rs` covers): header values of any text never panic, signatures
//! accept one spelling per byte (hex in either case, nothing else), and the
//! configurations and secrets the API accepts can verify what their
//! provider sends through HTTP. Regressions found by the `webhook_verify`
//! fuzz target (fuzz/) are here.

use proptest::prelude::*;

use super::super::sign::sign_headers;
use super::super::{HmacEncoding, ReceiverAuth, ReceiverMethod, key_material};
use super::*;

const NOW: i64 = 1_700_000_000;

fn verify(auth: &ReceiverAuth, headers: &[(String, String)], body: &[u8], key: &[u8]) -> Result<(), VerifyError> {
    let req = Inbound { headers: &headers.to_vec(), body, now: NOW };
    verifier_for(auth).verify(&req, &[key], 300)
}

fn every_method() -> Vec<ReceiverAuth> {
    vec![
        ReceiverAuth::HmacSha256 {
            header: "x-signature".into(),
            encoding: HmacEncoding::Hex,
            prefix: "sha256=".into(),
            timestamp_header: Some("x-ts".into()),
        },
        ReceiverAuth::HmacSha256 {
            header: "x-signature".into(),
            encoding: HmacEncoding::Base64,
            prefix: String::new(),
            timestamp_header: None,
        },
        ReceiverAuth::StandardWebhooks {
            public_key: Some(ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes()),
        },
        ReceiverAuth::Github,
        ReceiverAuth::Stripe,
        ReceiverAuth::Shopify,
        ReceiverAuth::Slack,
        ReceiverAuth::Bearer,
        ReceiverAuth::ApiKey { header: "x-api-key".into() },
    ]
}

/// Every header name any verifier reads.
const NAMES: &[&str] = &[
    "x-signature",
    "x-ts",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "x-hub-signature-256",
    "stripe-signature",
    "x-shopify-hmac-sha256",
    "shopify-hmac-sha256",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "authorization",
    "x-api-key",
];

proptest! {
    // Generating sixteen header values a case is the slow part (~7 ms in a debug build).
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Any text in any header, any body, clock and tolerance: a verdict,
    /// never a panic.
    #[test]
    fn any_header_values_get_a_verdict(
        values in proptest::collection::vec("[ -~]{0,40}|\\PC{0,20}|(v1a?|t|v0|sha256),[A-Za-z0-9+/=,. -]{0,90}", NAMES.len()),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        now in any::<i64>(),
        tolerance in any::<i64>(),
    ) {
        let headers: Vec<(String, String)> =
            NAMES.iter().zip(values).map(|(k, v)| ((*k).to_owned(), v)).collect();
        for auth in every_method() {
            let req = Inbound { headers: &headers, body: &body, now };
            let _ = verifier_for(&auth).verify(&req, &[b"0123456789abcdef", b""], tolerance);
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Hex decoding takes exactly the two-digit spellings, either case.
    #[test]
    fn hex_decoding_takes_hex_digits_only(bytes in proptest::collection::vec(any::<u8>(), 0..16), junk in "[^0-9a-fA-F]") {
        let hex = crate::hex::encode(&bytes);
        prop_assert_eq!(decode_hex(&hex), Some(bytes.clone()));
        prop_assert_eq!(decode_hex(&hex.to_ascii_uppercase()), Some(bytes.clone()));
        if !hex.is_empty() {
            for at in [0, hex.len() - 1] {
                let mut bad = hex.clone();
                bad.replace_range(at..=at, &junk);
                prop_assert_eq!(decode_hex(&bad), None, "{:?}", bad);
            }
        }
    }
}

/// Regression (fuzz: `webhook_verify`): `u8::from_str_radix` takes a sign,
/// so `+f` decoded as `0f` and a hex signature had a second spelling for
/// every `0` at an even position. Signatures now have exactly one spelling
/// per byte (up to letter case).
#[test]
fn a_signed_hex_digit_is_not_a_hex_digit() {
    assert_eq!(decode_hex("+f"), None);
    assert_eq!(decode_hex("-0"), None);
    assert_eq!(decode_hex("0F"), Some(vec![0x0f]));
    let key = b"0123456789abcdef0123";
    // A body whose GitHub signature has a `0` at an even position.
    let (body, headers) = (0u32..)
        .map(|i| {
            let body = format!("{{\"n\":{i}}}").into_bytes();
            let h = sign_headers(&ReceiverAuth::Github, key, "", NOW, &body);
            (body, h)
        })
        .find(|(_, h)| h[0].1.as_bytes()["sha256=".len()..].chunks(2).any(|p| p[0] == b'0'))
        .expect("some signature has one");
    assert_eq!(verify(&ReceiverAuth::Github, &headers, &body, key), Ok(()));
    let sig = &headers[0].1["sha256=".len()..];
    let at = sig.as_bytes().chunks(2).position(|p| p[0] == b'0').unwrap() * 2;
    let mut forged = headers.clone();
    forged[0].1 = format!("sha256={}+{}", &sig[..at], &sig[at + 1..]);
    assert_eq!(verify(&ReceiverAuth::Github, &forged, &body, key), Err(VerifyError::Malformed("x-hub-signature-256")));
}

/// What a provider's headers look like after HTTP: values that are not
/// visible ASCII cannot be read as text (the header reads as absent), and
/// surrounding spaces and tabs are dropped.
fn over_http(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(_, v)| v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)))
        .map(|(k, v)| (k.clone(), v.trim_matches([' ', '\t']).to_owned()))
        .collect()
}

/// Regression (fuzz: `webhook_verify`): a bearer or API-key secret is sent
/// as a header value, so one with surrounding spaces (which HTTP drops and
/// the verifier trims) or with characters a header cannot carry as text
/// could never match. `key_material` refuses them, as it does control
/// characters; HMAC secrets are never sent and may hold any of them.
#[test]
fn header_borne_secrets_must_survive_http() {
    for method in [ReceiverMethod::Bearer, ReceiverMethod::ApiKey] {
        for bad in ["  padded-secret-0123", "trailing-secret-0123 ", "ünïcode-secret-0123"] {
            assert!(key_material(method, bad).is_err(), "{method:?} {bad:?}");
        }
        assert!(key_material(method, "inner space ok 0123").is_ok());
    }
    for method in [ReceiverMethod::HmacSha256, ReceiverMethod::Github, ReceiverMethod::Stripe] {
        assert!(key_material(method, " padded ünïcode secret ").is_ok(), "{method:?}");
    }
}

/// Regression (fuzz: `webhook_verify`): options the API accepted but that
/// no delivery could ever satisfy are refused when the receiver is saved:
/// a generic HMAC prefix with leading whitespace (HTTP drops it) or with
/// characters a header cannot carry, and a timestamp header that is the
/// signature header itself.
#[test]
fn unsatisfiable_hmac_options_are_refused() {
    use serde_json::json;
    for bad in [
        json!({"method": "hmac_sha256", "prefix": " sha256="}),
        json!({"method": "hmac_sha256", "prefix": "sïg="}),
        json!({"method": "hmac_sha256", "prefix": "a\u{7f}"}),
        json!({"method": "hmac_sha256", "header": "X-Sig", "timestamp_header": "x-sig"}),
        json!({"method": "hmac_sha256", "timestamp_header": "X-Signature"}),
    ] {
        assert!(ReceiverAuth::parse(&bad).is_err(), "{bad}");
    }
    let ok =
        ReceiverAuth::parse(&json!({"method": "hmac_sha256", "prefix": "v1 ", "timestamp_header": "x-ts"})).unwrap();
    let key = b"0123456789abcdef0123";
    let sent = over_http(&sign_headers(&ok, key, "", NOW, b"{}"));
    assert_eq!(verify(&ok, &sent, b"{}", key), Ok(()));
}

/// For every method, what `sign_headers` makes with a secret the API
/// accepts still verifies after HTTP has had its way with the headers.
#[test]
fn accepted_secrets_verify_over_http() {
    let secrets = ["0123456789abcdef0123", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "with inner spaces 0123"];
    for auth in every_method() {
        for secret in secrets {
            let Ok(key) = key_material(auth.method(), secret) else { continue };
            let sent = over_http(&sign_headers(&auth, &key, "msg_1", NOW, b"{\"a\":1}"));
            assert_eq!(verify(&auth, &sent, b"{\"a\":1}", &key), Ok(()), "{auth:?} {secret:?}");
        }
    }
}
