//! Appending to the hash-chained audit trail. Entries are written in the
//! same transaction as the change they record, so the trail never claims a
//! change that did not happen, nor misses one that did.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement};
use serde_json::Value;
use weir_core::audit::chain::{EntryBody, EntryHeader};
use weir_core::audit::{AuditKey, GENESIS_HASH, body_digest};
use weir_core::{PageRequest, ids};

use super::{Paged, now, paged};
use crate::entities::audit_logs;
use crate::{Store, StoreError, TenantScope};

/// What an audit entry records. `details` must never hold secret values.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Dotted action name, e.g. `connector.created`.
    pub action: &'static str,
    /// Who: `token:<id>`, `system` or `cli`.
    pub actor: String,
    /// Kind of object acted on.
    pub resource_type: &'static str,
    /// Its id.
    pub resource_id: String,
    /// The connector concerned, if any (for per-connector views).
    pub connector_id: Option<String>,
    /// What changed (names and non-secret values).
    pub details: Value,
}

impl AuditEntry {
    /// An entry about the tenant itself (its settings, sign-ins refused in
    /// it): the resource is the scope's tenant.
    pub(crate) fn about_tenant(action: &'static str, actor: String, scope: &TenantScope, details: Value) -> Self {
        Self {
            action,
            actor,
            resource_type: "tenant",
            resource_id: scope.tenant_id().to_owned(),
            connector_id: None,
            details,
        }
    }
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Row id.
    pub id: String,
    /// Position in the tenant's chain, from 1.
    pub seq: i64,
    /// Action name.
    pub action: String,
    /// Who acted, e.g. `token:<id>`, `system`, `cli`, `scheduler`, `worker`
    /// or `sync_configuration:<id>`.
    pub actor: String,
    /// Kind of object.
    pub resource_type: Option<String>,
    /// Object id.
    pub resource_id: Option<String>,
    /// Connector concerned.
    pub connector_id: Option<String>,
    /// The action's facts (covered by the entry hash).
    pub details: Value,
    /// Previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub entry_hash: String,
    /// When it was appended (the chain's order is `seq`, not this).
    pub created_at: DateTime<Utc>,
    /// When retention dropped its body (a refusal older than the event
    /// retention window): actor and details are empty since.
    pub pruned_at: Option<DateTime<Utc>>,
}

impl From<audit_logs::Model> for AuditRecord {
    fn from(m: audit_logs::Model) -> Self {
        Self {
            id: m.id,
            seq: m.seq,
            action: m.action,
            actor: m.actor,
            resource_type: m.resource_type,
            resource_id: m.resource_id,
            connector_id: m.connector_id,
            details: m.details,
            prev_hash: m.prev_hash,
            entry_hash: m.entry_hash,
            created_at: m.created_at,
            pruned_at: m.pruned_at,
        }
    }
}

/// The hash `m` should have under `key`: over its body as stored, or, once
/// pruned, over the digest kept of the body it had.
pub(crate) fn expected_hash(key: &AuditKey, m: &audit_logs::Model) -> String {
    let digest = match (&m.pruned_at, &m.body_digest) {
        (Some(_), Some(kept)) => kept.clone(),
        _ => body_digest_of(m),
    };
    let header = EntryHeader {
        tenant_id: &m.tenant_id,
        id: &m.id,
        seq: m.seq,
        action: &m.action,
        created_at: m.created_at,
        resource_type: m.resource_type.as_deref(),
        resource_id: m.resource_id.as_deref(),
        connector_id: m.connector_id.as_deref(),
    };
    key.entry_hash(&m.prev_hash, &header, &digest)
}

/// The digest of `m`'s body as stored.
pub(crate) fn body_digest_of(m: &audit_logs::Model) -> String {
    body_digest(&EntryBody { actor: &m.actor, details: &m.details })
}

/// Audit list filters.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Exact action, e.g. `connector.created`.
    pub action: Option<String>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time only (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Entries about this record (`entity_type/external_id`): its own
    /// (`record.created`, …, written by processing) and the sync run page
    /// entries that list it.
    pub record: Option<String>,
}

fn filtered(scope: &TenantScope, filter: &AuditFilter) -> sea_orm::Select<audit_logs::Entity> {
    let mut q = audit_logs::Entity::find().filter(audit_logs::Column::TenantId.eq(scope.tenant_id()));
    if let Some(a) = &filter.action {
        q = q.filter(audit_logs::Column::Action.eq(a.as_str()));
    }
    if let Some(f) = filter.from {
        q = q.filter(audit_logs::Column::CreatedAt.gte(f));
    }
    if let Some(t) = filter.to {
        q = q.filter(audit_logs::Column::CreatedAt.lt(t));
    }
    if let Some(r) = &filter.record {
        // One subquery of two index lookups: the page entries listing the
        // record (`audit_record_refs`' key) and its own entries (the
        // partial index `audit_logs_record_idx`, matched by the literal).
        use crate::entities::audit_record_refs as refs;
        use sea_orm::sea_query::{Expr, Query, UnionType};
        let t = scope.tenant_id();
        let own = Query::select()
            .column(audit_logs::Column::Seq)
            .from(audit_logs::Entity)
            .and_where(audit_logs::Column::TenantId.eq(t))
            .and_where(Expr::cust("resource_type = 'record'"))
            .and_where(audit_logs::Column::ResourceId.eq(r.as_str()))
            .to_owned();
        let listing = Query::select()
            .column(refs::Column::Seq)
            .from(refs::Entity)
            .and_where(refs::Column::TenantId.eq(t))
            .and_where(refs::Column::ResourceId.eq(r.as_str()))
            .union(UnionType::All, own)
            .to_owned();
        q = q.filter(audit_logs::Column::Seq.in_subquery(listing));
    }
    q
}

impl Store {
    /// Appends `entry` to the scope's chain on `conn` (a write transaction:
    /// see [`Store::append_audits`]).
    pub(crate) async fn append_audit<C: ConnectionTrait>(
        &self,
        conn: &C,
        scope: &TenantScope,
        entry: AuditEntry,
    ) -> Result<(), StoreError> {
        self.append_audits(conn, scope.tenant_id(), vec![entry]).await
    }

    /// Appends `entries`, in order, to one tenant's chain on `conn` — a
    /// write transaction (`Store::write_txn`), which on SQLite holds the
    /// write lock; on PostgreSQL the tenant row is locked here so appends
    /// from several instances take turns.
    pub(crate) async fn append_audits<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant_id: &str,
        entries: Vec<AuditEntry>,
    ) -> Result<(), StoreError> {
        self.append_chain(conn, tenant_id, entries).await.map(|_| ())
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
        use crate::entities::audit_record_refs as refs;
        let seq = self.append_chain(conn, tenant_id, vec![entry]).await?;
        let mut rows = record_keys
            .into_iter()
            .map(|resource_id| refs::ActiveModel {
                tenant_id: sea_orm::Set(tenant_id.to_owned()),
                resource_id: sea_orm::Set(resource_id),
                seq: sea_orm::Set(seq),
            })
            .peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(500).collect();
            refs::Entity::insert_many(chunk).on_conflict_do_nothing().exec_without_returning(conn).await?;
        }
        Ok(())
    }

    /// Appends `entries` and answers the seq of the last (0 if none).
    async fn append_chain<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant_id: &str,
        entries: Vec<AuditEntry>,
    ) -> Result<i64, StoreError> {
        if entries.is_empty() {
            return Ok(0);
        }
        let key = self.audit_key()?;
        // NO KEY UPDATE, not UPDATE: it serialises appenders without
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
        let (mut seq, mut prev_hash) = match last {
            Some(l) => (l.seq, l.entry_hash),
            None => (0, GENESIS_HASH.to_owned()),
        };
        let at = now();
        let mut models = Vec::with_capacity(entries.len());
        for entry in entries {
            seq += 1;
            let mut model = audit_logs::Model {
                id: ids::new_id(),
                tenant_id: tenant_id.to_owned(),
                seq,
                action: entry.action.to_owned(),
                actor: entry.actor,
                resource_type: Some(entry.resource_type.to_owned()),
                resource_id: Some(entry.resource_id),
                connector_id: entry.connector_id,
                details: entry.details,
                prev_hash: prev_hash.clone(),
                entry_hash: String::new(),
                created_at: at,
                body_digest: None,
                pruned_at: None,
            };
            model.entry_hash = expected_hash(key, &model);
            prev_hash = model.entry_hash.clone();
            models.push(audit_logs::ActiveModel::from(model));
        }
        // Rows per statement as for events: see `ingest::statement_limits`.
        let (_, max_rows) = super::ingest::statement_limits(conn.get_database_backend());
        let mut models = models.into_iter().peekable();
        while models.peek().is_some() {
            let chunk: Vec<_> = models.by_ref().take(max_rows).collect();
            audit_logs::Entity::insert_many(chunk).exec_without_returning(conn).await?;
        }
        Ok(seq)
    }

    /// The tenant's audit entries, newest first.
    pub async fn list_audit(&self, scope: &TenantScope, page: PageRequest) -> Result<Paged<AuditRecord>, StoreError> {
        self.list_audit_filtered(scope, &AuditFilter::default(), page).await
    }

    /// The tenant's audit entries matching `filter`, newest first.
    pub async fn list_audit_filtered(
        &self,
        scope: &TenantScope,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Paged<AuditRecord>, StoreError> {
        let query = filtered(scope, filter);
        paged(&self.db, query.order_by_desc(audit_logs::Column::Seq), page).await
    }

    /// Up to `limit` entries matching `filter` after `after_seq`, oldest
    /// first: an export's next chunk.
    pub async fn audit_after(
        &self,
        scope: &TenantScope,
        filter: &AuditFilter,
        after_seq: i64,
        limit: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        Ok(filtered(scope, filter)
            .filter(audit_logs::Column::Seq.gt(after_seq))
            .order_by_asc(audit_logs::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(AuditRecord::from)
            .collect())
    }
}
