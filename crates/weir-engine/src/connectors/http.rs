//! `http` connectors: REST/JSON remotes reached with the connector's
//! default headers, timeout and auth (bearer, basic or an API-key header).

use std::collections::BTreeMap;
use std::error::Error as _;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::{RequestBuilder, Response};
use serde_json::Value;
use weir_core::{Credentials, HttpConfig};

use super::{ConnectionTest, Connector, ConnectorError, FetchedPage, PushOutcome};
use crate::Outbound;
use crate::outbound::{BLOCKED, ReadError};

/// Largest body read from a health endpoint when looking for `version`.
const HEALTH_BODY_LIMIT: usize = 64 * 1024;

/// A REST/JSON remote.
pub struct HttpConnector {
    config: HttpConfig,
    credentials: Credentials,
    outbound: Outbound,
}

impl HttpConnector {
    /// A connector over the shared client.
    pub fn new(config: HttpConfig, credentials: Credentials, outbound: Outbound) -> Self {
        Self { config, credentials, outbound }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.config.timeout_ms)
    }

    /// Builds a request to `path` with headers, auth and timeout.
    fn request(&self, method: reqwest::Method, path: &str) -> Result<RequestBuilder, ConnectorError> {
        let url = url::Url::parse(&self.config.url_for(path))
            .map_err(|_| ConnectorError::Connection(format!("invalid URL for path {path:?}")))?;
        let mut req = self.outbound.client().request(method, url).timeout(self.timeout());
        for (name, value) in &self.config.headers {
            req = req.header(name, value);
        }
        req = match &self.credentials {
            Credentials::None => req,
            Credentials::Bearer { token } => req.bearer_auth(token),
            Credentials::Basic { username, password } => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                req.header(reqwest::header::AUTHORIZATION, format!("Basic {encoded}"))
            }
            Credentials::ApiKey { key } => req.header(self.config.api_key_header(), key),
        };
        Ok(req)
    }

    /// Sends a request the outbound guard allows.
    async fn send(&self, req: RequestBuilder) -> Result<Response, ConnectorError> {
        let req = req.build().map_err(|e| classify(&e, self.config.timeout_ms))?;
        self.outbound.guard(req.url()).await.map_err(|m| ConnectorError::Connection(m.to_owned()))?;
        self.outbound.client().execute(req).await.map_err(|e| classify(&e, self.config.timeout_ms))
    }

    /// The body, at most `WEIR_MAX_RESPONSE_BYTES` of it.
    async fn body(&self, res: Response) -> Result<Vec<u8>, ConnectorError> {
        self.outbound.read_capped(res).await.map_err(|e| match e {
            ReadError::TooLarge { limit } => ConnectorError::TooLarge { limit },
            ReadError::Transport(e) => classify(&e, self.config.timeout_ms),
        })
    }
}

/// Turns a transport error into a readable reason (never the credentials:
/// reqwest's messages carry the URL, which holds none).
fn classify(e: &reqwest::Error, timeout_ms: u64) -> ConnectorError {
    if e.is_timeout() {
        return ConnectorError::Timeout(timeout_ms);
    }
    let mut chain = String::new();
    let mut source = e.source();
    while let Some(s) = source {
        chain.push_str(&s.to_string());
        chain.push_str(": ");
        source = s.source();
    }
    let lower = chain.to_lowercase();
    let host = e.url().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    let port = e.url().and_then(|u| u.port_or_known_default()).unwrap_or(0);
    let msg = if chain.contains(BLOCKED) {
        BLOCKED.to_owned()
    } else if lower.contains("connection refused") {
        format!("connection refused by {host}:{port}")
    } else if lower.contains("dns") || lower.contains("failed to lookup") || lower.contains("name or service not known")
    {
        format!("could not resolve host {host}")
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        format!("TLS handshake with {host} failed: {}", chain.trim_end_matches(": "))
    } else if e.is_connect() {
        format!("could not connect to {host}:{port}: {}", chain.trim_end_matches(": "))
    } else {
        format!("request to {host} failed: {}", chain.trim_end_matches(": "))
    };
    ConnectorError::Connection(msg)
}

fn headers_of(res: &Response) -> BTreeMap<String, String> {
    res.headers().iter().filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned()))).collect()
}

fn retry_after(res: &Response) -> Option<u64> {
    res.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}

/// Reads at most `limit` bytes of the body.
async fn read_limited(mut res: Response, limit: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = res.chunk().await {
        let room = limit.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= limit {
            break;
        }
    }
    out
}

#[async_trait::async_trait]
impl Connector for HttpConnector {
    async fn test_connection(&self) -> Result<ConnectionTest, ConnectorError> {
        let started = Instant::now();
        let elapsed = |s: Instant| u64::try_from(s.elapsed().as_millis()).unwrap_or(u64::MAX);
        let sent = match self.request(reqwest::Method::GET, &self.config.health_path) {
            Ok(req) => self.send(req).await,
            Err(e) => Err(e),
        };
        let res = match sent {
            Ok(r) => r,
            Err(e) => {
                return Ok(ConnectionTest {
                    success: false,
                    latency_ms: elapsed(started),
                    status_code: None,
                    api_version: None,
                    error: Some(e.to_string()),
                });
            }
        };
        let latency_ms = elapsed(started);
        let status = res.status();
        let header_version = ["api-version", "x-api-version"]
            .iter()
            .find_map(|h| res.headers().get(*h).and_then(|v| v.to_str().ok()).map(str::to_owned));
        let body = read_limited(res, HEALTH_BODY_LIMIT).await;
        let body_version = serde_json::from_slice::<Value>(&body).ok().and_then(|v| match v.get("version") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        });
        let success = status.is_success();
        Ok(ConnectionTest {
            success,
            latency_ms,
            status_code: Some(status.as_u16()),
            api_version: header_version.or(body_version),
            error: (!success).then(|| {
                format!("HTTP {} {}", status.as_u16(), status.canonical_reason().unwrap_or("")).trim_end().to_owned()
            }),
        })
    }

    async fn fetch_page(&self, path: &str, query: &[(String, String)]) -> Result<FetchedPage, ConnectorError> {
        let req = self.request(reqwest::Method::GET, path)?.query(query).header("accept", "application/json");
        let res = self.send(req).await?;
        let status = res.status().as_u16();
        if !res.status().is_success() {
            return Err(ConnectorError::Status { status, retry_after_secs: retry_after(&res) });
        }
        let headers = headers_of(&res);
        let bytes = self.body(res).await?;
        let body = serde_json::from_slice(&bytes).map_err(|e| ConnectorError::InvalidBody(e.to_string()))?;
        Ok(FetchedPage { status, headers, body, bytes: bytes.len() as u64 })
    }

    async fn fetch_url(&self, url: &str) -> Result<FetchedPage, ConnectorError> {
        let base = url::Url::parse(&self.config.url_for("/"))
            .map_err(|_| ConnectorError::Connection("invalid base URL".to_owned()))?;
        let target =
            base.join(url).map_err(|_| ConnectorError::Connection(format!("invalid next-page URL {url:?}")))?;
        if target.origin() != base.origin() {
            return Err(ConnectorError::Connection(format!(
                "the next-page link leaves the connector's origin ({}); not followed",
                target.origin().ascii_serialization()
            )));
        }
        let mut path = target.path().to_owned();
        // `request` adds the base URL's own path prefix again.
        let prefix = base.path().trim_end_matches('/');
        if !prefix.is_empty() && (path == prefix || path.starts_with(&format!("{prefix}/"))) {
            path = path[prefix.len()..].to_owned();
        }
        let query: Vec<(String, String)> =
            target.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        self.fetch_page(&path, &query).await
    }

    async fn push_batch(&self, path: &str, records: &[Value]) -> Result<PushOutcome, ConnectorError> {
        let req = self.request(reqwest::Method::POST, path)?.json(records);
        let res = self.send(req).await?;
        let status = res.status().as_u16();
        if !res.status().is_success() {
            return Err(ConnectorError::Status { status, retry_after_secs: retry_after(&res) });
        }
        let bytes = self.body(res).await?;
        Ok(PushOutcome { status, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) })
    }
}
