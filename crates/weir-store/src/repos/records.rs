//! Records: the business system's entities, written idempotently — the same
//! data again changes nothing; different data is a new version.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::Value;
use tracing::instrument;
use weir_core::sync::compare_ordering;
use weir_core::{PageRequest, ids};

use super::{Paged, now, paged};
use crate::entities::records as rec;
use crate::{Conflict, Store, StoreError, TenantScope};

/// A record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Row id (the tie-breaker of cursor paging).
    pub id: String,
    /// Entity type, e.g. `customer`.
    pub entity_type: String,
    /// The id the outside system gives it.
    pub external_id: String,
    /// Its fields.
    pub data: Value,
    /// 1 on creation, +1 on every change.
    pub version: i64,
    /// The connector that last changed it.
    pub source_connector_id: Option<String>,
    /// The event that last changed it.
    pub last_event_id: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<rec::Model> for Record {
    fn from(m: rec::Model) -> Self {
        Self {
            id: m.id,
            entity_type: m.entity_type,
            external_id: m.external_id,
            data: m.data,
            version: m.version,
            source_connector_id: m.source_connector_id,
            last_event_id: m.last_event_id,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// A new record.
    Created,
    /// New data: a new version.
    Updated,
    /// The same data again: nothing written.
    Unchanged,
    /// Older than the record held (by its ordering value): nothing written.
    Stale,
}

/// A record to write.
#[derive(Debug, Clone)]
pub struct RecordWrite {
    /// Entity type.
    pub entity_type: String,
    /// External id.
    pub external_id: String,
    /// The mapped fields, as the mapping produced them.
    pub data: Value,
    /// Connector it came from.
    pub source_connector_id: Option<String>,
    /// Event it came from.
    pub last_event_id: Option<String>,
    /// The data's ordering value (e.g. the source's `updated_at`): data
    /// ordered before the record's current value is not written.
    pub ordering_value: Option<String>,
}

/// Applies `w` to the held row `m` in memory: stale data is refused, the
/// same data only moves the "latest writer" marks, new data is a version.
fn apply_write(m: &mut rec::Model, w: &RecordWrite, at: DateTime<Utc>) -> UpsertOutcome {
    let newer_event = match (&w.last_event_id, &m.last_event_id) {
        (Some(new), Some(held)) => new.cmp(held),
        _ => Ordering::Equal,
    };
    let order = match (&w.ordering_value, &m.ordering_value) {
        (Some(new), Some(held)) => compare_ordering(new, held),
        _ => newer_event,
    };
    if order == Ordering::Less {
        return UpsertOutcome::Stale;
    }
    if newer_event == Ordering::Greater && w.last_event_id.is_some() {
        m.last_event_id = w.last_event_id.clone();
    }
    if order != Ordering::Less && w.ordering_value.is_some() {
        m.ordering_value = w.ordering_value.clone();
    }
    // By value: `jsonb` gives numbers back normalised (`1e2` as `100`).
    if weir_core::json::same_value(&m.data, &w.data) {
        return UpsertOutcome::Unchanged;
    }
    m.data = w.data.clone();
    m.version += 1;
    m.source_connector_id = w.source_connector_id.clone();
    m.last_event_id = w.last_event_id.clone();
    m.updated_at = at;
    UpsertOutcome::Updated
}

fn of(scope: &TenantScope) -> sea_orm::Select<rec::Entity> {
    rec::Entity::find().filter(rec::Column::TenantId.eq(scope.tenant_id()))
}

impl Store {
    /// Creates or versions a record on `conn` (part of the caller's
    /// transaction, e.g. the event that produced it). See
    /// [`Store::upsert_records_on`].
    pub async fn upsert_record_on<C: ConnectionTrait>(
        &self,
        conn: &C,
        scope: &TenantScope,
        w: RecordWrite,
    ) -> Result<(Record, UpsertOutcome), StoreError> {
        let writes = [(scope, w)];
        let result = match self.upsert_records_on(conn, &writes).await {
            // Created by a concurrent transaction since our read: its row
            // exists now, so a second pass locks it and updates.
            Err(StoreError::Conflict(Conflict::RecordExists)) => self.upsert_records_on(conn, &writes).await,
            other => other,
        };
        result?.pop().ok_or(StoreError::NotFound)
    }

    /// Creates or versions records on `conn`, in the order given (callers
    /// sort by tenant, entity type and key, so concurrent transactions lock
    /// rows in one order). Answers each write's record and outcome.
    ///
    /// Rows are read in one locking query per (tenant, entity type)
    /// (PostgreSQL `FOR UPDATE`; SQLite's write transaction serialises
    /// anyway), writes to one key apply in turn in memory, then new records
    /// are inserted in one statement and changed ones updated. Data older
    /// than the record's — by the ordering value when both have one, else by
    /// the event that wrote it (UUIDv7 ids sort by arrival) — is not written
    /// (`Stale`). A record created by a concurrent transaction since the read
    /// makes the call fail with `Conflict(RecordExists)` having written
    /// nothing new; retrying in the same transaction then updates it.
    pub async fn upsert_records_on<C: ConnectionTrait>(
        &self,
        conn: &C,
        writes: &[(&TenantScope, RecordWrite)],
    ) -> Result<Vec<(Record, UpsertOutcome)>, StoreError> {
        let mut rows = lock_current(conn, writes).await?;
        let at = now();
        let mut out = Vec::with_capacity(writes.len());
        let mut new_keys = Vec::new();
        for (scope, w) in writes {
            let key = (scope.tenant_id().to_owned(), w.entity_type.clone(), w.external_id.clone());
            match rows.get_mut(&key) {
                None => {
                    let m = rec::Model {
                        id: ids::new_id(),
                        tenant_id: key.0.clone(),
                        entity_type: w.entity_type.clone(),
                        external_id: w.external_id.clone(),
                        data: w.data.clone(),
                        version: 1,
                        source_connector_id: w.source_connector_id.clone(),
                        last_event_id: w.last_event_id.clone(),
                        ordering_value: w.ordering_value.clone(),
                        created_at: at,
                        updated_at: at,
                    };
                    out.push((Record::from(m.clone()), UpsertOutcome::Created));
                    new_keys.push(key.clone());
                    rows.insert(key, (m, true, true));
                }
                Some((m, _, changed)) => {
                    let before = m.clone();
                    let outcome = apply_write(m, w, at);
                    *changed |= *m != before;
                    out.push((Record::from(m.clone()), outcome));
                }
            }
        }
        let fresh: Vec<rec::ActiveModel> =
            new_keys.iter().filter_map(|k| rows.get(k)).map(|(m, _, _)| rec::ActiveModel::from(m.clone())).collect();
        insert_fresh(conn, fresh).await?;
        for (m, is_new, changed) in rows.into_values() {
            if changed && !is_new {
                rec::ActiveModel::from(m).reset_all().update(conn).await?;
            }
        }
        Ok(out)
    }

    /// Creates or versions a page of records of one tenant in its own
    /// transaction (a sync run's page), in key order, with one
    /// `sync.records_written` audit entry listing every record the page
    /// changed (key, version, change) and indexed under each key. A
    /// concurrent creation of one of them retries the page once.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id(), records = writes.len()))]
    pub async fn upsert_records(
        &self,
        scope: &TenantScope,
        mut writes: Vec<RecordWrite>,
        run: &crate::SyncHistory,
    ) -> Result<Vec<(Record, UpsertOutcome)>, StoreError> {
        writes.sort_by(|a, b| (&a.entity_type, &a.external_id).cmp(&(&b.entity_type, &b.external_id)));
        let pairs: Vec<(&TenantScope, RecordWrite)> = writes.into_iter().map(|w| (scope, w)).collect();
        let mut retried = false;
        loop {
            let txn = self.background_write_txn().await?;
            match self.upsert_records_on(&txn, &pairs).await {
                Ok(done) => {
                    for (entry, keys) in super::records_audit::page_entries(run, &done) {
                        self.append_audit_listing(&txn, scope.tenant_id(), entry, keys).await?;
                    }
                    txn.commit().await?;
                    return Ok(done);
                }
                Err(StoreError::Conflict(Conflict::RecordExists)) if !retried => retried = true,
                Err(e) => return Err(e),
            }
        }
    }

    /// Creates or versions a record in its own transaction, without an
    /// audit entry: for tools and tests that arrange data (the product's
    /// write paths — processing and sync runs — audit theirs).
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn upsert_record(
        &self,
        scope: &TenantScope,
        w: RecordWrite,
    ) -> Result<(Record, UpsertOutcome), StoreError> {
        let txn = self.write_txn().await?;
        let result = self.upsert_record_on(&txn, scope, w).await?;
        txn.commit().await?;
        Ok(result)
    }

    /// One record.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn get_record(
        &self,
        scope: &TenantScope,
        entity_type: &str,
        external_id: &str,
    ) -> Result<Record, StoreError> {
        of(scope)
            .filter(rec::Column::EntityType.eq(entity_type))
            .filter(rec::Column::ExternalId.eq(external_id))
            .one(&self.db)
            .await?
            .map(Record::from)
            .ok_or(StoreError::NotFound)
    }

    /// Records, oldest change first (so `updated_after` can walk forward),
    /// optionally of one type and changed after a time.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn list_records(
        &self,
        scope: &TenantScope,
        entity_type: Option<&str>,
        updated_after: Option<DateTime<Utc>>,
        after: Option<(DateTime<Utc>, String)>,
        page: PageRequest,
    ) -> Result<Paged<Record>, StoreError> {
        let mut q = of(scope);
        if let Some(t) = entity_type {
            q = q.filter(rec::Column::EntityType.eq(t));
        }
        if let Some(after) = updated_after {
            q = q.filter(rec::Column::UpdatedAt.gt(after));
        }
        // Keyset: strictly after the last row seen in (updated_at, id) order,
        // so rows changing while a client pages are neither skipped nor repeated
        // within one pass.
        let total = q.clone().count(&self.db).await?;
        if let Some((t, id)) = after {
            q = q.filter(
                Condition::any()
                    .add(rec::Column::UpdatedAt.gt(t))
                    .add(Condition::all().add(rec::Column::UpdatedAt.eq(t)).add(rec::Column::Id.gt(id))),
            );
            let items = q
                .order_by_asc(rec::Column::UpdatedAt)
                .order_by_asc(rec::Column::Id)
                .limit(page.per_page())
                .all(&self.db)
                .await?
                .into_iter()
                .map(Record::from)
                .collect();
            return Ok(Paged { items, total });
        }
        paged(&self.db, q.order_by_asc(rec::Column::UpdatedAt).order_by_asc(rec::Column::Id), page).await
    }
}

/// A record row by (tenant, entity type, key), with whether it is new this
/// batch and whether the batch changed it.
type CurrentRows = HashMap<(String, String, String), (rec::Model, bool, bool)>;

/// The existing rows of `writes`' keys, locked (`FOR UPDATE`) in key order.
async fn lock_current<C: ConnectionTrait>(
    conn: &C,
    writes: &[(&TenantScope, RecordWrite)],
) -> Result<CurrentRows, StoreError> {
    let mut rows = CurrentRows::new();
    let mut groups: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for (scope, w) in writes {
        groups.entry((scope.tenant_id(), w.entity_type.as_str())).or_default().push(w.external_id.as_str());
    }
    // Without statistics (a table that grew since its last ANALYZE, or
    // autovacuum off) PostgreSQL estimates a 100-key IN list to match
    // half the table and scans all of it; the key lookup always has its
    // unique index, so say so for this transaction.
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_unprepared("SET LOCAL enable_seqscan = off").await?;
    }
    for ((tenant, entity_type), mut keys) in groups {
        keys.sort_unstable();
        keys.dedup();
        for chunk in keys.chunks(500) {
            let found = rec::Entity::find()
                .filter(rec::Column::TenantId.eq(tenant))
                .filter(rec::Column::EntityType.eq(entity_type))
                .filter(rec::Column::ExternalId.is_in(chunk.iter().copied()))
                .order_by_asc(rec::Column::ExternalId)
                .lock_exclusive()
                .all(conn)
                .await?;
            for m in found {
                rows.insert((m.tenant_id.clone(), m.entity_type.clone(), m.external_id.clone()), (m, false, false));
            }
        }
    }
    Ok(rows)
}

/// Inserts the batch's new records, 250 per statement; a key another
/// transaction inserted meanwhile makes the whole write
/// `Conflict(RecordExists)`, so the transaction is rolled back whole.
async fn insert_fresh<C: ConnectionTrait>(conn: &C, fresh: Vec<rec::ActiveModel>) -> Result<(), StoreError> {
    let expected = fresh.len() as u64;
    let mut inserted = 0;
    let mut fresh = fresh.into_iter().peekable();
    while fresh.peek().is_some() {
        // Bounded statements (a page of records is usually one).
        let chunk: Vec<_> = fresh.by_ref().take(250).collect();
        inserted += rec::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::columns([rec::Column::TenantId, rec::Column::EntityType, rec::Column::ExternalId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    if inserted != expected {
        return Err(StoreError::Conflict(Conflict::RecordExists));
    }
    Ok(())
}
