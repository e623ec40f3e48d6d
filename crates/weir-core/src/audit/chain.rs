//! The keyed hash chain and its signed heads.
//!
//! An entry's hash is `HMAC-SHA256(chain key, "weir-audit-v2\n" || prev_hash
//! || "\n" || header || "\n" || body digest)`, lowercase hex, where
//! - `header` is the canonical JSON of the entry's tenant, id, seq, action,
//!   time, resource type and id, and connector, and
//! - `body digest` is the SHA-256 of the canonical JSON of the rest: the
//!   actor and the details.
//!
//! Splitting the body off lets retention drop a refusal entry's body and
//! keep only its digest: the chain still verifies, and the header (so the
//! action, receiver and connector) of a pruned entry stays covered.
//!
//! A head is `(tenant, seq, hash, signed_at)` signed with Ed25519. Both keys
//! are derived from the master key with HKDF-SHA256 and never stored; the
//! head's public key can be published so that anyone can check a saved head.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::canonical_json;
use crate::MasterKey;

/// The keys of the audit trail, derived from the master key. `Debug` never
/// prints them.
#[derive(Clone)]
pub struct AuditKey {
    mac: [u8; 32],
    signing: SigningKey,
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(<redacted>)")
    }
}

/// The columns of an entry that its hash covers directly.
#[derive(Debug, Clone, Copy)]
pub struct EntryHeader<'a> {
    /// Tenant whose chain it is in.
    pub tenant_id: &'a str,
    /// The entry's id.
    pub id: &'a str,
    /// Its position, from 1.
    pub seq: i64,
    /// Its action, e.g. `webhook.rejected`.
    pub action: &'a str,
    /// When it was appended.
    pub created_at: DateTime<Utc>,
    /// Kind of object.
    pub resource_type: Option<&'a str>,
    /// Object id.
    pub resource_id: Option<&'a str>,
    /// Connector concerned.
    pub connector_id: Option<&'a str>,
}

/// The columns of an entry its hash covers through [`body_digest`] (what
/// retention may drop from a refusal entry).
#[derive(Debug, Clone, Copy)]
pub struct EntryBody<'a> {
    /// Who acted.
    pub actor: &'a str,
    /// The facts.
    pub details: &'a Value,
}

/// SHA-256 (hex) of the canonical JSON of an entry's body.
pub fn body_digest(body: &EntryBody<'_>) -> String {
    let text = canonical_json(&json!({"actor": body.actor, "details": body.details}));
    crate::hex::encode(&Sha256::digest(text.as_bytes()))
}

/// A chain head: the newest entry's position and hash at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadStatement {
    /// Tenant whose chain it is.
    pub tenant_id: String,
    /// The newest entry's seq (0 for an empty chain).
    pub seq: i64,
    /// Its hash ([`super::GENESIS_HASH`] for an empty chain).
    pub hash: String,
    /// When the head was signed.
    pub signed_at: DateTime<Utc>,
}

impl HeadStatement {
    /// The bytes signed: `weir-audit-head-v1\n<tenant>\n<seq>\n<hash>\n<signed_at>`,
    /// with `signed_at` in RFC 3339 with microseconds and `Z`.
    pub fn message(&self) -> String {
        format!(
            "weir-audit-head-v1\n{}\n{}\n{}\n{}",
            self.tenant_id,
            self.seq,
            self.hash,
            self.signed_at.to_rfc3339_opts(SecondsFormat::Micros, true)
        )
    }
}

impl AuditKey {
    /// Derives both keys from the master key (HKDF-SHA256, distinct `info`).
    pub fn derive(master: &MasterKey) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"weir audit trail"), &master.to_bytes());
        let (mut mac, mut seed) = ([0u8; 32], [0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's 8,160-byte output limit, so
        // `expand` cannot fail here.
        let ok = hk.expand(b"chain hmac v1", &mut mac).is_ok() && hk.expand(b"head ed25519 v1", &mut seed).is_ok();
        debug_assert!(ok, "HKDF expand of 32 bytes");
        Self { mac, signing: SigningKey::from_bytes(&seed) }
    }

    /// The hash of an entry (see the module docs), lowercase hex.
    pub fn entry_hash(&self, prev_hash: &str, header: &EntryHeader<'_>, body_digest: &str) -> String {
        let header_json = canonical_json(&json!({
            "tenant_id": header.tenant_id,
            "id": header.id,
            "seq": header.seq,
            "action": header.action,
            "created_at": header.created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            "resource_type": header.resource_type,
            "resource_id": header.resource_id,
            "connector_id": header.connector_id,
        }));
        // HMAC accepts keys of any length: `new_from_slice` cannot fail.
        let Ok(mut m) = Hmac::<Sha256>::new_from_slice(&self.mac) else { return String::new() };
        m.update(b"weir-audit-v2\n");
        m.update(prev_hash.as_bytes());
        m.update(b"\n");
        m.update(header_json.as_bytes());
        m.update(b"\n");
        m.update(body_digest.as_bytes());
        crate::hex::encode(&m.finalize().into_bytes())
    }

    /// The Ed25519 signature of `head`, base64.
    pub fn sign(&self, head: &HeadStatement) -> String {
        STANDARD.encode(self.signing.sign(head.message().as_bytes()).to_bytes())
    }

    /// Whether `signature` (base64) is this installation's signature of `head`.
    pub fn verify(&self, head: &HeadStatement, signature: &str) -> bool {
        let Ok(bytes) = STANDARD.decode(signature) else { return false };
        let Ok(sig) = Signature::from_slice(&bytes) else { return false };
        self.signing.verifying_key().verify_strict(head.message().as_bytes(), &sig).is_ok()
    }

    /// The public key that checks head signatures, base64 of 32 bytes.
    pub fn public_key(&self) -> String {
        STANDARD.encode(self.signing.verifying_key().to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::GENESIS_HASH;

    fn header(seq: i64) -> EntryHeader<'static> {
        EntryHeader {
            tenant_id: "t1",
            id: "e1",
            seq,
            action: "x.y",
            created_at: DateTime::UNIX_EPOCH,
            resource_type: Some("connector"),
            resource_id: Some("r"),
            connector_id: None,
        }
    }

    #[test]
    fn entry_hash_depends_on_key_prev_header_and_body() {
        let k = AuditKey::derive(&MasterKey::from_bytes([1; 32]));
        let other = AuditKey::derive(&MasterKey::from_bytes([2; 32]));
        let body = body_digest(&EntryBody { actor: "a", details: &json!({"n": 1}) });
        let h = k.entry_hash(GENESIS_HASH, &header(1), &body);
        assert_eq!(h.len(), 64);
        assert_eq!(h, k.entry_hash(GENESIS_HASH, &header(1), &body), "deterministic");
        assert_ne!(h, other.entry_hash(GENESIS_HASH, &header(1), &body), "keyed");
        assert_ne!(h, k.entry_hash(&h, &header(1), &body), "covers prev_hash");
        assert_ne!(h, k.entry_hash(GENESIS_HASH, &header(2), &body), "covers seq");
        let renamed = EntryHeader { id: "e2", ..header(1) };
        assert_ne!(h, k.entry_hash(GENESIS_HASH, &renamed, &body), "covers the entry id");
        let moved = EntryHeader { resource_id: Some("other"), ..header(1) };
        assert_ne!(h, k.entry_hash(GENESIS_HASH, &moved, &body), "covers the resource");
        let changed = body_digest(&EntryBody { actor: "a", details: &json!({"n": 2}) });
        assert_ne!(h, k.entry_hash(GENESIS_HASH, &header(1), &changed), "covers the body");
    }

    #[test]
    fn heads_verify_only_unchanged_and_under_the_same_key() {
        let k = AuditKey::derive(&MasterKey::from_bytes([1; 32]));
        let head =
            HeadStatement { tenant_id: "t1".into(), seq: 7, hash: "ab".repeat(32), signed_at: DateTime::UNIX_EPOCH };
        let sig = k.sign(&head);
        assert!(k.verify(&head, &sig));
        assert!(!k.verify(&HeadStatement { seq: 6, ..head.clone() }, &sig));
        assert!(!k.verify(&HeadStatement { hash: "cd".repeat(32), ..head.clone() }, &sig));
        assert!(!AuditKey::derive(&MasterKey::from_bytes([2; 32])).verify(&head, &sig));
        assert!(!k.verify(&head, "not base64!"));
        assert_eq!(STANDARD.decode(k.public_key()).map(|b| b.len()).ok(), Some(32));
    }
}
