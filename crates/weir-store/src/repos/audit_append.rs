//! Appending to the audit chain, and sealing.
//!
//! Every entry is written in the transaction of the change it records, so
//! the trail never claims a change that did not happen, nor misses one that
//! did. Where it joins the chain depends on the backend:
//!
//! - **SQLite** chains it there and then: the transaction holds the
//!   database's one write lock, so appenders already take turns.
//! - **PostgreSQL** writes it to `audit_pending`, taking no lock. The
//!   sealer ([`Store::seal_audit`]) moves committed entries into
//!   `audit_logs` in append order, assigning `seq` and the keyed hashes
//!   under the tenant's chain lock, one short transaction per batch. Every
//!   audit read seals its tenant first, so a read never misses an entry
//!   committed before it. Before, each ingest batch, worker batch and sync
//!   page held the chain lock from its audit insert to its commit, and they
//!   ran one after another (BENCHMARKS.md, issue 18).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, NotSet, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement,
};
use serde_json::Value;
use weir_core::audit::GENESIS_HASH;
use weir_core::ids;

use super::audit::{AuditEntry, expected_hash};
use super::now;
use crate::entities::{audit_logs, audit_pending, audit_record_refs as refs};
use crate::{Store, StoreError};

/// Most pending entries one sealing transaction chains.
const SEAL_BATCH: i64 = 2000;

/// Tenants with entries appended by this process since the sealer last
/// looked, and the signal that wakes it.
#[derive(Debug, Default)]
pub struct SealSignal {
    tenants: Mutex<HashSet<String>>,
    wake: tokio::sync::Notify,
}

impl SealSignal {
    fn note(&self, tenant_id: &str) {
        if let Ok(mut t) = self.tenants.lock()
            && !t.contains(tenant_id)
        {
            t.insert(tenant_id.to_owned());
        }
        self.wake.notify_one();
    }

    /// Waits until an entry is appended (possibly before this call).
    pub async fn appended(&self) {
        self.wake.notified().await;
    }

    /// The tenants noted since the last call.
    pub fn take(&self) -> Vec<String> {
        self.tenants.lock().map(|mut t| t.drain().collect()).unwrap_or_default()
    }
}

/// An entry not yet in the chain.
#[derive(Debug, Clone)]
struct Unchained {
    id: String,
    action: String,
    actor: String,
    resource_type: Option<String>,
    resource_id: Option<String>,
    connector_id: Option<String>,
    details: Value,
    record_keys: Vec<String>,
    created_at: DateTime<Utc>,
}

impl Unchained {
    fn new(entry: AuditEntry, record_keys: Vec<String>, at: DateTime<Utc>) -> Self {
        Self {
            id: ids::new_id(),
            action: entry.action.to_owned(),
            actor: entry.actor,
            resource_type: Some(entry.resource_type.to_owned()),
            resource_id: Some(entry.resource_id),
            connector_id: entry.connector_id,
            details: entry.details,
            record_keys,
            created_at: at,
        }
    }

    fn pending(self, tenant_id: &str) -> audit_pending::ActiveModel {
        audit_pending::ActiveModel {
            no: NotSet,
            id: Set(self.id),
            tenant_id: Set(tenant_id.to_owned()),
            action: Set(self.action),
            actor: Set(self.actor),
            resource_type: Set(self.resource_type),
            resource_id: Set(self.resource_id),
            connector_id: Set(self.connector_id),
            details: Set(self.details),
            record_keys: Set((!self.record_keys.is_empty()).then(|| Value::from(self.record_keys))),
            created_at: Set(self.created_at),
        }
    }

    fn from_pending(m: audit_pending::Model) -> Self {
        let record_keys = match m.record_keys {
            Some(Value::Array(keys)) => keys.into_iter().filter_map(|k| k.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        };
        Self {
            id: m.id,
            action: m.action,
            actor: m.actor,
            resource_type: m.resource_type,
            resource_id: m.resource_id,
            connector_id: m.connector_id,
            details: m.details,
            record_keys,
            created_at: m.created_at,
        }
    }
}

impl Store {
    /// Appends `entries`, in order, to one tenant's trail on `conn`, a
    /// write transaction (`Store::write_txn`): chained now on SQLite,
    /// sealed after commit on PostgreSQL (see the module docs).
    pub(crate) async fn append_audits<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant_id: &str,
        entries: Vec<AuditEntry>,
    ) -> Result<(), StoreError> {
        let at = now();
        let entries = entries.into_iter().map(|e| Unchained::new(e, Vec::new(), at)).collect();
        self.append_unchained(conn, tenant_id, entries).await
    }

    /// Appends `entry`, which lists records, and indexes it under each of
    /// their keys (`entity_type/external_id`) so per-record queries find it.
    pub(crate) async fn append_audit_listing<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant_id: &str,
        entry: AuditEntry,
        record_keys: Vec<String>,
    ) -> Result<(), StoreError> {
        let entry = Unchained::new(entry, record_keys, now());
        self.append_unchained(conn, tenant_id, vec![entry]).await
    }

    async fn append_unchained<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant_id: &str,
        entries: Vec<Unchained>,
    ) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        self.audit_key()?;
        let Some(signal) = &self.seal_signal else {
            return self.chain(conn, tenant_id, entries).await;
        };
        // Rows per statement as for events: see `ingest::statement_limits`.
        let (_, max_rows) = super::ingest::statement_limits(conn.get_database_backend());
        let mut rows = entries.into_iter().map(|e| e.pending(tenant_id)).peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(max_rows).collect();
            audit_pending::Entity::insert_many(chunk).exec_without_returning(conn).await?;
        }
        signal.note(tenant_id);
        Ok(())
    }

    /// Chains `entries`, in order, after the tenant's head on `conn`, and
    /// indexes the records they list. On PostgreSQL it first locks the
    /// tenant row, held to the commit, so chainers take turns.
    async fn chain<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant_id: &str,
        entries: Vec<Unchained>,
    ) -> Result<(), StoreError> {
        let key = self.audit_key()?;
        // NO KEY UPDATE, not UPDATE: it serialises chainers without
        // conflicting with the KEY SHARE locks that foreign-key checks of
        // concurrent inserts take on the same tenant row (which deadlocked).
        if conn.get_database_backend() == DbBackend::Postgres {
            conn.query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT id FROM tenants WHERE id = $1 FOR NO KEY UPDATE",
                [tenant_id.into()],
            ))
            .await?;
        }
        let last = audit_logs::Entity::find()
            .filter(audit_logs::Column::TenantId.eq(tenant_id))
            .order_by_desc(audit_logs::Column::Seq)
            .limit(1)
            .one(conn)
            .await?;
        let (mut seq, mut prev_hash) = last.map_or((0, GENESIS_HASH.to_owned()), |l| (l.seq, l.entry_hash));
        let mut models = Vec::with_capacity(entries.len());
        let mut listed = Vec::new();
        for e in entries {
            seq += 1;
            let mut model = audit_logs::Model {
                id: e.id,
                tenant_id: tenant_id.to_owned(),
                seq,
                action: e.action,
                actor: e.actor,
                resource_type: e.resource_type,
                resource_id: e.resource_id,
                connector_id: e.connector_id,
                details: e.details,
                prev_hash: std::mem::take(&mut prev_hash),
                entry_hash: String::new(),
                created_at: e.created_at,
                body_digest: None,
                pruned_at: None,
            };
            model.entry_hash = expected_hash(key, &model);
            prev_hash.clone_from(&model.entry_hash);
            listed.extend(e.record_keys.into_iter().map(|resource_id| refs::ActiveModel {
                tenant_id: Set(tenant_id.to_owned()),
                resource_id: Set(resource_id),
                seq: Set(seq),
            }));
            models.push(audit_logs::ActiveModel::from(model));
        }
        let (_, max_rows) = super::ingest::statement_limits(conn.get_database_backend());
        let mut models = models.into_iter().peekable();
        while models.peek().is_some() {
            let chunk: Vec<_> = models.by_ref().take(max_rows).collect();
            audit_logs::Entity::insert_many(chunk).exec_without_returning(conn).await?;
        }
        let mut listed = listed.into_iter().peekable();
        while listed.peek().is_some() {
            let chunk: Vec<_> = listed.by_ref().take(500).collect();
            refs::Entity::insert_many(chunk).on_conflict_do_nothing().exec_without_returning(conn).await?;
        }
        Ok(())
    }

    /// The sealer's signal: `Some` on PostgreSQL, where entries wait in
    /// `audit_pending` until they are sealed.
    pub fn seal_signal(&self) -> Option<Arc<SealSignal>> {
        self.seal_signal.clone()
    }

    /// Chains the committed pending entries of `tenant_id`, or of every
    /// tenant, oldest first; answers how many. A no-op on SQLite. Safe to
    /// run from several instances at once: the tenant lock makes them take
    /// turns, and each takes only entries still pending.
    pub async fn seal_audit(&self, tenant_id: Option<&str>) -> Result<u64, StoreError> {
        if self.seal_signal.is_none() {
            return Ok(0);
        }
        let tenants: Vec<String> = match tenant_id {
            Some(t) => {
                let waiting = audit_pending::Entity::find()
                    .select_only()
                    .column(audit_pending::Column::No)
                    .filter(audit_pending::Column::TenantId.eq(t))
                    .limit(1)
                    .into_tuple::<i64>()
                    .one(&self.db)
                    .await?;
                waiting.map(|_| vec![t.to_owned()]).unwrap_or_default()
            }
            None => {
                audit_pending::Entity::find()
                    .select_only()
                    .column(audit_pending::Column::TenantId)
                    .distinct()
                    .into_tuple()
                    .all(&self.db)
                    .await?
            }
        };
        let mut sealed = 0;
        for tenant in tenants {
            loop {
                let n = self.seal_tenant(&tenant).await?;
                sealed += n;
                if n < SEAL_BATCH as u64 {
                    break;
                }
            }
        }
        Ok(sealed)
    }

    /// `VACUUM audit_pending` (PostgreSQL; a no-op on SQLite): the sealer
    /// deletes every row it chains, and a queue table is mostly dead rows
    /// until vacuumed.
    pub async fn vacuum_audit_pending(&self) -> Result<(), StoreError> {
        if self.seal_signal.is_some() {
            self.db.execute_unprepared("VACUUM audit_pending").await?;
        }
        Ok(())
    }

    /// One sealing transaction: under the tenant's chain lock, takes up to
    /// [`SEAL_BATCH`] of its pending entries and chains them in append
    /// order.
    async fn seal_tenant(&self, tenant_id: &str) -> Result<u64, StoreError> {
        let txn = self.background_write_txn().await?;
        txn.query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id FROM tenants WHERE id = $1 FOR NO KEY UPDATE",
            [tenant_id.into()],
        ))
        .await?;
        let mut taken = audit_pending::Model::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM audit_pending WHERE no IN \
             (SELECT no FROM audit_pending WHERE tenant_id = $1 ORDER BY no LIMIT $2) RETURNING *",
            [tenant_id.into(), SEAL_BATCH.into()],
        ))
        .all(&txn)
        .await?;
        let n = taken.len() as u64;
        if n > 0 {
            taken.sort_by_key(|m| m.no);
            // The lock is already held; `chain` takes it again (a no-op).
            self.chain(&txn, tenant_id, taken.into_iter().map(Unchained::from_pending).collect()).await?;
        }
        txn.commit().await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::SealSignal;

    #[test]
    fn the_signal_hands_each_noted_tenant_over_once() {
        let s = SealSignal::default();
        s.note("a");
        s.note("b");
        s.note("a");
        let mut t = s.take();
        t.sort();
        assert_eq!(t, ["a", "b"]);
        assert!(s.take().is_empty());
    }
}
