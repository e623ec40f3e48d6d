//! The hash-chained audit trail: what an entry records, and reading it
//! (appending and sealing are in `audit_append`). Every read seals the
//! tenant's pending entries first (PostgreSQL), so it sees every entry
//! committed before it.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use weir_core::PageRequest;
use weir_core::audit::chain::{EntryBody, EntryHeader};
use weir_core::audit::{AuditKey, body_digest};

use super::{Paged, paged};
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
    /// Appends `entry` to the scope's trail on `conn` (a write transaction:
    /// see [`Store::append_audits`]).
    pub(crate) async fn append_audit<C: ConnectionTrait>(
        &self,
        conn: &C,
        scope: &TenantScope,
        entry: AuditEntry,
    ) -> Result<(), StoreError> {
        self.append_audits(conn, scope.tenant_id(), vec![entry]).await
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
        self.seal_audit(Some(scope.tenant_id())).await?;
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
        self.seal_audit(Some(scope.tenant_id())).await?;
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
