//! What intake keeps between requests: receivers by key, prepared (method
//! parsed, secrets opened, schema compiled), so the hot path neither
//! queries nor decrypts per request; and compiled schemas by receiver id.
//!
//! Both are `moka` caches: bounded, with TinyLFU admission, so a flood of
//! one-off keys cannot push out receivers in steady use. Keys with no
//! receiver go to a small negative cache of their own, so random keys
//! never compete with real receivers for room.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use moka::sync::Cache;
use weir_core::MasterKey;
use weir_core::webhook::{ReceiverAuth, key_material};
use weir_store::{KeyedReceiver, Store, StoreError};

use super::schema::compile_schema;

/// How long a looked-up receiver (or its absence) is reused. Changes made
/// through this instance invalidate at once; other instances' show within this.
const CACHE_TTL: Duration = Duration::from_secs(5);
/// Receivers kept at most.
const RECEIVERS_MAX: u64 = 10_000;
/// Unknown keys remembered at most.
const UNKNOWN_MAX: u64 = 1_000;
/// Compiled schemas kept at most.
const SCHEMAS_MAX: u64 = 10_000;

/// A receiver ready to authenticate deliveries.
pub struct ReadyReceiver {
    /// The stored receiver, its tenant and its connector's state.
    pub keyed: KeyedReceiver,
    /// Its parsed method and options.
    pub auth: ReceiverAuth,
    /// Key material: current secret first, then the previous one in grace.
    pub keys: Vec<Vec<u8>>,
    /// Its compiled schema, if it has one.
    pub schema: Option<Arc<jsonschema::Validator>>,
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

/// Values by key with a separate, smaller memory of keys that have none.
#[derive(Clone)]
pub(crate) struct KeyCache<V: Clone + Send + Sync + 'static> {
    found: Cache<String, V>,
    missing: Cache<String, ()>,
}

impl<V: Clone + Send + Sync + 'static> KeyCache<V> {
    pub(crate) fn new(found_max: u64, missing_max: u64, ttl: Duration) -> Self {
        Self {
            found: Cache::builder().max_capacity(found_max).time_to_live(ttl).build(),
            missing: Cache::builder().max_capacity(missing_max).time_to_live(ttl).build(),
        }
    }

    /// `Some(Some(v))` cached, `Some(None)` known to be absent, `None` not cached.
    pub(crate) fn get(&self, key: &str) -> Option<Option<V>> {
        if let Some(v) = self.found.get(key) {
            return Some(Some(v));
        }
        self.missing.contains_key(key).then_some(None)
    }

    pub(crate) fn insert(&self, key: &str, value: Option<V>) {
        match value {
            Some(v) => self.found.insert(key.to_owned(), v),
            None => self.missing.insert(key.to_owned(), ()),
        }
    }

    pub(crate) fn invalidate(&self, key: &str) {
        self.found.invalidate(key);
        self.missing.invalidate(key);
    }

    pub(crate) fn invalidate_all(&self) {
        self.found.invalidate_all();
        self.missing.invalidate_all();
    }
}

/// Receivers and compiled schemas. Cheap to clone (shared).
#[derive(Clone)]
pub(crate) struct Receivers {
    by_key: KeyCache<Arc<ReadyReceiver>>,
    /// Kept across receiver refreshes until the receiver's `updated_at` changes.
    schemas: Cache<String, (DateTime<Utc>, Arc<jsonschema::Validator>)>,
}

impl Receivers {
    pub(crate) fn new() -> Self {
        Self {
            by_key: KeyCache::new(RECEIVERS_MAX, UNKNOWN_MAX, CACHE_TTL),
            schemas: Cache::builder().max_capacity(SCHEMAS_MAX).build(),
        }
    }

    /// The receiver with `key`, prepared (cached for a few seconds).
    pub(crate) async fn get(
        &self,
        store: &Store,
        master_key: &MasterKey,
        key: &str,
    ) -> Result<Option<Arc<ReadyReceiver>>, IntakeError> {
        if let Some(cached) = self.by_key.get(key) {
            return Ok(cached);
        }
        let ready = match store.receiver_by_key(key).await? {
            Some(keyed) => {
                let schema = self.schema_for(&keyed)?;
                Some(Arc::new(prepare(keyed, master_key, schema)?))
            }
            None => None,
        };
        self.by_key.insert(key, ready.clone());
        Ok(ready)
    }

    /// The receiver's compiled schema: reused while `updated_at` is the same.
    fn schema_for(&self, keyed: &KeyedReceiver) -> Result<Option<Arc<jsonschema::Validator>>, IntakeError> {
        let r = &keyed.receiver;
        let Some(schema) = &r.schema else { return Ok(None) };
        if let Some((at, v)) = self.schemas.get(&r.id)
            && at == r.updated_at
        {
            return Ok(Some(v));
        }
        let compiled = Arc::new(compile_schema(schema).map_err(|e| IntakeError::Broken(r.id.clone(), e.to_string()))?);
        self.schemas.insert(r.id.clone(), (r.updated_at, compiled.clone()));
        Ok(Some(compiled))
    }

    pub(crate) fn invalidate(&self, key: &str) {
        self.by_key.invalidate(key);
    }

    pub(crate) fn invalidate_all(&self) {
        self.by_key.invalidate_all();
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

    /// A flood of random keys (far more than either cache holds) leaves a
    /// receiver in use where it was: unknown keys live in their own cache.
    #[test]
    fn a_flood_of_unknown_keys_does_not_evict_a_real_receiver() {
        let cache: KeyCache<u32> = KeyCache::new(100, 10, Duration::from_secs(60));
        // Absence is remembered (for a while), and forgetting a key forgets it.
        cache.insert("gone", None);
        assert_eq!(cache.get("gone"), Some(None));
        cache.invalidate("gone");
        assert_eq!(cache.get("gone"), None);
        cache.insert("real", Some(7));
        for i in 0..50_000 {
            let key = format!("random-{i}");
            assert_eq!(cache.get(&key), None);
            cache.insert(&key, None);
            if i % 1_000 == 0 {
                assert_eq!(cache.get("real"), Some(Some(7)));
            }
        }
        cache.found.run_pending_tasks();
        cache.missing.run_pending_tasks();
        assert_eq!(cache.get("real"), Some(Some(7)));
        assert!(cache.missing.entry_count() <= 10, "the negative cache stays bounded");
        cache.invalidate_all();
        assert_eq!(cache.get("real"), None);
    }
}
