//! Per-connector webhook rate limits shared by every instance, kept in
//! Redis (`WEIR_REDIS_URL`): one GCRA state per connector, updated by an
//! atomic Lua script, so N instances together admit the configured rate,
//! not N times it. The local `governor` limiter (`limit.rs`) is the same
//! algorithm for one instance.
//!
//! Redis is optional and never a single point of failure: when it cannot be
//! reached (or answers slower than [`REDIS_TIMEOUT`]) intake falls back to
//! the instance's own limiter — it fails open, never closed — logs a warning
//! (at most every 30 s) and counts `weir_rate_limit_fallback_total`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use tokio::sync::Mutex;

/// Longest a rate-limit check may wait for Redis before falling back.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(100);
/// How long after a failed connection attempt the next one is made.
const RECONNECT_AFTER: Duration = Duration::from_secs(2);

/// GCRA over one key: `ARGV[1]` the emission interval and `ARGV[2]` the
/// burst tolerance, in microseconds; Redis's own clock, so instances'
/// clocks do not matter. Answers 0 (admitted) or the microseconds to wait.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then
  return tat - now - tolerance
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
";

/// The Redis side of the limits. Cheap to clone.
#[derive(Clone)]
pub struct SharedLimits {
    client: redis::Client,
    conn: Arc<Mutex<Option<ConnectionManager>>>,
    last_attempt: Arc<std::sync::Mutex<Option<Instant>>>,
    last_warning: Arc<std::sync::Mutex<Option<Instant>>>,
    script: Arc<redis::Script>,
}

impl std::fmt::Debug for SharedLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedLimits(redis)")
    }
}

impl SharedLimits {
    /// Limits in the Redis at `url` (connected on first use).
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            conn: Arc::default(),
            last_attempt: Arc::default(),
            last_warning: Arc::default(),
            script: Arc::new(redis::Script::new(GCRA)),
        })
    }

    /// Takes one request from `connector_id`'s shared budget of
    /// `per_minute`: `Some(Ok(()))` admitted, `Some(Err(seconds))` over it,
    /// `None` when Redis could not answer (the caller falls back).
    pub async fn admit(&self, connector_id: &str, per_minute: u32) -> Option<Result<(), u64>> {
        match tokio::time::timeout(REDIS_TIMEOUT, self.check(connector_id, per_minute)).await {
            Ok(Ok(0)) => Some(Ok(())),
            Ok(Ok(wait_us)) => Some(Err(u64::try_from(wait_us).unwrap_or(0).div_ceil(1_000_000).max(1))),
            Ok(Err(e)) => {
                self.fallback(&e.to_string());
                None
            }
            Err(_) => {
                self.fallback("timed out");
                None
            }
        }
    }

    async fn check(&self, connector_id: &str, per_minute: u32) -> Result<i64, redis::RedisError> {
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            {
                let Ok(mut last) = self.last_attempt.lock() else {
                    return Err(redis::RedisError::from((redis::ErrorKind::Io, "lock poisoned")));
                };
                if last.is_some_and(|t| t.elapsed() < RECONNECT_AFTER) {
                    return Err(redis::RedisError::from((redis::ErrorKind::Io, "not connected")));
                }
                *last = Some(Instant::now());
            }
            *guard = Some(ConnectionManager::new(self.client.clone()).await?);
        }
        let Some(conn) = guard.as_mut() else {
            return Err(redis::RedisError::from((redis::ErrorKind::Io, "not connected")));
        };
        let mut conn = conn.clone();
        drop(guard);
        let interval_us = 60_000_000 / i64::from(per_minute.max(1));
        // A burst of the whole minute's budget, as the local limiter allows.
        let tolerance_us = interval_us * (i64::from(per_minute) - 1);
        self.script
            .key(format!("weir:rate:{connector_id}"))
            .arg(interval_us)
            .arg(tolerance_us)
            .invoke_async(&mut conn)
            .await
    }

    fn fallback(&self, why: &str) {
        metrics::counter!("weir_rate_limit_fallback_total").increment(1);
        let Ok(mut last) = self.last_warning.lock() else { return };
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(30)) {
            *last = Some(Instant::now());
            tracing::warn!(reason = why, "Redis unreachable: webhook rate limits fall back to this instance's own");
        }
    }
}
