//! Fuzzes webhook authentication (`weir_core::webhook`): every
//! `ReceiverAuth` method's verifier, the auth-options parser, the secret
//! parser (`key_material`) and the event-type / provider-id extraction, over
//! hostile header values, bodies, secrets, clocks and tolerances.
//!
//! Input (text, `\n`-separated; see fuzz/README.md):
//!
//! ```text
//! {"method":"github"}                 auth options as stored (JSON)
//! It's a Secret to Everybody          the secret, as the provider gives it
//! 1700000000 300                      now and tolerance (optional: defaults)
//! X-Hub-Signature-256: sha256=…       headers, `name: value`, one a line
//!                                     an empty line
//! Hello, World!                       the body (the rest, raw bytes)
//! ```
//!
//! Auth options that do not parse pick a method by their length, so every
//! input reaches a verifier. Checked:
//! - verifying never panics, for any method, headers, body, keys, clock and
//!   tolerance; a refusal's message is one of the fixed texts (so it echoes
//!   neither the request nor a secret);
//! - `ReceiverAuth::parse(auth.to_json()) == auth`;
//! - differential, for every configuration and secret the API accepts
//!   (`ReceiverAuth::parse` and `key_material` succeed): what the crate's own
//!   `sign_headers` produces, sent through an HTTP-like layer (header values
//!   a `HeaderValue::to_str` refuses are dropped, surrounding spaces and tabs
//!   trimmed), verifies; changing one byte of any signed header value (all
//!   but GitHub's and Shopify's delivery ids, which the providers do not
//!   sign) or of a signed body makes it fail, except where the change is an
//!   equivalent spelling (hex digit case, the `Bearer` scheme's case); a
//!   different key fails;
//! - `event_type_of` / `provider_event_id` give cleaned, bounded values.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use weir_core::webhook::sign::sign_headers;
use weir_core::webhook::{
    HmacEncoding, Inbound, ReceiverAuth, ReceiverMethod, event_type_of, key_material, provider_event_id, verifier_for,
};

const DEFAULT_NOW: i64 = 1_700_000_000;
const DEFAULT_TOLERANCE: i64 = 300;

fn fallback_methods() -> Vec<ReceiverAuth> {
    vec![
        ReceiverAuth::HmacSha256 {
            header: "x-signature".into(),
            encoding: HmacEncoding::Hex,
            prefix: "sha256=".into(),
            timestamp_header: None,
        },
        ReceiverAuth::HmacSha256 {
            header: "x-sig".into(),
            encoding: HmacEncoding::Base64,
            prefix: String::new(),
            timestamp_header: Some("x-ts".into()),
        },
        ReceiverAuth::StandardWebhooks { public_key: None },
        // The public key of the ed25519 seed [7; 32], so v1a signatures are checked too.
        ReceiverAuth::StandardWebhooks {
            public_key: Some([
                0xea, 0x4a, 0x6c, 0x63, 0xe2, 0x9c, 0x52, 0x0a, 0xbe, 0xf5, 0x50, 0x7b, 0x13, 0x2e, 0xc5, 0xf9, 0x95,
                0x47, 0x76, 0xae, 0xbe, 0xbe, 0x7b, 0x92, 0x42, 0x1e, 0xea, 0x69, 0x14, 0x46, 0xd2, 0x2c,
            ]),
        },
        ReceiverAuth::Github,
        ReceiverAuth::Stripe,
        ReceiverAuth::Shopify,
        ReceiverAuth::Slack,
        ReceiverAuth::Bearer,
        ReceiverAuth::ApiKey { header: "x-api-key".into() },
    ]
}

/// A small deterministic generator (splitmix64) seeded from the input, for
/// which bytes to change.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// What an HTTP server hands the verifier for a header sent with this value:
/// `HeaderValue::to_str` refuses anything but visible ASCII, space and tab
/// (the header then reads as absent), and the parser drops surrounding
/// whitespace.
fn over_http(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(_, v)| v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)))
        .map(|(k, v)| (k.clone(), v.trim_matches([' ', '\t']).to_owned()))
        .collect()
}

fn verify(auth: &ReceiverAuth, headers: &[(String, String)], body: &[u8], keys: &[&[u8]], now: i64, tol: i64) -> bool {
    let req = Inbound { headers: &headers.to_vec(), body, now };
    verifier_for(auth).verify(&req, keys, tol).is_ok()
}

fn is_hex_signed(auth: &ReceiverAuth) -> bool {
    matches!(
        auth,
        ReceiverAuth::Github
            | ReceiverAuth::Stripe
            | ReceiverAuth::Slack
            | ReceiverAuth::HmacSha256 { encoding: HmacEncoding::Hex, .. }
    )
}

fn signs_body(auth: &ReceiverAuth) -> bool {
    !matches!(auth, ReceiverAuth::Bearer | ReceiverAuth::ApiKey { .. })
}

/// Whether replacing `old` by `new` at `at` in header `name`'s value may
/// still verify: the same hex digit in the other case, or the bearer
/// scheme's case.
fn equivalent(auth: &ReceiverAuth, name: &str, value: &[u8], at: usize, old: u8, new: u8) -> bool {
    let case_only = old.is_ascii_alphabetic() && old.eq_ignore_ascii_case(&new);
    if !case_only {
        return false;
    }
    if is_hex_signed(auth) && old.is_ascii_hexdigit() {
        return true;
    }
    matches!(auth, ReceiverAuth::Bearer)
        && name == "authorization"
        && value.iter().position(|&b| b == b' ').is_some_and(|space| at < space)
}

/// `s` with every number (a run of digits, with its sign) written `N`.
fn shape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let sign = c == '-' && chars.peek().is_some_and(char::is_ascii_digit) && !out.ends_with(char::is_alphanumeric);
        if c.is_ascii_digit() || sign {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('N');
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a refusal's message is one of the fixed texts (numbers aside),
/// so it can hold nothing from the request or the secrets.
fn is_fixed_message(msg: &str) -> bool {
    const NAMES: &[&str] = &[
        "signature",
        "timestamp",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "x-hub-signature-256",
        "stripe-signature",
        "x-shopify-hmac-sha256",
        "x-slack-signature",
        "x-slack-request-timestamp",
        "authorization",
        "api key",
    ];
    let fixed = [
        "signature does not match".to_owned(),
        "invalid token".to_owned(),
        "timestamp is stale: 1 s old (tolerance 1 s)".to_owned(),
        "timestamp is in the future: 1 s ahead (tolerance 1 s)".to_owned(),
    ];
    let m = shape(msg);
    fixed.iter().any(|f| shape(f) == m)
        || NAMES
            .iter()
            .any(|n| shape(&format!("missing {n} header")) == m || shape(&format!("malformed {n} header")) == m)
}

fn check_extraction(method: ReceiverMethod, headers: &[(String, String)], body: &[u8]) {
    let body = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    if let Some(t) = event_type_of("*", &headers.to_vec(), &body) {
        assert!(!t.is_empty() && t.len() <= 200, "event type {t:?}");
        assert!(!t.chars().any(char::is_control) && t == t.trim(), "event type {t:?}");
    }
    assert_eq!(event_type_of("order.created", &headers.to_vec(), &body).as_deref(), Some("order.created"));
    if let Some(id) = provider_event_id(method, &headers.to_vec(), &body) {
        let hashed = id.starts_with("sha256:") && id.len() == 71;
        let clean = !id.is_empty() && id.len() <= 200 && !id.chars().any(char::is_control) && id == id.trim();
        assert!(hashed || clean, "provider id {id:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 16 * 1024 {
        return;
    }
    let mut lines = data.splitn(4, |&b| b == b'\n');
    let auth_line = lines.next().unwrap_or_default();
    let secret = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let clock = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let rest = lines.next().unwrap_or_default();
    let (head, body): (&[u8], &[u8]) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None if rest.starts_with(b"\n") => (&[], &rest[1..]),
        None => (rest, &[]),
    };
    let headers: Vec<(String, String)> = String::from_utf8_lossy(head)
        .lines()
        .map(|l| match l.split_once(':') {
            Some((k, v)) => (k.trim().to_owned(), v.trim_start().to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect();
    let mut clock = clock.split_whitespace().map(|s| s.parse::<i64>().ok());
    let now = clock.next().flatten().unwrap_or(DEFAULT_NOW);
    let tolerance = clock.next().flatten().unwrap_or(DEFAULT_TOLERANCE);

    let parsed = serde_json::from_slice::<Value>(auth_line).ok().map(|v| ReceiverAuth::parse(&v));
    let (auth, accepted) = match parsed {
        Some(Ok(a)) => {
            assert_eq!(ReceiverAuth::parse(&a.to_json()).as_ref(), Ok(&a), "auth options round-trip");
            let m = a.method();
            assert_eq!(m.as_str().parse::<ReceiverMethod>(), Ok(m));
            (a, true)
        }
        _ => {
            let all = fallback_methods();
            (all[auth_line.len() % all.len()].clone(), false)
        }
    };
    let method = auth.method();
    let material = key_material(method, &secret);
    let key: Vec<u8> = material.clone().unwrap_or_else(|_| secret.as_bytes().to_vec());

    // 1. Anything in: no panic, and refusals never echo the secret.
    let req = Inbound { headers: &headers, body, now };
    if let Err(e) = verifier_for(&auth).verify(&req, &[&key, b"a-previous-secret-0000"], tolerance) {
        let msg = e.to_string();
        assert!(is_fixed_message(&msg), "message {msg:?} is not one of the fixed ones");
        assert!(["timestamp_stale", "signature_missing", "signature_invalid"].contains(&e.error_type()));
    }
    check_extraction(method, &headers, body);

    // 2. Differential, for configurations and secrets the API accepts.
    if !accepted || material.is_err() {
        return;
    }
    let tolerance = tolerance.clamp(1, 86_400);
    let id = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("webhook-id"))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("msg_fuzz");
    let signed = sign_headers(&auth, &key, id, now, body);
    let sent = over_http(&signed);
    assert!(
        verify(&auth, &sent, body, &[&key], now, tolerance),
        "a delivery signed by sign_headers does not verify: {auth:?} secret {secret:?} headers {signed:?}"
    );
    let mut wrong_key = key.clone();
    wrong_key[0] ^= 1;
    assert!(!verify(&auth, &sent, body, &[&wrong_key], now, tolerance), "another key verifies: {auth:?}");

    let mut rng = Rng(fnv(data));
    if signs_body(&auth) {
        let mut tampered = body.to_vec();
        if tampered.is_empty() {
            tampered.push(b' ');
        } else {
            let i = (rng.next() % tampered.len() as u64) as usize;
            tampered[i] ^= 1 + (rng.next() % 255) as u8;
        }
        assert!(!verify(&auth, &sent, &tampered, &[&key], now, tolerance), "a changed body verifies: {auth:?}");
    }
    // Bytes a hostile sender would try first, then any.
    const TRIES: &[u8] = b"+- \t0aA=,.";
    for _ in 0..4 {
        let h = (rng.next() % sent.len() as u64) as usize;
        let (name, value) = &sent[h];
        // GitHub's and Shopify's delivery ids are not signed (by their design).
        if value.is_empty() || matches!(name.as_str(), "x-github-delivery" | "x-shopify-webhook-id") {
            continue;
        }
        let at = (rng.next() % value.len() as u64) as usize;
        let old = value.as_bytes()[at];
        let r = rng.next();
        let new = match r % 4 {
            0 => TRIES[(r / 4 % TRIES.len() as u64) as usize],
            1 if old.is_ascii_alphabetic() => old ^ 0x20,
            _ => old ^ (1 + (r / 4 % 255) as u8),
        };
        if new == old {
            continue;
        }
        let mut bytes = value.as_bytes().to_vec();
        bytes[at] = new;
        let Ok(changed) = String::from_utf8(bytes) else { continue };
        let mut tampered = sent.clone();
        tampered[h].1 = changed;
        let tampered = over_http(&tampered);
        if tampered == sent {
            continue;
        }
        if verify(&auth, &tampered, body, &[&key], now, tolerance) {
            assert!(
                equivalent(&auth, name, value.as_bytes(), at, old, new),
                "changing {name} byte {at} from {:?} to {:?} still verifies: {auth:?} {sent:?}",
                old as char,
                new as char
            );
        }
    }
});
