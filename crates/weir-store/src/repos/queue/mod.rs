//! The processing queue on `webhook_events` (a transactional outbox):
//! `pending → processing → completed | failed`. Workers claim batches under
//! a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's single writer
//! makes the same statement atomic), write an event's records and its new
//! status in one transaction, and a lease that expires returns a vanished
//! worker's events to the pool. Replays put events back to `pending`.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, ExprTrait, QueryFilter, QuerySelect};
use tracing::instrument;

use super::records::RecordWrite;
use super::{lease_end, now};
use crate::entities::webhook_events as we;
use weir_core::EventStatus;

use crate::{Store, StoreError, TenantScope};

mod complete;
mod decide;
mod replay;
mod types;

use complete::complete_events;
use decide::{EndingKind, EventEnding};
use types::claimed_from;
pub use types::{ClaimedEvent, EventWork, Finish, PlannedRecord, RecordEffect};

/// Whether `webhook_events` is partitioned by day (PostgreSQL). There,
/// updates by id also name the events' arrival times, which prunes them to
/// the partitions holding the events instead of probing every day's index.
fn partitioned(backend: sea_orm::DbBackend) -> bool {
    backend == sea_orm::DbBackend::Postgres
}

impl Store {
    /// Claims due events for `owner` for `lease`: up to `limit` pending
    /// events whose time has come, plus up to `limit` claimed events whose
    /// lease expired (their worker vanished). Each claim counts an attempt.
    pub async fn claim_events(
        &self,
        owner: &str,
        limit: u64,
        lease: Duration,
    ) -> Result<Vec<ClaimedEvent>, StoreError> {
        self.claim_due_events(owner, limit, lease, true).await
    }

    /// Like [`Store::claim_events`], looking for expired leases only when
    /// `expired` is true (workers look now and then, not at every claim).
    #[instrument(skip_all, fields(limit, expired))]
    pub async fn claim_due_events(
        &self,
        owner: &str,
        limit: u64,
        lease: Duration,
        expired: bool,
    ) -> Result<Vec<ClaimedEvent>, StoreError> {
        let at = now();
        // Two ordered scans of partial indexes (see migration 000003):
        // pending events that are due, and claims whose lease expired — each
        // its own statement (one `OR` of both would make PostgreSQL scan the
        // table). The rows they find are locked (`SKIP LOCKED`: claimers
        // never wait for each other) and then updated by id and arrival
        // time, which on PostgreSQL prunes the update to the day partitions
        // that hold them. SQLite ignores the lock clause: there the write
        // transaction already serialises claimers.
        let candidates =
            |status: EventStatus,
             column: we::Column,
             op: fn(we::Column, DateTime<Utc>) -> sea_orm::sea_query::SimpleExpr| {
                Query::select()
                    .columns([we::Column::Id, we::Column::ReceivedAt])
                    .from(we::Entity)
                    // A literal, so that a generic plan can use the partial index.
                    .and_where(Expr::cust(format!("processing_status = '{status}'")))
                    .and_where(op(column, at))
                    .order_by(column, sea_orm::Order::Asc)
                    .limit(limit)
                    .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
                    .to_owned()
            };
        let pending = candidates(EventStatus::Pending, we::Column::NextAttemptAt, |c, at| c.lte(at));
        let mut selects = vec![pending];
        if expired {
            selects.push(candidates(EventStatus::Processing, we::Column::LeaseExpiresAt, |c, at| c.lt(at)));
        }
        let txn = self.background_write_txn().await?;
        let backend = txn.get_database_backend();
        let mut ids = Vec::new();
        let mut days = HashSet::new();
        for select in selects {
            for row in txn.query_all_raw(backend.build(&select)).await? {
                ids.push(row.try_get::<String>("", "id")?);
                days.insert(row.try_get::<DateTime<Utc>>("", "received_at")?);
            }
        }
        if ids.is_empty() {
            txn.commit().await?;
            return Ok(Vec::new());
        }
        let mut claim = we::Entity::update_many()
            .col_expr(we::Column::ProcessingStatus, Expr::value(EventStatus::Processing))
            .col_expr(we::Column::LeaseOwner, Expr::value(owner))
            .col_expr(we::Column::LeaseExpiresAt, Expr::value(lease_end(at, lease)))
            .col_expr(we::Column::Attempts, Expr::col(we::Column::Attempts).add(1))
            .col_expr(we::Column::UpdatedAt, Expr::value(at))
            .filter(we::Column::Id.is_in(ids));
        if partitioned(backend) {
            claim = claim.filter(we::Column::ReceivedAt.is_in(days));
        }
        let mut claimed = claim.exec_with_returning(&txn).await?;
        txn.commit().await?;
        claimed.sort_by(|a, b| a.next_attempt_at.cmp(&b.next_attempt_at).then_with(|| a.id.cmp(&b.id)));
        Ok(claimed.into_iter().map(claimed_from).collect())
    }

    /// Extends `owner`'s leases on `ids` (a long delivery keeps its claim).
    pub async fn extend_leases(&self, owner: &str, ids: &[String], lease: Duration) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        we::Entity::update_many()
            .col_expr(we::Column::LeaseExpiresAt, Expr::value(lease_end(now(), lease)))
            .filter(we::Column::Id.is_in(ids.iter().cloned()))
            .filter(we::Column::LeaseOwner.eq(owner))
            .filter(we::Column::ProcessingStatus.eq(EventStatus::Processing))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Returns `owner`'s claimed events to `pending` without counting the
    /// attempt (graceful shutdown). Answers how many were released.
    #[instrument(skip_all)]
    pub async fn release_claims(&self, owner: &str) -> Result<u64, StoreError> {
        let at = now();
        let txn = self.write_txn().await?;
        let r = we::Entity::update_many()
            .col_expr(we::Column::ProcessingStatus, Expr::value(EventStatus::Pending))
            .col_expr(we::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(we::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
            .col_expr(we::Column::Attempts, Expr::cust("CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"))
            .col_expr(we::Column::NextAttemptAt, Expr::value(at))
            .col_expr(we::Column::UpdatedAt, Expr::value(at))
            .filter(we::Column::LeaseOwner.eq(owner))
            .filter(we::Column::ProcessingStatus.eq(EventStatus::Processing))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(r.rows_affected)
    }

    /// Writes a batch of events' records and ends their attempts, all in one
    /// transaction: records upserted (idempotent, versioned, ordered), each
    /// change audited, each finished event's status, result, attempt log,
    /// audit entry and rollup counters. An event whose lease `owner` lost
    /// gets nothing written — no records, no status (its new holder does
    /// the work). Answers each work item's record effects (empty for those).
    /// What to write is decided by [`decide::decide`]; this only persists
    /// it, locking in one order: the held events, the records in key order,
    /// retries and failures, then completions, connector activity, audits and
    /// the day's counters.
    #[instrument(skip_all, fields(events = works.len()))]
    pub async fn process_events(
        &self,
        owner: &str,
        mut works: Vec<EventWork<'_>>,
    ) -> Result<Vec<Vec<RecordEffect>>, StoreError> {
        let txn = self.background_write_txn().await?;
        let at = now();
        let arrivals: HashSet<DateTime<Utc>> = works.iter().map(|w| w.event.received_at).collect();
        let held = held_events(&txn, owner, &works, &arrivals).await?;
        let writes = decide::record_writes(&mut works, &held);
        let batch: Vec<(&TenantScope, RecordWrite)> =
            writes.iter().map(|(i, planned)| (&works[*i].event.scope, planned.write.clone())).collect();
        let written = self.upsert_records_on(&txn, &batch).await?;
        let decided = decide::decide(works, &held, writes, written, at);
        for ending in &decided.endings {
            end_event(&txn, ending, at).await?;
        }
        for chunk in decided.completed.chunks(64) {
            complete_events(&txn, chunk, &arrivals, at).await?;
        }
        let health_changes = decided.activity.write(&txn, at).await?;
        // Last: the counters lock the day's rollup rows (as every writer
        // takes them, last before the commit); hold them briefly.
        for (tenant, (_, entries)) in decided.audits {
            self.append_audits(&txn, &tenant, entries).await?;
        }
        decided.days.write(&txn).await?;
        decided.errors.write(&txn).await?;
        txn.commit().await?;
        self.announce_health(&health_changes);
        Ok(decided.effects)
    }
}

/// The events of `works` that `owner` still holds, locked for this
/// transaction (`SELECT … FOR UPDATE`): a worker whose lease was taken over
/// writes nothing for them.
async fn held_events(
    txn: &DatabaseTransaction,
    owner: &str,
    works: &[EventWork<'_>],
    arrivals: &HashSet<DateTime<Utc>>,
) -> Result<HashSet<String>, StoreError> {
    let ids: Vec<String> = works.iter().map(|w| w.event.id.clone()).collect();
    let mut held = we::Entity::find().select_only().column(we::Column::Id).filter(we::Column::Id.is_in(ids));
    if partitioned(txn.get_database_backend()) {
        held = held.filter(we::Column::ReceivedAt.is_in(arrivals.iter().copied()));
    }
    Ok(held
        .filter(we::Column::LeaseOwner.eq(owner))
        .filter(we::Column::ProcessingStatus.eq(EventStatus::Processing))
        .lock_exclusive()
        .into_tuple::<String>()
        .all(txn)
        .await?
        .into_iter()
        .collect())
}

/// Writes a retry or a failure to the event's row. The event is held and
/// locked by this transaction, so the update applies.
async fn end_event(txn: &DatabaseTransaction, ending: &EventEnding, at: DateTime<Utc>) -> Result<(), StoreError> {
    let mut update = we::Entity::update_many()
        .col_expr(we::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(we::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(we::Column::AttemptLog, Expr::value(ending.attempt_log.clone()))
        .col_expr(we::Column::UpdatedAt, Expr::value(at));
    update = match &ending.kind {
        EndingKind::Retry { next } => update
            .col_expr(we::Column::ProcessingStatus, Expr::value(EventStatus::Pending))
            .col_expr(we::Column::NextAttemptAt, Expr::value(*next)),
        EndingKind::Failed { result } => update
            .col_expr(we::Column::ProcessingStatus, Expr::value(EventStatus::Failed))
            .col_expr(we::Column::Result, Expr::value(result.clone())),
    };
    update = update
        .col_expr(we::Column::ErrorType, Expr::value(ending.error_type))
        .col_expr(we::Column::ErrorMessage, Expr::value(ending.error_message.clone()));
    if matches!(ending.kind, EndingKind::Failed { .. }) {
        update = update.col_expr(we::Column::ProcessedAt, Expr::value(at));
    }
    update = update.filter(we::Column::Id.eq(ending.id.as_str()));
    if partitioned(txn.get_database_backend()) {
        update = update.filter(we::Column::ReceivedAt.eq(ending.received_at));
    }
    update.exec(txn).await?;
    Ok(())
}
