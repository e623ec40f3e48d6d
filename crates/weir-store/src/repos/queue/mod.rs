//! The processing queue on `webhook_events` (a transactional outbox):
//! `pending → processing → completed | failed`. Workers claim batches under
//! a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's single writer
//! makes the same statement atomic), write an event's records and its new
//! status in one transaction, and a lease that expires returns a vanished
//! worker's events to the pool. Replays put events back to `pending`.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter, QuerySelect};
use serde_json::{Value, json};
use tracing::instrument;

use super::audit::AuditEntry;
use super::connector_health::Activity;
use super::records::{RecordWrite, UpsertOutcome};
use super::rollups::{DayCounters, ErrorCounters};
use super::{lease_end, now};
use crate::entities::webhook_events as we;
use weir_core::{AttemptOutcome, EventErrorType, EventStatus, PlanOutcome, RecordAction, RollupCounter};

use crate::{Store, StoreError, TenantScope};

mod complete;
mod replay;

use complete::complete_events;

/// An event a worker holds the lease of. Holding it is what lets the worker
/// act in the event's tenant: `scope` is minted by the claim.
#[derive(Debug, Clone)]
pub struct ClaimedEvent {
    /// The event's tenant.
    pub scope: TenantScope,
    /// Its id (time-ordered UUID).
    pub id: String,
    /// The connector it belongs to.
    pub connector_id: String,
    /// The receiver it arrived through.
    pub receiver_id: String,
    /// Event type.
    pub event_type: String,
    /// Payload (None once past retention).
    pub payload: Option<Value>,
    /// This attempt's number (1-based; counted at claim).
    pub attempts: i32,
    /// Earlier attempts, oldest first.
    pub attempt_log: Vec<Value>,
    /// When it was received.
    pub received_at: DateTime<Utc>,
}

/// How an attempt ends.
#[derive(Debug, Clone)]
pub enum Finish {
    /// Done. `result: None` lets the store describe the records written.
    Completed {
        /// The event's result.
        result: Option<Value>,
    },
    /// A transient failure with attempts left: back to `pending` at `at`.
    Retry {
        /// When to try again.
        at: DateTime<Utc>,
        /// Why it failed.
        error_type: EventErrorType,
        /// Readable cause.
        error_message: String,
    },
    /// Given up: a permanent failure, or the last attempt failed.
    Failed {
        /// Why it failed.
        error_type: EventErrorType,
        /// Readable cause.
        error_message: String,
        /// Partial result (e.g. the records written before a delivery failed).
        result: Option<Value>,
    },
}

impl Finish {
    /// The kind of ending, without its details.
    pub fn outcome(&self) -> AttemptOutcome {
        match self {
            Finish::Completed { .. } => AttemptOutcome::Completed,
            Finish::Retry { .. } => AttemptOutcome::Retry,
            Finish::Failed { .. } => AttemptOutcome::Failed,
        }
    }
}

/// A record a route produced from an event.
#[derive(Debug, Clone)]
pub struct PlannedRecord {
    /// The configuration that produced it.
    pub sync_configuration_id: String,
    /// What to write.
    pub write: RecordWrite,
}

/// What writing a planned record did.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordEffect {
    /// The configuration that produced it.
    pub sync_configuration_id: String,
    /// Record type.
    pub entity_type: String,
    /// Record id in the source.
    pub external_id: String,
    /// Created, updated, unchanged or stale.
    pub outcome: UpsertOutcome,
    /// The record's version after the write.
    pub version: i64,
}

impl RecordEffect {
    /// The effect as an event result shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "sync_configuration_id": self.sync_configuration_id,
            "entity_type": self.entity_type,
            "external_id": self.external_id,
            "action": outcome_name(self.outcome),
            "version": self.version,
        })
    }
}

fn outcome_name(o: UpsertOutcome) -> RecordAction {
    match o {
        UpsertOutcome::Created => RecordAction::Created,
        UpsertOutcome::Updated => RecordAction::Updated,
        UpsertOutcome::Unchanged => RecordAction::Unchanged,
        UpsertOutcome::Stale => RecordAction::IgnoredStale,
    }
}

/// One event's share of a processing transaction.
#[derive(Debug)]
pub struct EventWork<'a> {
    /// The claimed event.
    pub event: &'a ClaimedEvent,
    /// Records to write (idempotently: a repeat changes nothing).
    pub records: Vec<PlannedRecord>,
    /// How the attempt ends; `None` keeps the event claimed (deliveries to
    /// make before it can finish).
    pub finish: Option<Finish>,
    /// When this attempt started.
    pub started_at: DateTime<Utc>,
    /// Extra audit entries (delivery outcomes).
    pub audits: Vec<AuditEntry>,
}

fn claimed_from(m: we::Model) -> ClaimedEvent {
    ClaimedEvent {
        scope: TenantScope::new(m.tenant_id),
        id: m.id,
        connector_id: m.connector_id,
        receiver_id: m.receiver_id,
        event_type: m.event_type,
        payload: m.payload,
        attempts: m.attempts,
        attempt_log: match m.attempt_log {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        },
        received_at: m.received_at,
    }
}

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
                    .and_where(we::Column::ProcessingStatus.eq(status))
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
        let txn = self.write_txn().await?;
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
    #[instrument(skip_all, fields(events = works.len()))]
    pub async fn process_events(
        &self,
        owner: &str,
        works: Vec<EventWork<'_>>,
    ) -> Result<Vec<Vec<RecordEffect>>, StoreError> {
        let txn = self.write_txn().await?;
        let at = now();
        let mut all_effects = Vec::with_capacity(works.len());
        // By tenant id: appends lock tenant rows in one global order.
        let mut audits: BTreeMap<String, (TenantScope, Vec<AuditEntry>)> = BTreeMap::new();
        // The events this owner still holds, locked for this transaction: a
        // worker whose lease was taken over writes nothing for them.
        let ids: Vec<String> = works.iter().map(|w| w.event.id.clone()).collect();
        let arrivals: HashSet<DateTime<Utc>> = works.iter().map(|w| w.event.received_at).collect();
        let mut held = we::Entity::find().select_only().column(we::Column::Id).filter(we::Column::Id.is_in(ids));
        if partitioned(txn.get_database_backend()) {
            held = held.filter(we::Column::ReceivedAt.is_in(arrivals.iter().copied()));
        }
        let held: HashSet<String> = held
            .filter(we::Column::LeaseOwner.eq(owner))
            .filter(we::Column::ProcessingStatus.eq(EventStatus::Processing))
            .lock_exclusive()
            .into_tuple::<String>()
            .all(&txn)
            .await?
            .into_iter()
            .collect();
        let mut days = DayCounters::default();
        let mut errors = ErrorCounters::default();
        let mut activity = Activity::default();
        // (id, result JSON, attempt log JSON) of events completing now.
        let mut completed: Vec<(String, String, String)> = Vec::new();
        // Records first, in key order across the whole batch (stable, so
        // one key's events keep their order): concurrent workers then lock
        // rows in the same order and cannot deadlock each other.
        let mut writes: Vec<(usize, PlannedRecord)> = Vec::new();
        let mut works: Vec<EventWork<'_>> = works;
        for (i, w) in works.iter_mut().enumerate() {
            if !held.contains(&w.event.id) {
                w.records.clear();
                w.finish = None;
                continue;
            }
            writes.extend(std::mem::take(&mut w.records).into_iter().map(|r| (i, r)));
        }
        let key = |i: usize, r: &PlannedRecord| {
            (works[i].event.scope.tenant_id().to_owned(), r.write.entity_type.clone(), r.write.external_id.clone())
        };
        writes.sort_by_cached_key(|(i, r)| key(*i, r));
        let mut effects_of: Vec<Vec<RecordEffect>> = vec![Vec::new(); works.len()];
        let mut entries_of: Vec<Vec<AuditEntry>> = works.iter_mut().map(|w| std::mem::take(&mut w.audits)).collect();
        let batch: Vec<(&TenantScope, RecordWrite)> =
            writes.iter().map(|(i, planned)| (&works[*i].event.scope, planned.write.clone())).collect();
        let written = self.upsert_records_on(&txn, &batch).await?;
        for ((i, planned), (record, outcome)) in writes.into_iter().zip(written) {
            let ev = works[i].event;
            let action = match outcome {
                UpsertOutcome::Created => Some("record.created"),
                UpsertOutcome::Updated => Some("record.updated"),
                UpsertOutcome::Stale => Some("record.ignored"),
                UpsertOutcome::Unchanged => None,
            };
            if let Some(action) = action {
                entries_of[i].push(AuditEntry {
                    action,
                    actor: format!("sync_configuration:{}", planned.sync_configuration_id),
                    resource_type: "record",
                    resource_id: format!("{}/{}", record.entity_type, record.external_id),
                    connector_id: Some(ev.connector_id.clone()),
                    details: json!({
                        "entity_type": record.entity_type, "external_id": record.external_id,
                        "version": record.version, "event_id": ev.id,
                        "sync_configuration_id": planned.sync_configuration_id,
                        "reason": (outcome == UpsertOutcome::Stale).then_some("older than the record held"),
                    }),
                });
            }
            if matches!(outcome, UpsertOutcome::Created | UpsertOutcome::Updated) {
                days.add(ev.scope.tenant_id(), &ev.connector_id, at.date_naive(), RollupCounter::RecordsProcessed, 1);
            }
            effects_of[i].push(RecordEffect {
                sync_configuration_id: planned.sync_configuration_id,
                entity_type: record.entity_type,
                external_id: record.external_id,
                outcome,
                version: record.version,
            });
        }
        for ((work, effects), mut entries) in works.into_iter().zip(effects_of).zip(entries_of) {
            let ev = work.event;
            if let Some(finish) = work.finish {
                let attempt = json!({
                    "attempt": ev.attempts, "started_at": work.started_at, "finished_at": at,
                    "outcome": finish.outcome(),
                    "error_type": match &finish { Finish::Retry { error_type, .. } | Finish::Failed { error_type, .. } => Some(error_type), _ => None },
                    "error": match &finish { Finish::Retry { error_message, .. } | Finish::Failed { error_message, .. } => Some(error_message), _ => None },
                });
                let mut log = ev.attempt_log.clone();
                log.push(attempt);
                let mut update = we::Entity::update_many()
                    .col_expr(we::Column::LeaseOwner, Expr::value(Option::<String>::None))
                    .col_expr(we::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
                    .col_expr(we::Column::AttemptLog, Expr::value(Value::Array(log.clone())))
                    .col_expr(we::Column::UpdatedAt, Expr::value(at));
                let day = at.date_naive();
                let tenant = ev.scope.tenant_id();
                match &finish {
                    Finish::Completed { result } => {
                        let result = result.clone().unwrap_or_else(|| {
                            json!({"action": PlanOutcome::Processed, "records": effects.iter().map(RecordEffect::to_json).collect::<Vec<_>>()})
                        });
                        // The common case, written for the whole batch at once below.
                        completed.push((ev.id.clone(), result.to_string(), Value::Array(log).to_string()));
                    }
                    Finish::Retry { at: next, error_type, error_message } => {
                        update = update
                            .col_expr(we::Column::ProcessingStatus, Expr::value(EventStatus::Pending))
                            .col_expr(we::Column::NextAttemptAt, Expr::value(*next))
                            .col_expr(we::Column::ErrorType, Expr::value(*error_type))
                            .col_expr(we::Column::ErrorMessage, Expr::value(error_message.clone()));
                    }
                    Finish::Failed { error_type, error_message, result } => {
                        let result = result.clone().or_else(|| {
                            (!effects.is_empty()).then(|| {
                                json!({"action": PlanOutcome::Failed, "records": effects.iter().map(RecordEffect::to_json).collect::<Vec<_>>()})
                            })
                        });
                        update = update
                            .col_expr(we::Column::ProcessingStatus, Expr::value(EventStatus::Failed))
                            .col_expr(we::Column::Result, Expr::value(result))
                            .col_expr(we::Column::ErrorType, Expr::value(*error_type))
                            .col_expr(we::Column::ErrorMessage, Expr::value(error_message.clone()))
                            .col_expr(we::Column::ProcessedAt, Expr::value(at));
                    }
                }
                // The event is held and locked (above): the update applies.
                if !matches!(finish, Finish::Completed { .. }) {
                    update = update.filter(we::Column::Id.eq(ev.id.as_str()));
                    if partitioned(txn.get_database_backend()) {
                        update = update.filter(we::Column::ReceivedAt.eq(ev.received_at));
                    }
                    update.exec(&txn).await?;
                }
                {
                    match &finish {
                        Finish::Completed { result } => {
                            days.add(tenant, &ev.connector_id, day, RollupCounter::WebhooksCompleted, 1);
                            activity.add(&ev.connector_id, false);
                            if let Some(r) = result
                                && r.get("action").and_then(Value::as_str) == Some(PlanOutcome::Ignored.as_str())
                            {
                                entries.push(AuditEntry {
                                    action: "webhook_event.ignored",
                                    actor: "worker".to_owned(),
                                    resource_type: "webhook_event",
                                    resource_id: ev.id.clone(),
                                    connector_id: Some(ev.connector_id.clone()),
                                    details: r.clone(),
                                });
                            }
                        }
                        Finish::Retry { .. } => {}
                        Finish::Failed { error_type, error_message, .. } => {
                            days.add(tenant, &ev.connector_id, day, RollupCounter::WebhooksFailed, 1);
                            activity.add(&ev.connector_id, true);
                            errors.add(tenant, &ev.connector_id, day, error_type.as_str(), 1);
                            entries.push(AuditEntry {
                                action: "webhook_event.failed",
                                actor: "worker".to_owned(),
                                resource_type: "webhook_event",
                                resource_id: ev.id.clone(),
                                connector_id: Some(ev.connector_id.clone()),
                                details: json!({
                                    "event_type": ev.event_type, "attempts": ev.attempts,
                                    "error_type": error_type, "error": error_message,
                                }),
                            });
                        }
                    }
                }
            }
            if !entries.is_empty() {
                audits
                    .entry(ev.scope.tenant_id().to_owned())
                    .or_insert_with(|| (ev.scope.clone(), Vec::new()))
                    .1
                    .extend(entries);
            }
            all_effects.push(effects);
        }
        for chunk in completed.chunks(64) {
            complete_events(&txn, chunk, &arrivals, at).await?;
        }
        days.write(&txn).await?;
        errors.write(&txn).await?;
        let health_changes = activity.write(&txn, at).await?;
        // Last: on PostgreSQL appending locks the tenant row; hold it briefly.
        for (tenant, (_, entries)) in audits {
            self.append_audits(&txn, &tenant, entries).await?;
        }
        txn.commit().await?;
        self.announce_health(&health_changes);
        Ok(all_effects)
    }
}
