//! Checking a tenant's audit chain (streamed, in constant memory), signing
//! its head, re-keying chains written before the chain was keyed, and
//! pruning the bodies of old refusal entries for retention.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::json;
use weir_core::audit::{GENESIS_HASH, HeadStatement, canonical_json, legacy_chain_hash};

use super::audit::{body_digest_of, expected_hash};
use super::now;
use crate::entities::audit_logs;
use crate::{Store, StoreError, TenantScope};

/// Rows read per query while walking a chain.
const CHUNK: u64 = 1000;

/// The only action whose entries retention may prune (their body holds a
/// refused client's address and the refusal detail; no accepted data).
pub const PRUNABLE_ACTION: &str = "webhook.rejected";

/// A head saved earlier (from `GET /audit-logs/head`) to check the chain
/// against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedHead {
    /// Its seq.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
}

/// How the chain relates to a saved head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadCheck {
    /// The entry at the head's seq has the head's hash.
    Matches,
    /// The chain ends before the head's seq: newest entries were removed.
    Truncated,
    /// The entry at the head's seq has another hash, or the chain breaks
    /// before it: entries up to the head were altered.
    Diverged,
}

/// What walking a chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Entries checked (all of them when the chain verifies).
    pub entries: u64,
    /// Entries among them whose body retention pruned.
    pub pruned: u64,
    /// The first entry whose hash or link does not match.
    pub first_invalid_seq: Option<i64>,
    /// The check against a saved head, when one was given.
    pub head: Option<HeadCheck>,
}

impl ChainReport {
    /// Whether the chain verifies and matches the saved head (if any).
    pub fn valid(&self) -> bool {
        self.first_invalid_seq.is_none() && self.head.is_none_or(|h| h == HeadCheck::Matches)
    }

    /// `Ok(entries)` when valid, else the first invalid seq (or, for a head
    /// mismatch alone, 0).
    pub fn outcome(&self) -> Result<u64, i64> {
        if self.valid() { Ok(self.entries) } else { Err(self.first_invalid_seq.unwrap_or(0)) }
    }
}

/// A signed head: the statement, its signature and the key that checks it.
#[derive(Debug, Clone)]
pub struct SignedHead {
    /// What was signed.
    pub statement: HeadStatement,
    /// Ed25519 signature of [`HeadStatement::message`], base64.
    pub signature: String,
    /// The public key, base64 of 32 bytes.
    pub public_key: String,
}

impl Store {
    /// Walks the scope's chain oldest first, a chunk at a time, and checks
    /// every link and hash, and the entry at `against`'s seq.
    pub async fn verify_audit_chain(
        &self,
        scope: &TenantScope,
        against: Option<&SavedHead>,
    ) -> Result<ChainReport, StoreError> {
        let key = self.audit_key()?;
        self.seal_audit(Some(scope.tenant_id())).await?;
        let mut report = ChainReport { entries: 0, pruned: 0, first_invalid_seq: None, head: None };
        let (mut prev, mut last_seq) = (GENESIS_HASH.to_owned(), 0i64);
        'walk: loop {
            let rows = self.audit_rows_after(&self.db, scope.tenant_id(), last_seq).await?;
            if rows.is_empty() {
                break;
            }
            for m in rows {
                let pruned = m.pruned_at.is_some();
                let linked = m.seq == last_seq + 1 && m.prev_hash == prev;
                // A pruned entry is a refusal whose body is really gone.
                let prunable = !pruned
                    || (m.action == PRUNABLE_ACTION
                        && m.body_digest.is_some()
                        && m.actor.is_empty()
                        && m.details == serde_json::json!({}));
                if !linked || !prunable || m.entry_hash != expected_hash(key, &m) {
                    report.first_invalid_seq = Some(m.seq.min(last_seq + 1));
                    break 'walk;
                }
                if let Some(h) = against
                    && h.seq == m.seq
                {
                    report.head = Some(if h.hash == m.entry_hash { HeadCheck::Matches } else { HeadCheck::Diverged });
                }
                report.entries += 1;
                report.pruned += u64::from(pruned);
                last_seq = m.seq;
                prev = m.entry_hash;
            }
        }
        if let Some(h) = against
            && report.head.is_none()
        {
            // Not met during the walk: the chain broke or ended before it.
            report.head = Some(match report.first_invalid_seq {
                None if h.seq == 0 && h.hash == GENESIS_HASH => HeadCheck::Matches,
                None if h.seq > last_seq => HeadCheck::Truncated,
                _ => HeadCheck::Diverged,
            });
        }
        Ok(report)
    }

    /// The scope's chain head now, signed.
    pub async fn audit_head(&self, scope: &TenantScope) -> Result<SignedHead, StoreError> {
        let key = self.audit_key()?;
        self.seal_audit(Some(scope.tenant_id())).await?;
        let newest = audit_logs::Entity::find()
            .filter(audit_logs::Column::TenantId.eq(scope.tenant_id()))
            .order_by_desc(audit_logs::Column::Seq)
            .limit(1)
            .one(&self.db)
            .await?;
        // Never sign what Weir did not write: a row added behind its back.
        if newest.as_ref().is_some_and(|m| m.entry_hash != expected_hash(key, m)) {
            return Err(StoreError::StateConflict("the newest audit entry does not verify; run verify"));
        }
        let (seq, hash) = newest.map_or((0, GENESIS_HASH.to_owned()), |m| (m.seq, m.entry_hash));
        let statement = HeadStatement { tenant_id: scope.tenant_id().to_owned(), seq, hash, signed_at: now() };
        Ok(SignedHead { signature: key.sign(&statement), public_key: key.public_key(), statement })
    }

    /// Every tenant's head now, signed (tenants with no entry have none).
    pub async fn audit_heads(&self) -> Result<Vec<SignedHead>, StoreError> {
        let key = self.audit_key()?;
        self.seal_audit(None).await?;
        let tenants: Vec<(String, i64)> = audit_logs::Entity::find()
            .select_only()
            .column(audit_logs::Column::TenantId)
            .column_as(audit_logs::Column::Seq.max(), "seq")
            .group_by(audit_logs::Column::TenantId)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut heads = Vec::with_capacity(tenants.len());
        for (tenant_id, seq) in tenants {
            let newest = audit_logs::Entity::find()
                .filter(audit_logs::Column::TenantId.eq(tenant_id.as_str()))
                .filter(audit_logs::Column::Seq.eq(seq))
                .one(&self.db)
                .await?;
            let Some(m) = newest else { continue };
            if m.entry_hash != expected_hash(key, &m) {
                tracing::error!(tenant_id = %tenant_id, seq, "the newest audit entry does not verify; its head is not signed");
                continue;
            }
            let statement = HeadStatement { tenant_id, seq, hash: m.entry_hash, signed_at: now() };
            heads.push(SignedHead { signature: key.sign(&statement), public_key: key.public_key(), statement });
        }
        Ok(heads)
    }

    /// Whether `signature` is this installation's signature of `statement`.
    pub fn audit_head_signed(&self, statement: &HeadStatement, signature: &str) -> Result<bool, StoreError> {
        Ok(self.audit_key()?.verify(statement, signature))
    }

    /// Up to [`CHUNK`] entries of `tenant_id` after `after`, oldest first.
    async fn audit_rows_after<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant_id: &str,
        after: i64,
    ) -> Result<Vec<audit_logs::Model>, StoreError> {
        Ok(audit_logs::Entity::find()
            .filter(audit_logs::Column::TenantId.eq(tenant_id))
            .filter(audit_logs::Column::Seq.gt(after))
            .order_by_asc(audit_logs::Column::Seq)
            .limit(CHUNK)
            .all(conn)
            .await?)
    }

    /// Re-keys the chains written by builds before the chain was keyed:
    /// each tenant's chain that verifies under the old unkeyed hash gets
    /// keyed hashes, one transaction per tenant; a chain that does not is
    /// left as it is (and `verify` reports it). Runs only when this process
    /// applied the keying migration (000016), or when `forced` by an
    /// operator (`weir audit rekey`, to finish an upgrade that was
    /// interrupted) — never because of what the database holds, which whoever
    /// holds the database controls. Answers the number of chains re-keyed.
    pub async fn upgrade_audit_chain(&self, forced: bool) -> Result<u64, StoreError> {
        use std::sync::atomic::Ordering;
        self.audit_key()?;
        if !forced && !self.keying_migrated.swap(false, Ordering::SeqCst) {
            return Ok(0);
        }
        let tenants: Vec<String> = crate::entities::tenants::Entity::find()
            .select_only()
            .column(crate::entities::tenants::Column::Id)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut upgraded = 0;
        for tenant in &tenants {
            let txn = self.write_txn().await?;
            if self.rekey_tenant(&txn, tenant).await? {
                upgraded += 1;
                tracing::info!(tenant_id = %tenant, "audit chain re-keyed");
            }
            txn.commit().await?;
        }
        Ok(upgraded)
    }

    /// Checks `tenant`'s chain under the unkeyed hash and, if it holds (and
    /// is not empty), rewrites every entry's `prev_hash` and `entry_hash`
    /// keyed (in a savepoint, undone if a later entry does not verify).
    async fn rekey_tenant(&self, txn: &sea_orm::DatabaseTransaction, tenant: &str) -> Result<bool, StoreError> {
        use sea_orm::TransactionTrait;
        let key = self.audit_key()?;
        let savepoint = txn.begin().await?;
        let (mut legacy_prev, mut keyed_prev, mut last) = (GENESIS_HASH.to_owned(), GENESIS_HASH.to_owned(), 0i64);
        loop {
            let rows = self.audit_rows_after(&savepoint, tenant, last).await?;
            if rows.is_empty() {
                break;
            }
            for mut m in rows {
                if m.seq != last + 1 || m.prev_hash != legacy_prev || m.entry_hash != legacy_hash(&m) {
                    savepoint.rollback().await?;
                    if m.seq != 1 || m.entry_hash != expected_hash(key, &m) {
                        tracing::warn!(tenant_id = %tenant, seq = m.seq, "audit chain does not verify under the unkeyed hash; left as it is");
                    }
                    return Ok(false);
                }
                legacy_prev = m.entry_hash.clone();
                last = m.seq;
                m.prev_hash = keyed_prev;
                m.entry_hash = expected_hash(key, &m);
                keyed_prev = m.entry_hash.clone();
                audit_logs::Entity::update_many()
                    .col_expr(audit_logs::Column::PrevHash, Expr::value(m.prev_hash))
                    .col_expr(audit_logs::Column::EntryHash, Expr::value(m.entry_hash))
                    .filter(audit_logs::Column::Id.eq(m.id))
                    .exec(&savepoint)
                    .await?;
            }
        }
        savepoint.commit().await?;
        Ok(last > 0)
    }

    /// Drops the body of up to `batch` refusal entries appended before
    /// `cutoff` whose id is after `after` (ids are time-ordered), keeping
    /// each entry's header, hash and body digest, so the chain still
    /// verifies; the resource and connector stay for per-connector views,
    /// the actor and details (the client's address, the refusal's detail)
    /// go. An entry whose hash does not verify is left untouched: it is
    /// evidence.
    pub async fn prune_refusals_before(
        &self,
        cutoff: DateTime<Utc>,
        after: Option<&str>,
        batch: u64,
    ) -> Result<PruneBatch, StoreError> {
        let key = self.audit_key()?;
        // Candidates first, outside the write transaction (on SQLite it
        // holds the write lock); the literals match the partial index
        // `audit_logs_unpruned_refusals_idx`.
        let mut q = audit_logs::Entity::find()
            .select_only()
            .column(audit_logs::Column::Id)
            .filter(Expr::cust("action = 'webhook.rejected' AND pruned_at IS NULL"))
            .filter(audit_logs::Column::CreatedAt.lt(cutoff));
        if let Some(after) = after {
            q = q.filter(audit_logs::Column::Id.gt(after));
        }
        let ids: Vec<String> = q.order_by_asc(audit_logs::Column::Id).limit(batch).into_tuple().all(&self.db).await?;
        let mut out = PruneBatch { examined: ids.len() as u64, pruned: 0, last_id: ids.last().cloned() };
        if ids.is_empty() {
            return Ok(out);
        }
        let txn = self.background_write_txn().await?;
        let rows = audit_logs::Entity::find()
            .filter(audit_logs::Column::Id.is_in(ids))
            .filter(audit_logs::Column::Action.eq(PRUNABLE_ACTION))
            .filter(audit_logs::Column::PrunedAt.is_null())
            .all(&txn)
            .await?;
        let at = now();
        for m in rows.into_iter().filter(|m| m.entry_hash == expected_hash(key, m)) {
            let stub = audit_logs::ActiveModel {
                id: Set(m.id.clone()),
                actor: Set(String::new()),
                details: Set(json!({})),
                body_digest: Set(Some(body_digest_of(&m))),
                pruned_at: Set(Some(at)),
                ..Default::default()
            };
            audit_logs::Entity::update(stub).exec(&txn).await?;
            out.pruned += 1;
        }
        txn.commit().await?;
        Ok(out)
    }
}

/// What one [`Store::prune_refusals_before`] call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneBatch {
    /// Entries looked at (fewer than the batch: nothing more to do).
    pub examined: u64,
    /// Of them, pruned (the others did not verify and were kept).
    pub pruned: u64,
    /// The last id looked at: where the next call starts.
    pub last_id: Option<String>,
}

/// The hash an entry had under the unkeyed chain.
fn legacy_hash(m: &audit_logs::Model) -> String {
    let content = canonical_json(&json!({
        "tenant_id": m.tenant_id,
        "seq": m.seq,
        "action": m.action,
        "actor": m.actor,
        "resource_type": m.resource_type,
        "resource_id": m.resource_id,
        "connector_id": m.connector_id,
        "details": m.details,
        "created_at": m.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    }));
    legacy_chain_hash(&m.prev_hash, &content)
}
