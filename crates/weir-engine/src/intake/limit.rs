//! Per-connector rate limits: GCRA through `governor` on this instance, or
//! the same algorithm shared by every instance through Redis
//! ([`SharedLimits`]) when configured and reachable.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::shared_limit::SharedLimits;

/// A connector's limiter and the limit it was built for.
type Limiter = (u32, Arc<DefaultDirectRateLimiter>);

/// The limiters of every connector seen. Cheap to clone (shared).
#[derive(Clone, Default)]
pub(crate) struct Limits {
    local: Arc<Mutex<HashMap<String, Limiter>>>,
    pub(crate) shared: Option<SharedLimits>,
}

impl Limits {
    /// Takes one request from the connector's budget — the shared one in
    /// Redis when configured and reachable, else this instance's;
    /// `Err(seconds)` to wait when over it. `limit` 0 means unlimited.
    pub(crate) async fn admit(&self, connector_id: &str, limit: u32) -> Result<(), u64> {
        let Some(per_minute) = NonZeroU32::new(limit) else { return Ok(()) };
        if let Some(shared) = &self.shared
            && let Some(answer) = shared.admit(connector_id, limit).await
        {
            return answer;
        }
        let limiter = {
            let Ok(mut map) = self.local.lock() else { return Ok(()) };
            match map.get(connector_id) {
                Some((l, lim)) if *l == limit => lim.clone(),
                _ => {
                    let lim = Arc::new(RateLimiter::direct(Quota::per_minute(per_minute)));
                    map.insert(connector_id.to_owned(), (limit, lim.clone()));
                    lim
                }
            }
        };
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}
