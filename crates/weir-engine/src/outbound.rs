//! The one outbound HTTP client every connector shares: connection pooling,
//! rustls (no OpenSSL), no redirects (a redirect could carry credentials to
//! another host), and — when `WEIR_OUTBOUND_BLOCK_PRIVATE=true` — a resolver
//! that refuses loopback, private, link-local and other non-public
//! addresses, checked on the resolved address so DNS tricks do not bypass it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// What outbound requests may reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Refuse non-public targets (multi-tenant deployments).
    pub block_private: bool,
}

/// Whether `ip` is somewhere a multi-tenant deployment must not let a
/// tenant point Weir at: loopback, private, link-local, CGNAT, unspecified,
/// multicast, documentation and unique-local ranges, and IPv4 mapped into
/// IPv6.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_non_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || s[0] == 0x2001 && s[1] == 0x0db8
        }
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
    policy: OutboundPolicy,
}

/// The client could not be built (TLS provider missing).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the outbound HTTP client: {0}")]
pub struct OutboundError(#[source] reqwest::Error);

impl Outbound {
    /// Builds the client. Per-request timeouts come from each connector's
    /// configuration; the connect timeout here bounds the TCP handshake.
    pub fn new(policy: OutboundPolicy) -> Result<Self, OutboundError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")));
        if policy.block_private {
            builder = builder.dns_resolver(Arc::new(GuardedResolver));
        }
        Ok(Self { client: builder.build().map_err(OutboundError)?, policy })
    }

    /// The pooled client.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Refuses a URL whose host is a literal non-public IP (the resolver
    /// is not consulted for IP literals) when the policy says so.
    pub fn check_url(&self, url: &url::Url) -> Result<(), &'static str> {
        if !self.policy.block_private {
            return Ok(());
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        match ip {
            Some(ip) if is_non_public(ip) => Err(BLOCKED),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_non_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_non_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
