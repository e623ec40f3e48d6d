//! The one outbound HTTP client every connector shares: connection pooling,
//! rustls (no OpenSSL), no redirects (a redirect could carry credentials to
//! another host), no proxy unless `WEIR_OUTBOUND_PROXY` names one (the
//! `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY` environment is ignored, so it
//! cannot route around the guard), every response body read with a cap
//! (`WEIR_MAX_RESPONSE_BYTES`), and — when `WEIR_OUTBOUND_BLOCK_PRIVATE=true`
//! — the private-address guard (see [`address`]).
//!
//! The guard checks the target itself, before any proxy: IP literals as
//! written; host names on the resolved addresses, through a resolver that
//! drops non-public ones, so DNS tricks do not bypass it. With a proxy the
//! proxy resolves the name, so the guard resolves it first and refuses the
//! request if any address is non-public.

pub mod address;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use address::is_non_public;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Default cap on a response body: 16 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// What outbound requests may reach, and through what.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Refuse non-public targets (multi-tenant deployments).
    pub block_private: bool,
    /// Send every request through this proxy (`http://` or `https://`);
    /// `None` sends directly, whatever the environment says.
    pub proxy: Option<url::Url>,
    /// Bytes of a response body read at most; a longer body is refused.
    pub max_response_bytes: usize,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self { block_private: false, proxy: None, max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES }
    }
}

impl std::fmt::Debug for OutboundPolicy {
    // The proxy URL may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundPolicy")
            .field("block_private", &self.block_private)
            .field("proxy", &self.proxy.as_ref().map(weir_core::redact::redact_password))
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// Message used when the guard refuses a target.
pub const BLOCKED: &str = "target address is not public (refused by WEIR_OUTBOUND_BLOCK_PRIVATE)";

struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs.into_iter().filter(|a| !is_non_public(a.ip())).collect();
            if allowed.is_empty() {
                return Err(BLOCKED.into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The shared client and its policy. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbound {
    client: reqwest::Client,
    policy: Arc<OutboundPolicy>,
}

/// The client could not be built (TLS provider missing, or a proxy URL
/// reqwest does not accept).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the outbound HTTP client: {0}")]
pub struct OutboundError(#[source] reqwest::Error);

/// Why a response body was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The body is longer than `WEIR_MAX_RESPONSE_BYTES`.
    #[error("the response is larger than {limit} bytes (WEIR_MAX_RESPONSE_BYTES); not read further")]
    TooLarge {
        /// The cap in force.
        limit: usize,
    },
    /// The transfer broke off or timed out.
    #[error(transparent)]
    Transport(#[from] reqwest::Error),
}

impl Outbound {
    /// Builds the client. Per-request timeouts come from each connector's
    /// configuration; the connect timeout here bounds the TCP handshake.
    pub fn new(policy: OutboundPolicy) -> Result<Self, OutboundError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")));
        builder = match &policy.proxy {
            Some(proxy) => builder.proxy(reqwest::Proxy::all(proxy.as_str()).map_err(OutboundError)?),
            None => builder.no_proxy(),
        };
        if policy.block_private {
            builder = builder.dns_resolver(Arc::new(GuardedResolver));
        }
        Ok(Self { client: builder.build().map_err(OutboundError)?, policy: Arc::new(policy) })
    }

    /// The pooled client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Refuses a target the policy does not allow, before anything is sent:
    /// a literal non-public IP; with a proxy, also a host name that resolves
    /// to any non-public address (without one the guarded resolver decides
    /// at connect time).
    pub async fn guard(&self, url: &url::Url) -> Result<(), &'static str> {
        if !self.policy.block_private {
            return Ok(());
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) if is_non_public(IpAddr::V4(ip)) => Err(BLOCKED),
            Some(url::Host::Ipv6(ip)) if is_non_public(IpAddr::V6(ip)) => Err(BLOCKED),
            Some(url::Host::Domain(host)) if self.policy.proxy.is_some() => {
                let port = url.port_or_known_default().unwrap_or(0);
                let addrs = tokio::net::lookup_host((host, port)).await.map_err(|_| BLOCKED)?;
                let mut any = false;
                for a in addrs {
                    any = true;
                    if is_non_public(a.ip()) {
                        return Err(BLOCKED);
                    }
                }
                if any { Ok(()) } else { Err(BLOCKED) }
            }
            _ => Ok(()),
        }
    }

    /// Reads `res`'s body, at most `WEIR_MAX_RESPONSE_BYTES` of it: a
    /// declared or actual length beyond the cap stops the read (and drops
    /// the connection) with [`ReadError::TooLarge`], so a partner's huge
    /// page costs at most the cap in memory.
    pub async fn read_capped(&self, mut res: reqwest::Response) -> Result<Vec<u8>, ReadError> {
        let limit = self.policy.max_response_bytes;
        if res.content_length().is_some_and(|n| n > limit as u64) {
            return Err(ReadError::TooLarge { limit });
        }
        let mut out = Vec::with_capacity(res.content_length().map_or(0, |n| n as usize));
        while let Some(chunk) = res.chunk().await? {
            if out.len() + chunk.len() > limit {
                return Err(ReadError::TooLarge { limit });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}
