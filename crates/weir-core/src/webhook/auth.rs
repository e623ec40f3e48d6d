//! A receiver's authentication method and options, and its secrets.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use crate::FieldErrors;
use crate::connector::NotOneOf;

/// How an HMAC signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacEncoding {
    /// Lowercase (or uppercase) hex.
    Hex,
    /// Standard base64.
    Base64,
}

/// The method names API.md lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiverMethod {
    /// Generic HMAC-SHA256.
    HmacSha256,
    /// Standard Webhooks (and Svix).
    StandardWebhooks,
    /// GitHub `X-Hub-Signature-256`.
    Github,
    /// Stripe `Stripe-Signature`.
    Stripe,
    /// Shopify `X-Shopify-Hmac-Sha256`.
    Shopify,
    /// Slack `X-Slack-Signature`.
    Slack,
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// A header carrying the secret.
    ApiKey,
}

impl ReceiverMethod {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiverMethod::HmacSha256 => "hmac_sha256",
            ReceiverMethod::StandardWebhooks => "standard_webhooks",
            ReceiverMethod::Github => "github",
            ReceiverMethod::Stripe => "stripe",
            ReceiverMethod::Shopify => "shopify",
            ReceiverMethod::Slack => "slack",
            ReceiverMethod::Bearer => "bearer",
            ReceiverMethod::ApiKey => "api_key",
        }
    }
}

impl std::str::FromStr for ReceiverMethod {
    type Err = NotOneOf;

    fn from_str(s: &str) -> Result<Self, NotOneOf> {
        Ok(match s {
            "hmac_sha256" => ReceiverMethod::HmacSha256,
            "standard_webhooks" => ReceiverMethod::StandardWebhooks,
            "github" => ReceiverMethod::Github,
            "stripe" => ReceiverMethod::Stripe,
            "shopify" => ReceiverMethod::Shopify,
            "slack" => ReceiverMethod::Slack,
            "bearer" => ReceiverMethod::Bearer,
            "api_key" => ReceiverMethod::ApiKey,
            _ => {
                return Err(NotOneOf("hmac_sha256 standard_webhooks github stripe shopify slack bearer api_key"));
            }
        })
    }
}

/// A receiver's method with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiverAuth {
    /// Generic HMAC-SHA256 of the body, or of `{timestamp}.{body}` when a
    /// timestamp header is named.
    HmacSha256 {
        /// Signature header (lowercase).
        header: String,
        /// How the signature is written.
        encoding: HmacEncoding,
        /// Text before the signature, e.g. `sha256=`.
        prefix: String,
        /// Header with a Unix timestamp that is part of the signed content.
        timestamp_header: Option<String>,
    },
    /// Standard Webhooks v1 (HMAC), and v1a (ed25519) when a public key is set.
    StandardWebhooks {
        /// `whpk_<base64>` ed25519 public key for v1a signatures.
        public_key: Option<[u8; 32]>,
    },
    /// GitHub's `X-Hub-Signature-256`.
    Github,
    /// Stripe's timestamped `Stripe-Signature`.
    Stripe,
    /// Shopify's base64 `X-Shopify-Hmac-Sha256`.
    Shopify,
    /// Slack's timestamped `X-Slack-Signature` (v0).
    Slack,
    /// Bearer token.
    Bearer,
    /// API key in a header.
    ApiKey {
        /// The header (lowercase).
        header: String,
    },
}

/// Whether text put in a header value reaches the verifier as sent: HTTP
/// reads only visible ASCII (and spaces) as text. Leading and trailing
/// spaces are dropped too, which callers check where it matters.
fn survives_http(s: &str) -> bool {
    s.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

fn header_name(v: Option<&Value>, default: &str, field: &str, errors: &mut FieldErrors) -> String {
    match v {
        None => default.to_owned(),
        Some(Value::String(s))
            if !s.is_empty()
                && s.len() <= 100
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            s.to_ascii_lowercase()
        }
        Some(_) => {
            errors.add(field, "must be a header name");
            default.to_owned()
        }
    }
}

/// `hmac_sha256`'s options: signature header, encoding, prefix and an
/// optional timestamp header (which must differ from the signature's).
fn parse_hmac(obj: &Map<String, Value>, errors: &mut FieldErrors) -> ReceiverAuth {
    let header = header_name(obj.get("header"), "x-signature", "auth.header", errors);
    let encoding = match obj.get("encoding").and_then(Value::as_str) {
        None | Some("hex") => HmacEncoding::Hex,
        Some("base64") => HmacEncoding::Base64,
        Some(_) => {
            errors.add("auth.encoding", "must be hex or base64");
            HmacEncoding::Hex
        }
    };
    let prefix = match obj.get("prefix") {
        None => String::new(),
        Some(Value::String(p)) if p.len() <= 50 && survives_http(p) && !p.starts_with(' ') => p.clone(),
        Some(_) => {
            errors.add("auth.prefix", "must be at most 50 printable ASCII characters, not starting with a space");
            String::new()
        }
    };
    let timestamp_header =
        obj.get("timestamp_header").map(|v| header_name(Some(v), "", "auth.timestamp_header", errors));
    if timestamp_header.as_deref() == Some(header.as_str()) {
        errors.add("auth.timestamp_header", "must differ from the signature header");
    }
    ReceiverAuth::HmacSha256 { header, encoding, prefix, timestamp_header }
}

/// Standard Webhooks' optional `whpk_<base64>` ed25519 public key.
fn parse_public_key(v: Option<&Value>, errors: &mut FieldErrors) -> Option<[u8; 32]> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => {
            let raw = k.strip_prefix("whpk_").unwrap_or(k);
            match STANDARD.decode(raw).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()) {
                Some(b) if ed25519_dalek::VerifyingKey::from_bytes(&b).is_ok() => Some(b),
                _ => {
                    errors.add("auth.public_key", "must be whpk_<base64 of a 32-byte ed25519 key>");
                    None
                }
            }
        }
        Some(_) => {
            errors.add("auth.public_key", "must be a string");
            None
        }
    }
}

impl ReceiverAuth {
    /// The method without its options (its wire name).
    pub fn method(&self) -> ReceiverMethod {
        match self {
            ReceiverAuth::HmacSha256 { .. } => ReceiverMethod::HmacSha256,
            ReceiverAuth::StandardWebhooks { .. } => ReceiverMethod::StandardWebhooks,
            ReceiverAuth::Github => ReceiverMethod::Github,
            ReceiverAuth::Stripe => ReceiverMethod::Stripe,
            ReceiverAuth::Shopify => ReceiverMethod::Shopify,
            ReceiverAuth::Slack => ReceiverMethod::Slack,
            ReceiverAuth::Bearer => ReceiverMethod::Bearer,
            ReceiverAuth::ApiKey { .. } => ReceiverMethod::ApiKey,
        }
    }

    /// Whether the method carries a timestamp (and so a tolerance applies).
    pub fn is_timestamped(&self) -> bool {
        match self {
            ReceiverAuth::HmacSha256 { timestamp_header, .. } => timestamp_header.is_some(),
            ReceiverAuth::StandardWebhooks { .. } | ReceiverAuth::Stripe | ReceiverAuth::Slack => true,
            _ => false,
        }
    }

    /// Parses `{"method": M, …options}`; errors are keyed `auth.<field>`.
    pub fn parse(raw: &Value) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let Some(obj) = raw.as_object() else {
            return Err(FieldErrors::single("auth", "must be an object with a method"));
        };
        let method = match obj.get("method").and_then(Value::as_str) {
            Some(m) => match m.parse::<ReceiverMethod>() {
                Ok(m) => m,
                Err(e) => return Err(FieldErrors::single("auth.method", e.to_string())),
            },
            None => return Err(FieldErrors::single("auth.method", "is required")),
        };
        let allowed: &[&str] = match method {
            ReceiverMethod::HmacSha256 => &["method", "header", "encoding", "prefix", "timestamp_header"],
            ReceiverMethod::StandardWebhooks => &["method", "public_key"],
            ReceiverMethod::ApiKey => &["method", "header"],
            _ => &["method"],
        };
        for k in obj.keys() {
            if !allowed.contains(&k.as_str()) {
                errors.add(format!("auth.{k}"), format!("is not an option of {}", method.as_str()));
            }
        }
        let auth = match method {
            ReceiverMethod::HmacSha256 => parse_hmac(obj, &mut errors),
            ReceiverMethod::StandardWebhooks => {
                ReceiverAuth::StandardWebhooks { public_key: parse_public_key(obj.get("public_key"), &mut errors) }
            }
            ReceiverMethod::Github => ReceiverAuth::Github,
            ReceiverMethod::Stripe => ReceiverAuth::Stripe,
            ReceiverMethod::Shopify => ReceiverAuth::Shopify,
            ReceiverMethod::Slack => ReceiverAuth::Slack,
            ReceiverMethod::Bearer => ReceiverAuth::Bearer,
            ReceiverMethod::ApiKey => {
                ReceiverAuth::ApiKey { header: header_name(obj.get("header"), "x-api-key", "auth.header", &mut errors) }
            }
        };
        errors.into_result().map(|()| auth)
    }

    /// The JSON stored and returned (`method` plus its options).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("method".into(), json!(self.method().as_str()));
        match self {
            ReceiverAuth::HmacSha256 { header, encoding, prefix, timestamp_header } => {
                m.insert("header".into(), json!(header));
                m.insert(
                    "encoding".into(),
                    json!(match encoding {
                        HmacEncoding::Hex => "hex",
                        HmacEncoding::Base64 => "base64",
                    }),
                );
                m.insert("prefix".into(), json!(prefix));
                if let Some(th) = timestamp_header {
                    m.insert("timestamp_header".into(), json!(th));
                }
            }
            ReceiverAuth::StandardWebhooks { public_key: Some(k) } => {
                m.insert("public_key".into(), json!(format!("whpk_{}", STANDARD.encode(k))));
            }
            ReceiverAuth::ApiKey { header } => {
                m.insert("header".into(), json!(header));
            }
            _ => {}
        }
        Value::Object(m)
    }
}

/// A new random secret in the form the method expects: `whsec_<base64 of
/// 32 bytes>` for Standard Webhooks and Stripe, base64url of 32 bytes
/// otherwise.
pub fn generate_secret(method: ReceiverMethod) -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    match method {
        ReceiverMethod::StandardWebhooks | ReceiverMethod::Stripe => format!("whsec_{}", STANDARD.encode(bytes)),
        _ => URL_SAFE_NO_PAD.encode(bytes),
    }
}

/// The key bytes a method signs with, from the secret as the provider gives
/// it: Standard Webhooks decodes the base64 after `whsec_`; every other
/// method (Stripe included) uses the secret's bytes as they are.
///
/// A `bearer` or `api_key` secret is sent as a header value, so it must be
/// one HTTP delivers intact (printable ASCII, no surrounding spaces):
/// anything else could never match.
pub fn key_material(method: ReceiverMethod, secret: &str) -> Result<Vec<u8>, &'static str> {
    if secret.len() < 16 || secret.len() > 512 || secret.chars().any(char::is_control) {
        return Err("must be 16 to 512 printable characters");
    }
    if matches!(method, ReceiverMethod::Bearer | ReceiverMethod::ApiKey)
        && (!survives_http(secret) || secret.starts_with(' ') || secret.ends_with(' '))
    {
        return Err("must be printable ASCII without leading or trailing spaces (it is sent in a header)");
    }
    match method {
        ReceiverMethod::StandardWebhooks => {
            let raw = secret.strip_prefix("whsec_").unwrap_or(secret);
            match STANDARD.decode(raw) {
                Ok(b) if b.len() >= 16 => Ok(b),
                _ => Err("must be whsec_<base64 of at least 16 bytes>"),
            }
        }
        _ => Ok(secret.as_bytes().to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_round_trips_through_its_stored_json() {
        let pk = format!(
            "whpk_{}",
            STANDARD.encode(ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key().to_bytes())
        );
        for raw in [
            json!({"method": "hmac_sha256"}),
            json!({"method": "hmac_sha256", "header": "X-Sig", "encoding": "base64", "prefix": "v1=", "timestamp_header": "X-Ts"}),
            json!({"method": "standard_webhooks"}),
            json!({"method": "standard_webhooks", "public_key": pk}),
            json!({"method": "github"}),
            json!({"method": "stripe"}),
            json!({"method": "shopify"}),
            json!({"method": "slack"}),
            json!({"method": "bearer"}),
            json!({"method": "api_key", "header": "X-Key"}),
        ] {
            let auth = ReceiverAuth::parse(&raw).unwrap();
            assert_eq!(ReceiverAuth::parse(&auth.to_json()).unwrap(), auth, "{raw}");
        }
        assert!(ReceiverAuth::parse(&json!({"method": "github", "header": "x"})).is_err());
        assert!(ReceiverAuth::parse(&json!({"method": "standard_webhooks", "public_key": "whpk_AAAA"})).is_err());
    }
}
