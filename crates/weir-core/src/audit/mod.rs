//! The audit trail: its catalogue of actions, and (in [`chain`]) the keyed
//! hash chain. Each entry's hash covers the previous entry's hash and every
//! column of the entry, per tenant, so altering, removing or reordering an
//! entry breaks every hash after it; the key never goes into the database,
//! so whoever holds only the database cannot recompute the chain.

pub mod chain;

pub use chain::{AuditKey, HeadStatement, body_digest};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Every audited action and the operation that writes it (SR-IC-003). The
/// list is the documentation (`docs/audit.md` shows it) and a test checks
/// that the code emits no action missing here.
pub const ACTIONS: &[(&str, &str)] = &[
    ("connector.created", "a connector was created"),
    ("connector.updated", "a connector was changed (directly, or a non-production one)"),
    ("connector.change_requested", "a change of a production connector awaits a second admin"),
    ("connector.change_approved", "a change request was approved and applied"),
    ("connector.change_rejected", "a change request was rejected"),
    ("connector.deleted", "a connector was soft-deleted"),
    ("connector.tested", "a connection test ran (result, latency, status)"),
    ("receiver.created", "a webhook receiver was created"),
    ("receiver.updated", "a receiver's event type, options, schema or state changed"),
    ("receiver.secret_rotated", "a receiver's secret was rotated"),
    ("receiver.deleted", "a receiver was deleted"),
    ("webhook.received", "a delivery was stored or recognised as a duplicate (size, SHA-256, source)"),
    (
        "webhook.rejected",
        "a delivery was refused (status, error type, size, source; never the body); its repeats within a minute are one entry with a count",
    ),
    ("webhook_event.ignored", "no webhook sync configuration takes the event's type"),
    ("webhook_event.failed", "an event failed for good (error type, attempts)"),
    ("webhook_event.replayed", "an operator replayed one event"),
    ("webhook_event.bulk_replayed", "an operator replayed the events matching a filter (filter, count)"),
    ("record.created", "processing created a record"),
    ("record.updated", "processing wrote a new version of a record"),
    ("record.ignored", "an event older than the record held was not applied"),
    ("destination.delivered", "a record was delivered to a configuration's HTTP destination"),
    ("destination.failed", "a delivery to an HTTP destination failed (status, error)"),
    ("field_mapping.created", "a field mapping was created"),
    ("field_mapping.updated", "a field mapping was replaced"),
    ("field_mapping.deleted", "a field mapping was deleted"),
    ("sync_configuration.created", "a sync configuration was created"),
    ("sync_configuration.updated", "a sync configuration was changed"),
    ("sync_configuration.deleted", "a sync configuration was deleted"),
    ("sync.queued", "a run was queued (by a token, or `scheduler`)"),
    ("sync.started", "a runner started a run"),
    (
        "sync.records_written",
        "a run's page changed records: each record's key, version and change (`created`, `updated`, `ignored_stale`)",
    ),
    ("sync.finished", "a run ended (status, duration, every count, error type)"),
    ("sync.cancel_requested", "an operator cancelled a run"),
    (
        "session.created",
        "a dashboard sign-in opened a session: with a token, or a user's with their password or SSO (expiry, method)",
    ),
    ("session.sign_in_failed", "a sign-in with this user's email failed (email, source address, held until)"),
    ("session.ended", "a dashboard session was signed out"),
    ("user.invited", "a user was invited (email, name, role, when the link expires; never the link)"),
    ("user.activated", "an invited user accepted and set a password"),
    ("user.updated", "a user's name, role or email changed (from, to); by SSO also when linked or activated"),
    ("user.provisioned", "a person the identity provider vouched for got an account at first SSO sign-in"),
    ("user.deactivated", "a user was deactivated; their tokens and sessions ended (how many)"),
    ("user.password_changed", "a user changed their password; their other sessions and tokens ended (how many)"),
    ("service_account.created", "a service account was created (name, role)"),
    ("service_account.updated", "a service account's name or role changed (from, to)"),
    ("service_account.deactivated", "a service account was deactivated; its tokens were revoked (how many)"),
    ("user.mfa_enabled", "a user turned on a second factor (TOTP) and got recovery codes"),
    ("user.mfa_disabled", "a user turned their second factor off"),
    ("tenant.settings_updated", "an admin changed the tenant's sign-in settings (mfa_required_for_admins)"),
    (
        "sso.configured",
        "an admin set the tenant's SSO settings (issuer, client id, domains, role mapping; never the secret)",
    ),
    ("sso.removed", "an admin removed the tenant's SSO settings"),
    ("sso.sign_in_refused", "an SSO sign-in was refused (code, reason, email when known, source address)"),
    (
        "user.password_reset",
        "a user's password was set for them (e.g. by `weir demo`); all their sessions and tokens ended",
    ),
];

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

/// The hash entries had before the chain was keyed (builds up to 0.x of
/// 2026-12-02): `sha256(prev_hash || "\n" || canonical_json)`, lowercase
/// hex. Only the one-time re-keying at start-up reads it.
pub fn legacy_chain_hash(prev_hash: &str, canonical_json: &str) -> String {
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
    fn legacy_hash_is_plain_sha256_of_prev_and_content() {
        let a = legacy_chain_hash(GENESIS_HASH, r#"{"action":"x","seq":1}"#);
        assert_eq!(a.len(), 64);
        assert_ne!(a, legacy_chain_hash(GENESIS_HASH, r#"{"action":"x","seq":2}"#));
        assert_eq!(a, legacy_chain_hash(GENESIS_HASH, r#"{"action":"x","seq":1}"#));
    }
}
