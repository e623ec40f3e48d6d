//! Records: the business system's entities, written idempotently — the same
//! data again changes nothing; different data is a new version.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::Value;
use tracing::instrument;
use weir_core::sync::compare_ordering;
use weir_core::{PageRequest, ids};

use super::{Paged, now};
use crate::entities::records as rec;
use crate::{Store, StoreError, TenantScope};

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
    /// Fields.
    pub data: Value,
    /// Connector it came from.
    pub source_connector_id: Option<String>,
    /// Event it came from.
    pub last_event_id: Option<String>,
    /// The data's ordering value (e.g. the source's `updated_at`): data
    /// ordered before the record's current value is not written.
    pub ordering_value: Option<String>,
}

fn of(scope: &TenantScope) -> sea_orm::Select<rec::Entity> {
    rec::Entity::find().filter(rec::Column::TenantId.eq(scope.tenant_id()))
}

impl Store {
    /// Creates or versions a record on `conn` (part of the caller's
    /// transaction, e.g. the event that produced it).
    ///
    /// The record's row is locked (PostgreSQL `FOR UPDATE`; SQLite's write
    /// transaction serialises anyway) and a concurrent creation resolves to
    /// an update, so two workers writing one key take turns instead of
    /// losing an update. Data older than the record's — by the ordering
    /// value when both have one, else by the event that wrote it (UUIDv7
    /// ids sort by arrival) — is not written (`Stale`).
    pub async fn upsert_record_on<C: ConnectionTrait>(
        &self,
        conn: &C,
        scope: &TenantScope,
        w: RecordWrite,
    ) -> Result<(Record, UpsertOutcome), StoreError> {
        let find = || {
            of(scope)
                .filter(rec::Column::EntityType.eq(w.entity_type.as_str()))
                .filter(rec::Column::ExternalId.eq(w.external_id.as_str()))
                .lock_exclusive()
        };
        let at = now();
        let existing = match find().one(conn).await? {
            Some(m) => m,
            None => {
                let am = rec::ActiveModel {
                    id: Set(ids::new_id()),
                    tenant_id: Set(scope.tenant_id().to_owned()),
                    entity_type: Set(w.entity_type.clone()),
                    external_id: Set(w.external_id.clone()),
                    data: Set(w.data.clone()),
                    version: Set(1),
                    source_connector_id: Set(w.source_connector_id.clone()),
                    last_event_id: Set(w.last_event_id.clone()),
                    ordering_value: Set(w.ordering_value.clone()),
                    created_at: Set(at),
                    updated_at: Set(at),
                };
                let inserted = rec::Entity::insert(am)
                    .on_conflict(
                        OnConflict::columns([rec::Column::TenantId, rec::Column::EntityType, rec::Column::ExternalId])
                            .do_nothing()
                            .to_owned(),
                    )
                    .exec_without_returning(conn)
                    .await?;
                let m = find().one(conn).await?.ok_or(StoreError::NotFound)?;
                if inserted == 1 {
                    return Ok((m.into(), UpsertOutcome::Created));
                }
                // Another transaction created it first: treat it as held.
                m
            }
        };
        let m = existing;
        let newer_event = match (&w.last_event_id, &m.last_event_id) {
            (Some(new), Some(held)) => new.cmp(held),
            _ => Ordering::Equal,
        };
        let order = match (&w.ordering_value, &m.ordering_value) {
            (Some(new), Some(held)) => compare_ordering(new, held),
            _ => newer_event,
        };
        if order == Ordering::Less {
            return Ok((m.into(), UpsertOutcome::Stale));
        }
        if m.data == w.data {
            // Same data from a later event: remember it as the latest writer
            // (no new version), so data older than it stays out.
            if order == Ordering::Greater || newer_event == Ordering::Greater {
                let mut am = m.clone().into_active_model();
                am.last_event_id = Set(w.last_event_id.or(m.last_event_id.clone()));
                am.ordering_value = Set(w.ordering_value.or(m.ordering_value.clone()));
                am.update(conn).await?;
            }
            return Ok((m.into(), UpsertOutcome::Unchanged));
        }
        let version = m.version + 1;
        let mut am = m.into_active_model();
        am.data = Set(w.data);
        am.version = Set(version);
        am.source_connector_id = Set(w.source_connector_id);
        am.last_event_id = Set(w.last_event_id);
        if w.ordering_value.is_some() {
            am.ordering_value = Set(w.ordering_value);
        }
        am.updated_at = Set(at);
        Ok((am.update(conn).await?.into(), UpsertOutcome::Updated))
    }

    /// Creates or versions a record in its own transaction.
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
        let total = q.clone().count(&self.db).await?;
        let items = q
            .order_by_asc(rec::Column::UpdatedAt)
            .order_by_asc(rec::Column::Id)
            .offset(page.offset())
            .limit(page.per_page())
            .all(&self.db)
            .await?
            .into_iter()
            .map(Record::from)
            .collect();
        Ok(Paged { items, total })
    }
}
