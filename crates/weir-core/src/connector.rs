//! Connectors: the outside systems a tenant integrates. Their code, type,
//! environment, HTTP configuration and credentials, parsed and checked here
//! so that nothing invalid reaches storage or the network.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use utoipa::ToSchema;

use crate::FieldErrors;
use crate::tenant::{InvalidSlug, is_slug};

/// A connector's code: a slug unique per tenant among live connectors; the
/// receive URL contains it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectorCode(String);

impl ConnectorCode {
    /// Accepts only slugs.
    pub fn parse(s: &str) -> Result<Self, InvalidSlug> {
        if is_slug(s) { Ok(Self(s.to_owned())) } else { Err(InvalidSlug) }
    }

    /// The code text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A value outside an enumeration.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("must be one of {0}")]
pub struct NotOneOf(pub &'static str);

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        pub enum $name {
            $(
                #[doc = $s]
                #[serde(rename = $s)]
                $variant,
            )+
        }

        impl $name {
            /// All accepted spellings, for messages.
            pub const ALL: &'static str = concat!($($s, " "),+);

            /// The stored and serialized name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s,)+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = NotOneOf;
            fn from_str(s: &str) -> Result<Self, NotOneOf> {
                match s { $($s => Ok($name::$variant),)+ _ => Err(NotOneOf($name::ALL.trim_end())) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// What kind of system a connector talks to.
    ConnectorType { Http = "http", Webhook = "webhook" }
);
string_enum!(
    /// Where the outside system runs; `production` changes need approval.
    Environment { Production = "production", Staging = "staging", Development = "development" }
);
string_enum!(
    /// How Weir authenticates to an `http` connector.
    AuthType { None = "none", Bearer = "bearer", Basic = "basic", ApiKey = "api_key" }
);

impl Default for AuthType {
    fn default() -> Self {
        AuthType::None
    }
}

/// Default `health_path`.
pub const DEFAULT_HEALTH_PATH: &str = "/";
/// Default request timeout for an `http` connector.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Default header for `api_key` auth.
pub const DEFAULT_API_KEY_HEADER: &str = "X-API-Key";

fn default_health_path() -> String {
    DEFAULT_HEALTH_PATH.to_owned()
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

/// `config.auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `none`, `bearer`, `basic` or `api_key`.
    #[serde(rename = "type", default)]
    pub kind: AuthType,
    /// For `api_key`: the header carrying the key (default `X-API-Key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

/// `config` of an `http` connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `http://` or `https://` URL of the remote API.
    pub base_url: String,
    /// Path probed by test-connection (default `/`).
    #[serde(default = "default_health_path")]
    pub health_path: String,
    /// Headers sent with every request (not for secrets: use credentials).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Per-request timeout, 100 to 120000 ms (default 10000).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How to authenticate.
    #[serde(default)]
    pub auth: AuthConfig,
}

impl HttpConfig {
    /// The header that carries an API key.
    pub fn api_key_header(&self) -> &str {
        self.auth.header.as_deref().unwrap_or(DEFAULT_API_KEY_HEADER)
    }

    /// `base_url` joined with `path` (exactly one `/` between them).
    pub fn url_for(&self, path: &str) -> String {
        format!("{}/{}", self.base_url.trim_end_matches('/'), path.trim_start_matches('/'))
    }
}

/// A connector's validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorConfig {
    /// REST/JSON remote.
    Http(HttpConfig),
    /// Inbound only; nothing to configure.
    Webhook,
}

impl ConnectorConfig {
    /// The JSON stored and returned.
    pub fn to_json(&self) -> Value {
        match self {
            ConnectorConfig::Http(c) => serde_json::to_value(c).unwrap_or(Value::Null),
            ConnectorConfig::Webhook => Value::Object(Default::default()),
        }
    }

    /// The auth type the credentials must match.
    pub fn auth_type(&self) -> AuthType {
        match self {
            ConnectorConfig::Http(c) => c.auth.kind,
            ConnectorConfig::Webhook => AuthType::None,
        }
    }

    /// Parses `config` for a connector of `kind`; errors are keyed
    /// `config.<path>`.
    pub fn parse(kind: ConnectorType, raw: Option<&Value>) -> Result<Self, FieldErrors> {
        match kind {
            ConnectorType::Webhook => match raw {
                None | Some(Value::Null) => Ok(ConnectorConfig::Webhook),
                Some(Value::Object(m)) if m.is_empty() => Ok(ConnectorConfig::Webhook),
                Some(_) => Err(FieldErrors::single("config", "a webhook connector takes no config (use {})")),
            },
            ConnectorType::Http => {
                let Some(raw) = raw else {
                    return Err(FieldErrors::single("config", "an http connector needs config.base_url"));
                };
                let config: HttpConfig = serde_json::from_value(raw.clone()).map_err(|e| {
                    let msg = e.to_string();
                    let field = msg
                        .strip_prefix("missing field `")
                        .and_then(|r| r.split('`').next())
                        .map(|f| format!("config.{f}"))
                        .unwrap_or_else(|| "config".to_owned());
                    FieldErrors::single(field, msg)
                })?;
                let errors = validate_http(&config);
                errors.into_result().map(|()| ConnectorConfig::Http(config))
            }
        }
    }
}

fn is_header_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn validate_http(c: &HttpConfig) -> FieldErrors {
    let mut e = FieldErrors::new();
    match url::Url::parse(&c.base_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            if !u.username().is_empty() || u.password().is_some() {
                e.add("config.base_url", "must not carry credentials; use the credentials field");
            }
            if u.query().is_some() || u.fragment().is_some() {
                e.add("config.base_url", "must not have a query or fragment");
            }
        }
        _ => e.add("config.base_url", "must be an http:// or https:// URL with a host"),
    }
    if c.base_url.len() > 2000 {
        e.add("config.base_url", "must be at most 2000 characters");
    }
    if !c.health_path.starts_with('/') || c.health_path.len() > 2000 || c.health_path.chars().any(char::is_control) {
        e.add("config.health_path", "must be a path starting with '/'");
    }
    if !(100..=120_000).contains(&c.timeout_ms) {
        e.add("config.timeout_ms", "must be between 100 and 120000");
    }
    if c.headers.len() > 32 {
        e.add("config.headers", "at most 32 headers");
    }
    for (name, value) in &c.headers {
        if !is_header_name(name) {
            e.add(format!("config.headers.{name}"), "is not a valid header name");
        }
        if value.len() > 4096 || value.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f) {
            e.add(format!("config.headers.{name}"), "is not a valid header value");
        }
    }
    if let Some(h) = &c.auth.header {
        if c.auth.kind != AuthType::ApiKey {
            e.add("config.auth.header", "applies only to auth type api_key");
        } else if !is_header_name(h) {
            e.add("config.auth.header", "is not a valid header name");
        }
    }
    e
}

/// Secrets for an `http` connector's auth. Never logged (its `Debug` is
/// redacted), never returned; stored sealed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Credentials {
    /// Nothing.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: String,
    },
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// User.
        username: String,
        /// Password.
        password: String,
    },
    /// `<header>: <key>`.
    ApiKey {
        /// The key.
        key: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Credentials::None => "none",
            Credentials::Bearer { .. } => "bearer",
            Credentials::Basic { .. } => "basic",
            Credentials::ApiKey { .. } => "api_key",
        };
        write!(f, "Credentials({kind}, <redacted>)")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BearerIn {
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BasicIn {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiKeyIn {
    key: String,
}

fn non_empty(field: &str, value: String, errors: &mut FieldErrors) -> String {
    if value.is_empty() || value.len() > 4096 || value.chars().any(|c| c.is_control()) {
        errors.add(format!("credentials.{field}"), "must be 1 to 4096 printable characters");
    }
    value
}

impl Credentials {
    /// Parses `credentials` as the auth type requires. Messages never echo
    /// the values.
    pub fn parse(auth: AuthType, raw: Option<&Value>) -> Result<Self, FieldErrors> {
        fn shape<T: serde::de::DeserializeOwned>(raw: &Value, expected: &str) -> Result<T, FieldErrors> {
            serde_json::from_value(raw.clone())
                .map_err(|_| FieldErrors::single("credentials", format!("must be exactly {expected} (strings)")))
        }
        let raw = match raw {
            None | Some(Value::Null) => &Value::Object(Default::default()),
            Some(v) => v,
        };
        let mut errors = FieldErrors::new();
        let creds = match auth {
            AuthType::None => {
                if raw.as_object().is_some_and(|o| o.is_empty()) {
                    Credentials::None
                } else {
                    return Err(FieldErrors::single("credentials", "auth type none takes no credentials ({})"));
                }
            }
            AuthType::Bearer => {
                let b: BearerIn = shape(raw, "{\"token\"}")?;
                Credentials::Bearer { token: non_empty("token", b.token, &mut errors) }
            }
            AuthType::Basic => {
                let b: BasicIn = shape(raw, "{\"username\", \"password\"}")?;
                let username = non_empty("username", b.username, &mut errors);
                if username.contains(':') {
                    errors.add("credentials.username", "must not contain ':'");
                }
                Credentials::Basic { username, password: non_empty("password", b.password, &mut errors) }
            }
            AuthType::ApiKey => {
                let k: ApiKeyIn = shape(raw, "{\"key\"}")?;
                Credentials::ApiKey { key: non_empty("key", k.key, &mut errors) }
            }
        };
        errors.into_result().map(|()| creds)
    }

    /// The auth type these credentials serve.
    pub fn auth_type(&self) -> AuthType {
        match self {
            Credentials::None => AuthType::None,
            Credentials::Bearer { .. } => AuthType::Bearer,
            Credentials::Basic { .. } => AuthType::Basic,
            Credentials::ApiKey { .. } => AuthType::ApiKey,
        }
    }

    /// Whether there is anything to seal.
    pub fn is_none(&self) -> bool {
        matches!(self, Credentials::None)
    }

    /// Serialized for sealing.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// From unsealed bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keys(e: FieldErrors) -> Vec<String> {
        e.as_map().keys().cloned().collect()
    }

    #[test]
    fn http_config_defaults_and_rules() {
        let c = ConnectorConfig::parse(ConnectorType::Http, Some(&json!({"base_url": "https://api.example.com/v1"})))
            .unwrap();
        let ConnectorConfig::Http(h) = &c else { panic!() };
        assert_eq!((h.health_path.as_str(), h.timeout_ms, h.auth.kind), ("/", 10_000, AuthType::None));
        assert_eq!(h.url_for("/health"), "https://api.example.com/v1/health");
        assert_eq!(c.to_json()["auth"]["type"], "none");

        let bad = json!({"base_url": "ftp://x", "health_path": "health", "timeout_ms": 5,
                         "headers": {"bad header": "x"}, "auth": {"type": "bearer", "header": "X"}});
        let e = ConnectorConfig::parse(ConnectorType::Http, Some(&bad)).unwrap_err();
        assert_eq!(
            keys(e),
            [
                "config.auth.header",
                "config.base_url",
                "config.headers.bad header",
                "config.health_path",
                "config.timeout_ms"
            ]
        );
        let e = ConnectorConfig::parse(ConnectorType::Http, Some(&json!({"base_url": "http://x", "extra": 1})))
            .unwrap_err();
        assert!(e.as_map().contains_key("config"));
        let e = ConnectorConfig::parse(ConnectorType::Http, Some(&json!({}))).unwrap_err();
        assert!(e.as_map().contains_key("config.base_url"));
        let e =
            ConnectorConfig::parse(ConnectorType::Http, Some(&json!({"base_url": "https://u:p@x.com"}))).unwrap_err();
        assert!(e.as_map().contains_key("config.base_url"));
    }

    #[test]
    fn webhook_connectors_take_no_config() {
        assert_eq!(ConnectorConfig::parse(ConnectorType::Webhook, None).unwrap(), ConnectorConfig::Webhook);
        assert_eq!(ConnectorConfig::parse(ConnectorType::Webhook, Some(&json!({}))).unwrap(), ConnectorConfig::Webhook);
        assert!(ConnectorConfig::parse(ConnectorType::Webhook, Some(&json!({"base_url": "http://x"}))).is_err());
    }

    #[test]
    fn credentials_follow_the_auth_type_and_never_echo() {
        let c = Credentials::parse(AuthType::Basic, Some(&json!({"username": "u", "password": "s3cr3t-XYZ"}))).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert_eq!(Credentials::from_bytes(&c.to_bytes()), Some(c));
        let e = Credentials::parse(AuthType::Bearer, Some(&json!({"key": "s3cr3t-XYZ"}))).unwrap_err();
        assert!(!format!("{e:?}").contains("s3cr3t"));
        assert!(Credentials::parse(AuthType::ApiKey, Some(&json!({"key": ""}))).is_err());
        assert!(Credentials::parse(AuthType::None, Some(&json!({"token": "x"}))).is_err());
        assert_eq!(Credentials::parse(AuthType::None, None).unwrap(), Credentials::None);
        assert!(Credentials::parse(AuthType::Bearer, None).is_err());
    }

    #[test]
    fn enums_parse_their_names_only() {
        assert_eq!("api_key".parse::<AuthType>(), Ok(AuthType::ApiKey));
        assert_eq!("production".parse::<Environment>(), Ok(Environment::Production));
        assert!("prod".parse::<Environment>().unwrap_err().to_string().contains("production"));
        assert!("HTTP".parse::<ConnectorType>().is_err());
        assert!(ConnectorCode::parse("shop").is_ok() && ConnectorCode::parse("Shop").is_err());
    }
}
