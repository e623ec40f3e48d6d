//! The audit trail's hash chain: each entry's hash covers the previous
//! entry's hash and the entry's own canonical JSON, per tenant, so altering,
//! removing or reordering an entry breaks every hash after it.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `value` as JSON text with object keys sorted at every level, whatever
/// order the value was built or stored in (PostgreSQL's `jsonb` reorders).
pub fn canonical_json(value: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String((*k).clone()).to_string());
                    out.push(':');
                    write(&map[*k], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// `prev_hash` of a tenant's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an entry: `sha256(prev_hash || "\n" || canonical_json)`,
/// lowercase hex. `canonical_json` is the entry serialized with sorted
/// object keys (serde_json's default map keeps keys sorted).
pub fn chain_hash(prev_hash: &str, canonical_json: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical_json.as_bytes());
    crate::hex::encode(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = serde_json::json!({"b": 1, "a": {"d": [ {"z": 1, "y": 2} ], "c": "x"}});
        assert_eq!(canonical_json(&v), r#"{"a":{"c":"x","d":[{"y":2,"z":1}]},"b":1}"#);
    }

    #[test]
    fn hashes_chain_and_depend_on_every_byte() {
        let a = chain_hash(GENESIS_HASH, r#"{"action":"x","seq":1}"#);
        let b = chain_hash(&a, r#"{"action":"y","seq":2}"#);
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_ne!(a, chain_hash(GENESIS_HASH, r#"{"action":"x","seq":2}"#));
        assert_ne!(b, chain_hash(GENESIS_HASH, r#"{"action":"y","seq":2}"#));
        assert_eq!(a, chain_hash(GENESIS_HASH, r#"{"action":"x","seq":1}"#));
    }
}
