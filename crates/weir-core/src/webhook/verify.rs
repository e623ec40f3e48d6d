//! Verification adapters, one per scheme, behind [`SignatureVerifier`]
//! (PAT-002). Every check runs over the raw body bytes, before any JSON
//! parsing, and compares in constant time. A receiver may hold two secrets
//! during a rotation's grace period: any match wins.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Headers;
use super::auth::{HmacEncoding, ReceiverAuth};

type HmacSha256 = Hmac<Sha256>;

/// A delivery as the verifiers see it.
pub struct Inbound<'a> {
    /// Its headers.
    pub headers: &'a dyn Headers,
    /// Its body, exactly as received.
    pub body: &'a [u8],
    /// The current Unix time, in seconds.
    pub now: i64,
}

/// Why a delivery was refused. The messages never contain a secret or an
/// expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required header is absent.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// A header is present but unreadable.
    #[error("malformed {0} header")]
    Malformed(&'static str),
    /// No signature matched any of the receiver's secrets.
    #[error("signature does not match")]
    BadSignature,
    /// The token or key is not the receiver's.
    #[error("invalid token")]
    BadToken,
    /// The timestamp is older than the tolerance.
    #[error("timestamp is stale: {0} s old (tolerance {1} s)")]
    Stale(i64, i64),
    /// The timestamp is ahead of the clock beyond the tolerance.
    #[error("timestamp is in the future: {0} s ahead (tolerance {1} s)")]
    Future(i64, i64),
}

impl VerifyError {
    /// The stable error type for audit and dashboards.
    pub fn error_type(&self) -> &'static str {
        super::RefusalReason::from(self).as_str()
    }
}

/// One verification scheme.
pub trait SignatureVerifier: Send + Sync {
    /// Checks `req` against each key in `keys` (current first). Timestamped
    /// schemes refuse times more than `tolerance_secs` from `req.now`.
    fn verify(&self, req: &Inbound<'_>, keys: &[&[u8]], tolerance_secs: i64) -> Result<(), VerifyError>;
}

/// The adapter for a receiver's method.
pub fn verifier_for(auth: &ReceiverAuth) -> Box<dyn SignatureVerifier> {
    match auth {
        ReceiverAuth::HmacSha256 { header, encoding, prefix, timestamp_header } => Box::new(GenericHmac {
            header: header.clone(),
            encoding: *encoding,
            prefix: prefix.clone(),
            timestamp_header: timestamp_header.clone(),
        }),
        ReceiverAuth::StandardWebhooks { public_key } => Box::new(StandardWebhooks { public_key: *public_key }),
        ReceiverAuth::Github => Box::new(Github),
        ReceiverAuth::Stripe => Box::new(Stripe),
        ReceiverAuth::Shopify => Box::new(Shopify),
        ReceiverAuth::Slack => Box::new(Slack),
        ReceiverAuth::Bearer => Box::new(Bearer),
        ReceiverAuth::ApiKey { header } => Box::new(ApiKey { header: header.clone() }),
    }
}

/// HMAC-SHA256 of the concatenated parts.
fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length; new_from_slice cannot fail here.
    let mut m = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Decodes hex (either case): exactly two hex digits a byte. Written here
/// rather than pulling in a crate for twenty lines. (Not `u8::from_str_radix`
/// per pair: it also takes a sign, so `+f` decoded as `0f` and a signature
/// had a second spelling.)
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes.chunks_exact(2).map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?)).collect()
}

/// Constant-time equality of a computed MAC and a presented one.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

fn header<'a>(req: &'a Inbound<'_>, name: &'static str) -> Result<&'a str, VerifyError> {
    req.headers.get(name).ok_or(VerifyError::MissingHeader(name))
}

fn check_time(ts: i64, now: i64, tolerance: i64) -> Result<(), VerifyError> {
    // Saturating: a hostile timestamp like i64::MIN must not overflow.
    if ts < now.saturating_sub(tolerance) {
        Err(VerifyError::Stale(now.saturating_sub(ts), tolerance))
    } else if ts > now.saturating_add(tolerance) {
        Err(VerifyError::Future(ts.saturating_sub(now), tolerance))
    } else {
        Ok(())
    }
}

fn parse_ts(s: &str, name: &'static str) -> Result<i64, VerifyError> {
    s.trim().parse::<i64>().map_err(|_| VerifyError::Malformed(name))
}

/// Whether any key's MAC over `parts` equals `presented`.
fn any_key_matches(keys: &[&[u8]], parts: &[&[u8]], presented: &[u8]) -> bool {
    // Check every key (no early exit) so timing does not tell which matched.
    keys.iter().fold(false, |found, key| found | ct_eq(&mac(key, parts), presented))
}

struct GenericHmac {
    header: String,
    encoding: HmacEncoding,
    prefix: String,
    timestamp_header: Option<String>,
}

impl SignatureVerifier for GenericHmac {
    fn verify(&self, req: &Inbound<'_>, keys: &[&[u8]], tolerance: i64) -> Result<(), VerifyError> {
        let raw = req.headers.get(&self.header).ok_or(VerifyError::MissingHeader("signature"))?;
        let sig = raw.trim().strip_prefix(self.prefix.as_str()).ok_or(VerifyError::Malformed("signature"))?;
        let presented = match self.encoding {
            HmacEncoding::Hex => decode_hex(sig),
            HmacEncoding::Base64 => STANDARD.decode(sig).ok(),
        }
        .ok_or(VerifyError::Malformed("signature"))?;
        let ok = match &self.timestamp_header {
            Some(th) => {
                let ts_raw = req.headers.get(th).ok_or(VerifyError::MissingHeader("timestamp"))?.trim();
                check_time(parse_ts(ts_raw, "timestamp")?, req.now, tolerance)?;
                any_key_matches(keys, &[ts_raw.as_bytes(), b".", req.body], &presented)
            }
            None => any_key_matches(keys, &[req.body], &presented),
        };
        if ok { Ok(()) } else { Err(VerifyError::BadSignature) }
    }
}

/// Standard Webhooks v1 / v1a (also under Svix's `svix-*` header names).
struct StandardWebhooks {
    public_key: Option<[u8; 32]>,
}

impl SignatureVerifier for StandardWebhooks {
    fn verify(&self, req: &Inbound<'_>, keys: &[&[u8]], tolerance: i64) -> Result<(), VerifyError> {
        let pick = |a: &'static str, b: &'static str| req.headers.get(a).or_else(|| req.headers.get(b));
        let id = pick("webhook-id", "svix-id").ok_or(VerifyError::MissingHeader("webhook-id"))?;
        let ts_raw =
            pick("webhook-timestamp", "svix-timestamp").ok_or(VerifyError::MissingHeader("webhook-timestamp"))?.trim();
        let sigs =
            pick("webhook-signature", "svix-signature").ok_or(VerifyError::MissingHeader("webhook-signature"))?;
        check_time(parse_ts(ts_raw, "webhook-timestamp")?, req.now, tolerance)?;
        let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts_raw.as_bytes(), b".", req.body];
        let mut matched = false;
        for candidate in sigs.split_whitespace() {
            let Some((version, sig)) = candidate.split_once(',') else { continue };
            let Ok(bytes) = STANDARD.decode(sig) else { continue };
            match version {
                "v1" => matched |= any_key_matches(keys, &parts, &bytes),
                "v1a" => {
                    if let (Some(pk), Ok(sig)) = (self.public_key, ed25519_dalek::Signature::from_slice(&bytes))
                        && let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&pk)
                    {
                        let content = [id.as_bytes(), b".", ts_raw.as_bytes(), b".", req.body].concat();
                        matched |= vk.verify_strict(&content, &sig).is_ok();
                    }
                }
                _ => {}
            }
        }
        if matched { Ok(()) } else { Err(VerifyError::BadSignature) }
    }
}

struct Github;

impl SignatureVerifier for Github {
    fn verify(&self, req: &Inbound<'_>, keys: &[&[u8]], _tolerance: i64) -> Result<(), VerifyError> {
        let raw = header(req, "x-hub-signature-256")?;
        let hex = raw.trim().strip_prefix("sha256=").ok_or(VerifyError::Malformed("x-hub-signature-256"))?;
        let presented = decode_hex(hex).ok_or(VerifyError::Malformed("x-hub-signature-256"))?;
        if any_key_matches(keys, &[req.body], &presented) { Ok(()) } else { Err(VerifyError::BadSignature) }
    }
}

/// Stripe: `t=<ts>,v1=<hex>[,v1=<hex>…]` over `{t}.{body}`; the secret is
/// used as given (not base64-decoded).
struct Stripe;

impl SignatureVerifier for Stripe {
    fn verify(&self, req: &Inbound<'_>, keys: &[&[u8]], tolerance: i64) -> Result<(), VerifyError> {
        let raw = header(req, "stripe-signature")?;
        let mut ts = None;
        let mut sigs = Vec::new();
        for item in raw.split(',') {
            match item.trim().split_once('=') {
                Some(("t", v)) => ts = Some(v),
                Some(("v1", v)) => sigs.push(v),
                _ => {}
            }
        }
        let ts_raw = ts.ok_or(VerifyError::Malformed("stripe-signature"))?;
        if sigs.is_empty() {
            return Err(VerifyError::Malformed("stripe-signature"));
        }
        check_time(parse_ts(ts_raw, "stripe-signature")?, req.now, tolerance)?;
        let parts: [&[u8]; 3] = [ts_raw.as_bytes(), b".", req.body];
        let matched = sigs
            .iter()
            .filter_map(|s| decode_hex(s))
            .fold(false, |found, presented| found | any_key_matches(keys, &parts, &presented));
        if matched { Ok(()) } else { Err(VerifyError::BadSignature) }
    }
}

struct Shopify;

impl SignatureVerifier for Shopify {
    fn verify(&self, req: &Inbound<'_>, keys: &[&[u8]], _tolerance: i64) -> Result<(), VerifyError> {
        // Header lookup is case-insensitive, so `shopify-hmac-sha256` is the
        // same header written in lowercase only when its name differs.
        let raw = req
            .headers
            .get("x-shopify-hmac-sha256")
            .or_else(|| req.headers.get("shopify-hmac-sha256"))
            .ok_or(VerifyError::MissingHeader("x-shopify-hmac-sha256"))?;
        let presented = STANDARD.decode(raw.trim()).map_err(|_| VerifyError::Malformed("x-shopify-hmac-sha256"))?;
        if any_key_matches(keys, &[req.body], &presented) { Ok(()) } else { Err(VerifyError::BadSignature) }
    }
}

/// Slack: `v0=<hex>` of `v0:{ts}:{body}`.
struct Slack;

impl SignatureVerifier for Slack {
    fn verify(&self, req: &Inbound<'_>, keys: &[&[u8]], tolerance: i64) -> Result<(), VerifyError> {
        let sig = header(req, "x-slack-signature")?;
        let ts_raw = header(req, "x-slack-request-timestamp")?.trim();
        check_time(parse_ts(ts_raw, "x-slack-request-timestamp")?, req.now, tolerance)?;
        let hex = sig.trim().strip_prefix("v0=").ok_or(VerifyError::Malformed("x-slack-signature"))?;
        let presented = decode_hex(hex).ok_or(VerifyError::Malformed("x-slack-signature"))?;
        let parts: [&[u8]; 4] = [b"v0:", ts_raw.as_bytes(), b":", req.body];
        if any_key_matches(keys, &parts, &presented) { Ok(()) } else { Err(VerifyError::BadSignature) }
    }
}

/// Equality of secrets of any length without leaking where they differ or
/// how long the expected one is: compare their SHA-256 digests.
fn secret_matches(keys: &[&[u8]], presented: &str) -> bool {
    let p = Sha256::digest(presented.as_bytes());
    keys.iter().fold(false, |found, k| found | bool::from(Sha256::digest(k).ct_eq(&p)))
}

struct Bearer;

impl SignatureVerifier for Bearer {
    fn verify(&self, req: &Inbound<'_>, keys: &[&[u8]], _tolerance: i64) -> Result<(), VerifyError> {
        let raw = header(req, "authorization")?;
        let (scheme, token) = raw.split_once(' ').ok_or(VerifyError::Malformed("authorization"))?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(VerifyError::Malformed("authorization"));
        }
        if secret_matches(keys, token.trim()) { Ok(()) } else { Err(VerifyError::BadToken) }
    }
}

struct ApiKey {
    header: String,
}

impl SignatureVerifier for ApiKey {
    fn verify(&self, req: &Inbound<'_>, keys: &[&[u8]], _tolerance: i64) -> Result<(), VerifyError> {
        let raw = req.headers.get(&self.header).ok_or(VerifyError::MissingHeader("api key"))?;
        if secret_matches(keys, raw.trim()) { Ok(()) } else { Err(VerifyError::BadToken) }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hostile;

#[cfg(test)]
mod overflow {
    use super::*;

    #[test]
    fn extreme_timestamps_are_refused_not_overflowed() {
        for ts in [i64::MIN, i64::MAX] {
            assert!(check_time(ts, 1_700_000_000, 300).is_err());
        }
        assert!(matches!(check_time(i64::MIN, i64::MAX, i64::MAX), Ok(()) | Err(_)));
    }
}
