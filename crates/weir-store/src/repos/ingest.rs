//! Group-committed ingest of webhook deliveries, in two steps: decide
//! (claim the provider-id keys, then [`ingest_plan::plan`], pure, in
//! weir-core) and write (the new events, rollups, `last_received_at` and
//! audit entries the plan names), all in one transaction per batch.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use tracing::instrument;
use weir_core::EventStatus;
use weir_core::webhook::ingest_plan::{self, AcceptedView, DeliveryView, IngestPlan, Owners, RejectedView, Verdict};

use super::audit::AuditEntry;
use super::events::{AcceptedDelivery, Delivery, DeliveryOutcome};
use super::now;
use super::rollups::{DayCounters, ErrorCounters};
use crate::entities::{webhook_events as we, webhook_receivers as wr};
use crate::{Store, StoreError};

/// Largest payload total, and most rows, per INSERT statement on `backend`
/// (see `insert_fresh`). PostgreSQL: one statement per batch (~1 MiB,
/// 256 rows, far below its limit on bound values) measured 10–20 % faster
/// than 32 KB chunks, which were a workaround for the missing TCP_NODELAY
/// that the vendored sqlx-core now sets. SQLite: larger statements measured
/// ~15 % more throughput but p99 spikes of 120–230 ms in two of four runs,
/// against 36–42 ms in three of three with the chunks, so it keeps them
/// (BENCHMARKS.md, issue 18).
pub(crate) fn statement_limits(backend: sea_orm::DbBackend) -> (u64, usize) {
    match backend {
        sea_orm::DbBackend::Postgres => (1024 * 1024, 256),
        _ => (32 * 1024, 64),
    }
}

impl Delivery {
    fn view(&self) -> DeliveryView<'_> {
        match self {
            Delivery::Accepted(a) => DeliveryView::Accepted(AcceptedView {
                event_id: &a.event_id,
                tenant_id: a.scope.tenant_id(),
                receiver_id: &a.receiver_id,
                connector_id: &a.connector_id,
                event_type: &a.event_type,
                provider_event_id: a.provider_event_id.as_deref(),
                sha256: &a.sha256,
                size: a.size,
                source: a.source.as_deref(),
                received_at: a.received_at,
            }),
            Delivery::Rejected(r) => DeliveryView::Rejected(RejectedView {
                tenant_id: r.scope.tenant_id(),
                receiver_id: &r.receiver_id,
                connector_id: &r.connector_id,
                reason: r.reason,
                detail: &r.detail,
                sha256: r.sha256.as_deref(),
                size: r.size,
                source: r.source.as_deref(),
                received_at: r.received_at,
                repeats: r.repeats,
            }),
        }
    }
}

fn event_row(a: &AcceptedDelivery, at: DateTime<Utc>) -> we::ActiveModel {
    we::ActiveModel {
        id: Set(a.event_id.clone()),
        tenant_id: Set(a.scope.tenant_id().to_owned()),
        receiver_id: Set(a.receiver_id.clone()),
        connector_id: Set(a.connector_id.clone()),
        event_type: Set(a.event_type.clone()),
        provider_event_id: Set(a.provider_event_id.clone()),
        payload: Set(None),
        payload_raw: Set(Some(a.body.clone())),
        payload_sha256: Set(a.sha256.clone()),
        payload_size: Set(i64::try_from(a.size).unwrap_or(i64::MAX)),
        headers: Set(None),
        processing_status: Set(EventStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(a.received_at),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        error_type: Set(None),
        error_message: Set(None),
        result: Set(None),
        attempt_log: Set(None),
        received_at: Set(a.received_at),
        processed_at: Set(None),
        updated_at: Set(at),
    }
}

async fn insert_events<C: ConnectionTrait>(conn: &C, models: Vec<we::ActiveModel>) -> Result<(), StoreError> {
    we::Entity::insert_many(models).exec_without_returning(conn).await?;
    Ok(())
}

/// Inserts the deliveries the plan stores, in statements within
/// [`statement_limits`].
async fn insert_fresh<C: ConnectionTrait>(txn: &C, batch: &[Delivery], plan: &IngestPlan) -> Result<(), StoreError> {
    let at = now();
    let (max_bytes, max_rows) = statement_limits(txn.get_database_backend());
    let mut chunk = Vec::new();
    let mut chunk_bytes = 0u64;
    for (d, v) in batch.iter().zip(&plan.verdicts) {
        let (Delivery::Accepted(a), Verdict::Store) = (d, v) else { continue };
        chunk_bytes += a.size + 512;
        chunk.push(event_row(a, at));
        if chunk_bytes >= max_bytes || chunk.len() >= max_rows {
            insert_events(txn, std::mem::take(&mut chunk)).await?;
            chunk_bytes = 0;
        }
    }
    if !chunk.is_empty() {
        insert_events(txn, chunk).await?;
    }
    Ok(())
}

/// The processing status of each event a duplicate resolves to.
async fn first_statuses<C: ConnectionTrait>(
    txn: &C,
    plan: &IngestPlan,
) -> Result<HashMap<String, EventStatus>, StoreError> {
    let firsts: HashSet<&String> =
        plan.verdicts.iter().filter_map(|v| if let Verdict::DuplicateOf(f) = v { Some(f) } else { None }).collect();
    if firsts.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, EventStatus)> = we::Entity::find()
        .select_only()
        .columns([we::Column::Id, we::Column::ProcessingStatus])
        .filter(we::Column::Id.is_in(firsts))
        .into_tuple()
        .all(txn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The day's rollup counters. Written last before the commit (after the
/// audit entries), like every writer of rollups does: a day's row is shared
/// by ingest, the workers and sync runs, so its lock must be held briefly.
async fn write_counters<C: ConnectionTrait>(txn: &C, plan: &IngestPlan) -> Result<(), StoreError> {
    let mut days = DayCounters::default();
    for ((tenant, connector, day, column), n) in &plan.days {
        days.add(tenant, connector, *day, *column, *n);
    }
    let mut errors = ErrorCounters::default();
    for ((tenant, connector, day, error_type), n) in &plan.errors {
        errors.add(tenant, connector, *day, error_type, *n);
    }
    days.write(txn).await?;
    errors.write(txn).await
}

/// Receivers' `last_received_at`, moved forward only. On PostgreSQL a
/// receiver row another transaction is writing is skipped (`SKIP LOCKED`):
/// a second ingest writer would otherwise wait on it until the first one
/// commits, which made concurrent writers run one at a time (BENCHMARKS.md,
/// issue 18). The skipped value is a moment older than the one that
/// transaction writes, and the next batch writes it anyway.
async fn write_last_received<C: ConnectionTrait>(txn: &C, plan: &IngestPlan) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    for (receiver, at) in &plan.last_received {
        let mut update = wr::Entity::update_many()
            .col_expr(wr::Column::LastReceivedAt, Expr::value(*at))
            .filter(wr::Column::Id.eq(receiver.as_str()))
            .filter(
                sea_orm::Condition::any()
                    .add(wr::Column::LastReceivedAt.is_null())
                    .add(wr::Column::LastReceivedAt.lt(*at)),
            );
        if backend == sea_orm::DbBackend::Postgres {
            update = update.filter(Expr::cust_with_values(
                "webhook_receivers.id IN (SELECT id FROM webhook_receivers WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED)",
                [receiver.as_str()],
            ));
        }
        update.exec(txn).await?;
    }
    Ok(())
}

impl Store {
    /// Commits a batch of deliveries in one transaction: new events stored
    /// (a repeated provider event id resolves to the first event), an audit
    /// entry for every delivery, the day's rollup counters, and receivers'
    /// `last_received_at` — then answers each delivery's outcome, in order.
    /// Claiming provider keys is the one read the decision needs; the rest
    /// of the decision is [`ingest_plan::plan`].
    #[instrument(skip_all, fields(batch = batch.len()))]
    pub async fn ingest_batch(&self, batch: &[Delivery]) -> Result<Vec<DeliveryOutcome>, StoreError> {
        let txn = self.write_txn().await?;
        let accepted: Vec<&AcceptedDelivery> = batch
            .iter()
            .filter_map(|d| match d {
                Delivery::Accepted(a) => Some(a),
                Delivery::Rejected(_) => None,
            })
            .collect();
        // Provider-id deduplication: each delivery with a provider event
        // id claims its key; the ones that find it taken are duplicates.
        let owners =
            if accepted.is_empty() { Owners::new() } else { super::event_keys::claim(&txn, &accepted).await? };
        let views: Vec<DeliveryView<'_>> = batch.iter().map(Delivery::view).collect();
        let plan = ingest_plan::plan(&views, &owners);
        let outcomes = self.write_plan(&txn, batch, plan).await?;
        txn.commit().await?;
        Ok(outcomes)
    }

    /// The write step: persists what [`ingest_plan::plan`] decided and
    /// answers each delivery's outcome (duplicates with their first
    /// event's current status).
    async fn write_plan<C: ConnectionTrait>(
        &self,
        txn: &C,
        batch: &[Delivery],
        mut plan: IngestPlan,
    ) -> Result<Vec<DeliveryOutcome>, StoreError> {
        insert_fresh(txn, batch, &plan).await?;
        let statuses = first_statuses(txn, &plan).await?;
        write_last_received(txn, &plan).await?;
        // Last before the commit: the counters lock the day's rollup row,
        // which should be held as briefly as possible.
        for (tenant, entries) in std::mem::take(&mut plan.audits) {
            let entries = entries
                .into_iter()
                .map(|e| AuditEntry {
                    action: e.action,
                    actor: e.actor,
                    resource_type: e.resource_type,
                    resource_id: e.resource_id,
                    connector_id: Some(e.connector_id),
                    details: e.details,
                })
                .collect();
            self.append_audits(txn, &tenant, entries).await?;
        }
        write_counters(txn, &plan).await?;
        Ok(batch
            .iter()
            .zip(plan.verdicts)
            .map(|(d, v)| match (d, v) {
                (Delivery::Accepted(a), Verdict::Store) => DeliveryOutcome::Stored { event_id: a.event_id.clone() },
                (_, Verdict::DuplicateOf(first)) => {
                    DeliveryOutcome::Duplicate { status: statuses.get(&first).copied(), event_id: first }
                }
                _ => DeliveryOutcome::Audited,
            })
            .collect())
    }
}
