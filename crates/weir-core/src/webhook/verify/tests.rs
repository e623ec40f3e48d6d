//! Provider example vectors where a provider documents one, and property
//! tests for every scheme: sign-then-verify succeeds; any flipped byte of
//! body, signature or timestamp fails.

use proptest::prelude::*;

use super::super::sign::sign_headers;
use super::super::{HmacEncoding, ReceiverAuth};
use super::*;

const NOW: i64 = 1_700_000_000;

fn check(
    auth: &ReceiverAuth,
    headers: &[(String, String)],
    body: &[u8],
    keys: &[&[u8]],
    now: i64,
) -> Result<(), VerifyError> {
    let req = Inbound { headers: &headers.to_vec(), body, now };
    verifier_for(auth).verify(&req, keys, 300)
}

fn all_methods() -> Vec<ReceiverAuth> {
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
        ReceiverAuth::Github,
        ReceiverAuth::Stripe,
        ReceiverAuth::Shopify,
        ReceiverAuth::Slack,
        ReceiverAuth::Bearer,
        ReceiverAuth::ApiKey { header: "x-api-key".into() },
    ]
}

/// The header that carries the signature or token, per scheme.
fn signature_header(auth: &ReceiverAuth) -> &str {
    match auth {
        ReceiverAuth::HmacSha256 { header, .. } | ReceiverAuth::ApiKey { header } => header,
        ReceiverAuth::StandardWebhooks { .. } => "webhook-signature",
        ReceiverAuth::Github => "x-hub-signature-256",
        ReceiverAuth::Stripe => "stripe-signature",
        ReceiverAuth::Shopify => "x-shopify-hmac-sha256",
        ReceiverAuth::Slack => "x-slack-signature",
        ReceiverAuth::Bearer => "authorization",
    }
}

fn signs_body(auth: &ReceiverAuth) -> bool {
    !matches!(auth, ReceiverAuth::Bearer | ReceiverAuth::ApiKey { .. })
}

/// Flips one character in the second half of a header value, which is
/// signature (or token) material for every scheme.
fn flip_char(s: &str, at: usize) -> String {
    let mut bytes = s.as_bytes().to_vec();
    let half = bytes.len() / 2;
    let i = half + at % (bytes.len() - half);
    // Digits differ in value in hex and base64 alike (a case change would not in hex).
    bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sign_then_verify_and_every_flip_fails(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        key in "[A-Za-z0-9]{16,48}",
        flip in any::<usize>(),
        skew in -299i64..299,
    ) {
        for auth in all_methods() {
            let ts = NOW + skew;
            let key = key.as_bytes();
            let headers = sign_headers(&auth, key, "msg_123", ts, &body);
            prop_assert_eq!(check(&auth, &headers, &body, &[key], NOW), Ok(()), "{:?}", auth);
            // A second (rotated) key next to the right one still matches; alone it does not.
            prop_assert_eq!(check(&auth, &headers, &body, &[b"another-key-entirely", key], NOW), Ok(()));
            prop_assert!(check(&auth, &headers, &body, &[b"another-key-entirely"], NOW).is_err());

            if signs_body(&auth) {
                let mut tampered = body.clone();
                if tampered.is_empty() { tampered.push(0) } else { let i = flip % tampered.len(); tampered[i] ^= 1 << (flip % 8); }
                prop_assert_eq!(check(&auth, &headers, &tampered, &[key], NOW), Err(VerifyError::BadSignature), "{:?}", auth);
            }
            let sig_name = signature_header(&auth);
            let mut bad_sig = headers.clone();
            for (k, v) in bad_sig.iter_mut() {
                if k.eq_ignore_ascii_case(sig_name) {
                    *v = flip_char(v, flip);
                }
            }
            prop_assert!(check(&auth, &bad_sig, &body, &[key], NOW).is_err(), "{:?}", auth);
            if auth.is_timestamped() {
                // The signature covers the timestamp: shifting it by one second breaks it.
                let moved = sign_headers(&auth, key, "msg_123", ts, &body)
                    .into_iter()
                    .map(|(k, v)| {
                        let v = if k.contains("timestamp") || k == "x-ts" { (ts + 1).to_string() }
                            else if k == "stripe-signature" { v.replacen(&format!("t={ts}"), &format!("t={}", ts + 1), 1) }
                            else { v };
                        (k, v)
                    })
                    .collect::<Vec<_>>();
                prop_assert_eq!(check(&auth, &moved, &body, &[key], NOW), Err(VerifyError::BadSignature), "{:?}", auth);
            }
        }
    }
}

#[test]
fn timestamps_outside_the_tolerance_are_refused() {
    for auth in all_methods().into_iter().filter(ReceiverAuth::is_timestamped) {
        let key = b"0123456789abcdef0123";
        let old = sign_headers(&auth, key, "m", NOW - 301, b"{}");
        assert_eq!(check(&auth, &old, b"{}", &[key], NOW), Err(VerifyError::Stale(301, 300)), "{auth:?}");
        let ahead = sign_headers(&auth, key, "m", NOW + 400, b"{}");
        assert_eq!(check(&auth, &ahead, b"{}", &[key], NOW), Err(VerifyError::Future(400, 300)), "{auth:?}");
        let edge = sign_headers(&auth, key, "m", NOW - 300, b"{}");
        assert_eq!(check(&auth, &edge, b"{}", &[key], NOW), Ok(()), "{auth:?}: the edge is inside");
    }
}

#[test]
fn missing_headers_are_named() {
    for auth in all_methods() {
        let e = check(&auth, &[], b"{}", &[b"0123456789abcdef"], NOW).unwrap_err();
        assert!(matches!(e, VerifyError::MissingHeader(_)), "{auth:?}: {e:?}");
    }
}

#[test]
fn several_signatures_any_match_wins() {
    let key = b"0123456789abcdef0123";
    let body = br#"{"a":1}"#;
    let sw = ReceiverAuth::StandardWebhooks { public_key: None };
    let mut h = sign_headers(&sw, key, "msg_1", NOW, body);
    let good = h[2].1.clone();
    h[2].1 = format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {good} v2,zzz");
    assert_eq!(check(&sw, &h, body, &[key], NOW), Ok(()));
    // Svix's header names are accepted too.
    let svix: Vec<(String, String)> = sign_headers(&sw, key, "msg_1", NOW, body)
        .into_iter()
        .map(|(k, v)| (k.replace("webhook-", "svix-"), v))
        .collect();
    assert_eq!(check(&sw, &svix, body, &[key], NOW), Ok(()));
    let stripe = sign_headers(&ReceiverAuth::Stripe, key, "", NOW, body);
    let v = &stripe[0].1;
    let multi =
        vec![("stripe-signature".to_owned(), format!("{},v1=deadbeef,v0=abc", v.replacen(",v1=", ",v1=00,v1=", 1)))];
    assert_eq!(check(&ReceiverAuth::Stripe, &multi, body, &[key], NOW), Ok(()));
    let shop = sign_headers(&ReceiverAuth::Shopify, key, "", NOW, body);
    let lower = vec![("shopify-hmac-sha256".to_owned(), shop[0].1.clone())];
    assert_eq!(check(&ReceiverAuth::Shopify, &lower, body, &[key], NOW), Ok(()));
}

#[test]
fn standard_webhooks_v1a_ed25519() {
    use ed25519_dalek::{Signer, SigningKey};
    let signing = SigningKey::from_bytes(&[7u8; 32]);
    let public = signing.verifying_key().to_bytes();
    let auth = ReceiverAuth::StandardWebhooks { public_key: Some(public) };
    let body = br#"{"x":1}"#;
    let content = [b"msg_9".as_slice(), b".", NOW.to_string().as_bytes(), b".", body].concat();
    let sig = STANDARD.encode(signing.sign(&content).to_bytes());
    let headers = vec![
        ("webhook-id".to_owned(), "msg_9".to_owned()),
        ("webhook-timestamp".to_owned(), NOW.to_string()),
        ("webhook-signature".to_owned(), format!("v1a,{sig}")),
    ];
    assert_eq!(check(&auth, &headers, body, &[b"unused-hmac-key-000"], NOW), Ok(()));
    assert_eq!(check(&auth, &headers, br#"{"x":2}"#, &[b"unused-hmac-key-000"], NOW), Err(VerifyError::BadSignature));
    let no_key = ReceiverAuth::StandardWebhooks { public_key: None };
    assert_eq!(check(&no_key, &headers, body, &[b"unused-hmac-key-000"], NOW), Err(VerifyError::BadSignature));
}

// --- Providers' own example vectors (verified independently) ---

/// A clock near a vector's fixed timestamp.
fn at(ts: i64) -> i64 {
    ts + 10
}

fn hs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn github_documented_example() {
    // docs.github.com, "Validating webhook deliveries" → "Testing the webhook payload validation".
    let h = hs(&[("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")]);
    assert_eq!(check(&ReceiverAuth::Github, &h, b"Hello, World!", &[b"It's a Secret to Everybody"], NOW), Ok(()));
    assert_eq!(
        check(&ReceiverAuth::Github, &h, b"Hello, World?", &[b"It's a Secret to Everybody"], NOW),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn standard_webhooks_library_examples() {
    use super::super::{ReceiverMethod, key_material};
    // standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts "sign function works".
    let key = key_material(ReceiverMethod::StandardWebhooks, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let h = hs(&[
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", "1614265330"),
        (
            "webhook-signature",
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
    ]);
    let sw = ReceiverAuth::StandardWebhooks { public_key: None };
    assert_eq!(check(&sw, &h, br#"{"test": 2432232314}"#, &[&key], at(1614265330)), Ok(()));
    // libraries/rust/src/lib.rs test_sign.
    let key = key_material(ReceiverMethod::StandardWebhooks, "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
    let h = hs(&[
        ("webhook-id", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk"),
        ("webhook-timestamp", "1649367553"),
        ("webhook-signature", "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="),
    ]);
    let body = br#"{"email":"test@example.com","username":"test_user"}"#;
    assert_eq!(check(&sw, &h, body, &[&key], at(1649367553)), Ok(()));
    // libraries/go/webhook_asymmetric_test.go TestAsymmetricWebhookSign (v1a, ed25519).
    let pk = STANDARD.decode("ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g=").unwrap();
    let v1a = ReceiverAuth::StandardWebhooks { public_key: Some(pk.try_into().unwrap()) };
    let h = hs(&[
        ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        ("webhook-timestamp", "1614265330"),
        (
            "webhook-signature",
            "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==",
        ),
    ]);
    assert_eq!(check(&v1a, &h, br#"{"test": 2432232314}"#, &[b"not-the-hmac-key-00"], at(1614265330)), Ok(()));
}

#[test]
fn slack_documented_example() {
    // Slack "Verifying requests from Slack" (as in slackapi/python-slack-sdk's tests).
    let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    let h = hs(&[
        ("X-Slack-Request-Timestamp", "1531420618"),
        ("X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"),
    ]);
    assert_eq!(
        check(&ReceiverAuth::Slack, &h, body.as_bytes(), &[b"8f742231b10e8888abcd99yyyzzz85a5"], at(1531420618)),
        Ok(())
    );
}

#[test]
fn stripe_sdk_example() {
    // stripe/stripe-dotnet EventUtilityTest + event_test_signature.json (trailing newline included).
    let body = "{\n  \"id\": \"evt_123\",\n  \"object\": \"event\",\n  \"account\": \"acct_123\",\n  \"api_version\": \"2017-05-25\",\n  \"created\": 1533204620,\n  \"data\": {\n    \"object\": {\n      \"id\": \"cus_123\",\n      \"object\": \"customer\",\n      \"created\": 123456789,\n      \"email\": \"test@stripe.com\",\n      \"livemode\": false,\n      \"metadata\": {}\n    }\n  },\n  \"livemode\": false,\n  \"pending_webhooks\": 1,\n  \"request\": {\n    \"id\": \"req_123\",\n    \"idempotency_key\": \"idempotency-key-123\"\n  },\n  \"type\": \"customer.created\"\n}\n";
    assert_eq!(body.len(), 484);
    let h = hs(&[(
        "Stripe-Signature",
        "t=1533204620,v1=2220f87ef101a04665f11cdf770523143f875572008577fa0f20882ddb9cc3c7,v0=63f3a72374a733066c4be69ed7f8e5ac85c22c9f0a6a612ab9a025a9e4ee7eef",
    )]);
    assert_eq!(check(&ReceiverAuth::Stripe, &h, body.as_bytes(), &[b"webhook_secret"], 1533204620 + 100), Ok(()));
}

#[test]
fn shopify_sdk_example() {
    // Shopify/shopify-app-js webhooks validate.test.ts with the test config's secret.
    let h = hs(&[("X-Shopify-Hmac-Sha256", "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=")]);
    assert_eq!(check(&ReceiverAuth::Shopify, &h, br#"{"foo": "bar"}"#, &[b"test_secret_key"], NOW), Ok(()));
}
