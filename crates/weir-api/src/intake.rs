//! What webhook intake keeps between requests: receivers by key (with
//! their parsed method, opened secrets and compiled JSON Schema validator),
//! cached briefly so the hot path does not query and decrypt per request;
//! and the per-connector rate limiters (GCRA, `governor`).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use weir_core::MasterKey;
use weir_core::webhook::{ReceiverAuth, key_material};
use weir_engine::Ingest;
use weir_store::{KeyedReceiver, Store, StoreError};

/// How long a looked-up receiver is reused. Changes made through this
/// instance invalidate at once; other instances' changes show within this.
const CACHE_TTL: Duration = Duration::from_secs(5);
/// Entries kept before the cache is cleared wholesale (bounds memory under
/// floods of random keys).
const CACHE_MAX: usize = 10_000;

/// A receiver ready to authenticate deliveries.
pub struct ReadyReceiver {
    /// The stored receiver and its connector's state.
    pub keyed: KeyedReceiver,
    /// Its method.
    pub auth: ReceiverAuth,
    /// Key material: current secret first, then the previous one in grace.
    pub keys: Vec<Vec<u8>>,
    /// Its compiled schema, if it has one.
    pub schema: Option<Arc<jsonschema::Validator>>,
}

type Entry = (Instant, Option<Arc<ReadyReceiver>>);
/// A receiver's compiled schema and the `updated_at` it was compiled for.
type CompiledSchema = (chrono::DateTime<chrono::Utc>, Arc<jsonschema::Validator>);
/// A connector's limiter and the limit it was built for.
type Limiter = (u32, Arc<DefaultDirectRateLimiter>);

/// Intake's shared state.
#[derive(Clone)]
pub struct Intake {
    /// The group-commit writer.
    pub ingest: Ingest,
    /// Server default per-connector limit (0 = unlimited).
    pub default_rate_per_minute: u32,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    cache: Arc<Mutex<HashMap<String, Entry>>>,
    /// Compiled schemas by receiver id, kept until the receiver changes
    /// (its `updated_at`), across receiver cache refreshes.
    schemas: Arc<Mutex<HashMap<String, CompiledSchema>>>,
    limiters: Arc<Mutex<HashMap<String, Limiter>>>,
    /// Limits shared across instances through Redis, when configured.
    shared: Option<crate::shared_limit::SharedLimits>,
}

/// A receiver could not be prepared (bad stored data or database).
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored data is unusable (a bug or a wrong key).
    #[error("receiver {0} is unusable: {1}")]
    Broken(String, String),
}

impl Intake {
    /// New intake state.
    pub fn new(ingest: Ingest, default_rate_per_minute: u32, max_body_bytes: usize) -> Self {
        Self {
            ingest,
            default_rate_per_minute,
            max_body_bytes,
            cache: Arc::default(),
            schemas: Arc::default(),
            limiters: Arc::default(),
            shared: None,
        }
    }

    /// These limits, shared with every instance through Redis (falling
    /// back to this instance's own when Redis does not answer).
    pub fn with_shared_limits(mut self, shared: crate::shared_limit::SharedLimits) -> Self {
        self.shared = Some(shared);
        self
    }

    /// The receiver with `key`, prepared (cached for a few seconds).
    pub async fn receiver(
        &self,
        store: &Store,
        master_key: &MasterKey,
        key: &str,
    ) -> Result<Option<Arc<ReadyReceiver>>, IntakeError> {
        if let Ok(cache) = self.cache.lock()
            && let Some((at, entry)) = cache.get(key)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(entry.clone());
        }
        let ready = match store.receiver_by_key(key).await? {
            Some(keyed) => {
                let schema = self.schema_for(&keyed)?;
                Some(Arc::new(prepare(keyed, master_key, schema)?))
            }
            None => None,
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(key.to_owned(), (Instant::now(), ready.clone()));
        }
        Ok(ready)
    }

    /// The receiver's compiled schema: reused while `updated_at` is the same.
    fn schema_for(&self, keyed: &KeyedReceiver) -> Result<Option<Arc<jsonschema::Validator>>, IntakeError> {
        let r = &keyed.receiver;
        let Some(schema) = &r.schema else { return Ok(None) };
        if let Ok(map) = self.schemas.lock()
            && let Some((at, v)) = map.get(&r.id)
            && *at == r.updated_at
        {
            return Ok(Some(v.clone()));
        }
        let compiled = Arc::new(compile_schema(schema).map_err(|e| IntakeError::Broken(r.id.clone(), e.to_string()))?);
        if let Ok(mut map) = self.schemas.lock() {
            if map.len() >= CACHE_MAX {
                map.clear();
            }
            map.insert(r.id.clone(), (r.updated_at, compiled.clone()));
        }
        Ok(Some(compiled))
    }

    /// Forgets every cached receiver (after a connector changed: its state
    /// and rate limit are part of each of its receivers' entries).
    pub fn invalidate_all(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }

    /// Forgets a receiver (after it changed through this instance).
    pub fn invalidate(&self, key: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(key);
        }
    }

    /// Takes one request from the connector's budget — the shared one in
    /// Redis when configured and reachable, else this instance's;
    /// `Err(seconds)` to wait when over it. `limit` 0 means unlimited.
    pub async fn admit(&self, connector_id: &str, limit: u32) -> Result<(), u64> {
        let Some(per_minute) = NonZeroU32::new(limit) else { return Ok(()) };
        if let Some(shared) = &self.shared
            && let Some(answer) = shared.admit(connector_id, limit).await
        {
            return answer;
        }
        let limiter = {
            let Ok(mut map) = self.limiters.lock() else { return Ok(()) };
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

fn prepare(
    keyed: KeyedReceiver,
    master_key: &MasterKey,
    schema: Option<Arc<jsonschema::Validator>>,
) -> Result<ReadyReceiver, IntakeError> {
    let id = keyed.receiver.id.clone();
    let broken = |why: String| IntakeError::Broken(id.clone(), why);
    let auth = ReceiverAuth::parse(&keyed.receiver.auth).map_err(|e| broken(format!("{e:?}")))?;
    let mut keys = Vec::new();
    for sealed in [&keyed.secret_sealed, &keyed.previous_secret_sealed].into_iter().flatten() {
        let secret = master_key.open(sealed).map_err(|e| broken(e.to_string()))?;
        let secret = String::from_utf8(secret).map_err(|_| broken("secret is not text".into()))?;
        keys.push(key_material(auth.method(), &secret).map_err(|e| broken(e.to_owned()))?);
    }
    Ok(ReadyReceiver { keyed, auth, keys, schema })
}

/// Most backtracking steps one `pattern` may take on one value. Patterns
/// with lookaround or backreferences run on a backtracking engine; a
/// pathological one would otherwise spend up to the engine's default of a
/// million steps (~57 ms measured) of shared intake CPU per delivery. Over
/// the limit the value is refused, so such a schema fails closed.
pub const PATTERN_BACKTRACK_LIMIT: usize = 10_000;

/// Compiles a receiver's JSON Schema the one way intake and validation of
/// a new schema both use: no remote references (the crate is built without
/// them) and bounded pattern backtracking.
pub fn compile_schema(
    schema: &serde_json::Value,
) -> Result<jsonschema::Validator, jsonschema::ValidationError<'static>> {
    jsonschema::options()
        .with_pattern_options(jsonschema::PatternOptions::fancy_regex().backtrack_limit(PATTERN_BACKTRACK_LIMIT))
        .build(schema)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A value that needs more backtracking than the limit is refused,
    /// though the engine's default limit would have accepted it.
    #[test]
    fn pattern_backtracking_is_bounded() {
        // The first branch fails only after trying exponentially many splits; the second then matches.
        let schema = json!({"type": "string", "pattern": "^(?:(?=(a|aa)*)(a|aa)*(?!x)c$|a+$)"});
        let ours = compile_schema(&schema).unwrap();
        let default = jsonschema::validator_for(&schema).unwrap();
        let n = (5..30)
            .find(|n| {
                let v = json!("a".repeat(*n));
                default.is_valid(&v) && !ours.is_valid(&v)
            })
            .expect("a length where the bounded engine gives up and the default does not");
        assert!(n < 30);
        // Ordinary patterns are unaffected.
        let plain = compile_schema(&json!({"type": "string", "pattern": "^[a-z]+-[0-9]{3}$"})).unwrap();
        assert!(plain.is_valid(&json!("order-123")) && !plain.is_valid(&json!("order-12")));
    }
}
