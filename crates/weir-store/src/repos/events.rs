//! Webhook events: the group-committed ingest of deliveries (stored,
//! duplicate or rejected — each audited, each counted in the day's rollup,
//! all in one transaction per batch), and the tenant-scoped events API.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::Value;
use tracing::instrument;
use weir_core::PageRequest;
use weir_core::webhook::RefusalReason;
use weir_core::webhook::ingest_plan::{self, AcceptedView, DeliveryView, IngestPlan, Owners, RejectedView, Verdict};

use super::audit::AuditEntry;
use super::rollups::{DayCounters, ErrorCounters};
use super::{Paged, now, paged};
use crate::entities::{webhook_events as we, webhook_receivers as wr};
use crate::{Store, StoreError, TenantScope};

/// A verified, parsed delivery to store.
#[derive(Debug, Clone)]
pub struct AcceptedDelivery {
    /// The id the event gets if it is not a duplicate.
    pub event_id: String,
    /// The receiver's tenant (known from its key, trusted once verified).
    pub scope: TenantScope,
    /// The receiver it arrived at.
    pub receiver_id: String,
    /// The receiver's connector.
    pub connector_id: String,
    /// The event type picked from the receiver's rule.
    pub event_type: String,
    /// Provider's id, for duplicate detection.
    pub provider_event_id: Option<String>,
    /// Parsed body.
    pub payload: Value,
    /// SHA-256 of the raw body, hex.
    pub sha256: String,
    /// Raw body size.
    pub size: u64,
    /// Client address.
    pub source: Option<String>,
    /// Arrival time.
    pub received_at: DateTime<Utc>,
}

/// A refused delivery to record (its body is never stored).
#[derive(Debug, Clone)]
pub struct RejectedDelivery {
    /// The receiver's tenant.
    pub scope: TenantScope,
    /// The receiver it arrived at.
    pub receiver_id: String,
    /// The receiver's connector.
    pub connector_id: String,
    /// Why it was refused: the stored error type and recorded status follow from it.
    pub reason: RefusalReason,
    /// Why, as told to the client.
    pub detail: String,
    /// SHA-256 of what was read of the body, if anything.
    pub sha256: Option<String>,
    /// Bytes read (or announced).
    pub size: u64,
    /// Client address.
    pub source: Option<String>,
    /// Arrival time.
    pub received_at: DateTime<Utc>,
}

/// One item of an ingest batch.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// To store.
    Accepted(AcceptedDelivery),
    /// To audit only.
    Rejected(RejectedDelivery),
}

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Stored as a new event.
    Stored {
        /// Its id.
        event_id: String,
    },
    /// A repeat of a stored event; nothing new stored.
    Duplicate {
        /// The first event's id.
        event_id: String,
        /// The first event's processing status.
        status: String,
    },
    /// Audited (a rejection).
    Audited,
}

/// An event as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// Id.
    pub id: String,
    /// Receiver.
    pub receiver_id: String,
    /// Connector.
    pub connector_id: String,
    /// Event type.
    pub event_type: String,
    /// Provider's id.
    pub provider_event_id: Option<String>,
    /// `pending`, `processing`, `completed`, `failed`.
    pub processing_status: String,
    /// Processing attempts so far.
    pub attempts: i32,
    /// Last error's stable type.
    pub error_type: Option<String>,
    /// Last error.
    pub error_message: Option<String>,
    /// Every processing attempt: `{attempt, started_at, finished_at, outcome, error_type, error}`.
    pub attempt_log: Vec<Value>,
    /// Payload (None after retention).
    pub payload: Option<Value>,
    /// SHA-256 of the raw body.
    pub payload_sha256: String,
    /// Raw body size.
    pub payload_size: i64,
    /// Processing result.
    pub result: Option<Value>,
    /// Arrival.
    pub received_at: DateTime<Utc>,
    /// Processing end.
    pub processed_at: Option<DateTime<Utc>>,
}

impl From<we::Model> for WebhookEvent {
    fn from(m: we::Model) -> Self {
        Self {
            id: m.id,
            receiver_id: m.receiver_id,
            connector_id: m.connector_id,
            event_type: m.event_type,
            provider_event_id: m.provider_event_id,
            processing_status: m.processing_status,
            attempts: m.attempts,
            error_type: m.error_type,
            error_message: m.error_message,
            attempt_log: match m.attempt_log {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            },
            payload: m.payload,
            payload_sha256: m.payload_sha256,
            payload_size: m.payload_size,
            result: m.result,
            received_at: m.received_at,
            processed_at: m.processed_at,
        }
    }
}

/// Event list filters.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Processing status.
    pub status: Option<String>,
    /// Connector.
    pub connector_id: Option<String>,
    /// Receiver.
    pub receiver_id: Option<String>,
    /// Event type.
    pub event_type: Option<String>,
    /// Received at or after.
    pub from: Option<DateTime<Utc>>,
    /// Received before.
    pub to: Option<DateTime<Utc>>,
}

/// Largest payload total per INSERT statement (see `ingest_batch`).
pub(crate) const MAX_STATEMENT_BYTES: u64 = 32 * 1024;

async fn insert_events<C: ConnectionTrait>(conn: &C, models: Vec<we::ActiveModel>) -> Result<(), StoreError> {
    we::Entity::insert_many(models).exec_without_returning(conn).await?;
    Ok(())
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
        payload: Set(Some(a.payload.clone())),
        payload_sha256: Set(a.sha256.clone()),
        payload_size: Set(i64::try_from(a.size).unwrap_or(i64::MAX)),
        headers: Set(None),
        processing_status: Set("pending".to_owned()),
        attempts: Set(0),
        max_attempts: Set(3),
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

impl Store {
    /// Commits a batch of deliveries in one transaction: new events stored
    /// (a repeated provider event id resolves to the first event), an audit
    /// entry for every delivery, the day's rollup counters, and receivers'
    /// `last_received_at` — then answers each delivery's outcome, in order.
    /// Claiming provider keys is the one read the decision needs; the rest
    /// of the decision is [`weir_core::webhook::ingest_plan::plan`].
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
        plan: IngestPlan,
    ) -> Result<Vec<DeliveryOutcome>, StoreError> {
        let at = now();
        // Several statements of at most ~32 KB of payload each: a larger
        // Bind message spans TCP segments and, without TCP_NODELAY (which
        // sqlx 0.9 does not set), waits ~40 ms for a delayed ACK.
        let mut chunk = Vec::new();
        let mut chunk_bytes = 0u64;
        for (d, v) in batch.iter().zip(&plan.verdicts) {
            let (Delivery::Accepted(a), Verdict::Store) = (d, v) else { continue };
            chunk_bytes += a.size + 512;
            chunk.push(event_row(a, at));
            if chunk_bytes >= MAX_STATEMENT_BYTES {
                insert_events(txn, std::mem::take(&mut chunk)).await?;
                chunk_bytes = 0;
            }
        }
        if !chunk.is_empty() {
            insert_events(txn, chunk).await?;
        }
        // The status of each duplicate's first event.
        let firsts: HashSet<&String> =
            plan.verdicts.iter().filter_map(|v| if let Verdict::DuplicateOf(f) = v { Some(f) } else { None }).collect();
        let mut statuses: HashMap<String, String> = HashMap::new();
        if !firsts.is_empty() {
            let rows: Vec<(String, String)> = we::Entity::find()
                .select_only()
                .columns([we::Column::Id, we::Column::ProcessingStatus])
                .filter(we::Column::Id.is_in(firsts))
                .into_tuple()
                .all(txn)
                .await?;
            statuses.extend(rows);
        }
        let mut days = DayCounters::default();
        for ((tenant, connector, day, column), n) in &plan.days {
            days.add(tenant, connector, *day, column, *n);
        }
        let mut errors = ErrorCounters::default();
        for ((tenant, connector, day, error_type), n) in &plan.errors {
            errors.add(tenant, connector, *day, error_type, *n);
        }
        days.write(txn).await?;
        errors.write(txn).await?;
        for (receiver, at) in &plan.last_received {
            wr::Entity::update_many()
                .col_expr(wr::Column::LastReceivedAt, Expr::value(*at))
                .filter(wr::Column::Id.eq(receiver.as_str()))
                .exec(txn)
                .await?;
        }
        // Last before the commit: on PostgreSQL appending locks the tenant's
        // row, and the lock should be held as briefly as possible.
        for (tenant, entries) in plan.audits {
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
        Ok(batch
            .iter()
            .zip(plan.verdicts)
            .map(|(d, v)| match (d, v) {
                (Delivery::Accepted(a), Verdict::Store) => DeliveryOutcome::Stored { event_id: a.event_id.clone() },
                (_, Verdict::DuplicateOf(first)) => DeliveryOutcome::Duplicate {
                    // Only a key whose event was removed by hand has no
                    // status: the delivery is still a duplicate.
                    status: statuses.get(&first).cloned().unwrap_or_else(|| "deleted".to_owned()),
                    event_id: first,
                },
                _ => DeliveryOutcome::Audited,
            })
            .collect())
    }

    /// The tenant's events, newest first.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn list_events(
        &self,
        scope: &TenantScope,
        filter: &EventFilter,
        page: PageRequest,
    ) -> Result<Paged<WebhookEvent>, StoreError> {
        let mut q = we::Entity::find().filter(we::Column::TenantId.eq(scope.tenant_id()));
        if let Some(s) = &filter.status {
            q = q.filter(we::Column::ProcessingStatus.eq(s.as_str()));
        }
        if let Some(c) = &filter.connector_id {
            q = q.filter(we::Column::ConnectorId.eq(c.as_str()));
        }
        if let Some(r) = &filter.receiver_id {
            q = q.filter(we::Column::ReceiverId.eq(r.as_str()));
        }
        if let Some(t) = &filter.event_type {
            q = q.filter(we::Column::EventType.eq(t.as_str()));
        }
        if let Some(f) = filter.from {
            q = q.filter(we::Column::ReceivedAt.gte(f));
        }
        if let Some(t) = filter.to {
            q = q.filter(we::Column::ReceivedAt.lt(t));
        }
        paged(&self.db, q.order_by_desc(we::Column::ReceivedAt).order_by_desc(we::Column::Id), page).await
    }

    /// One event of the tenant.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn get_event(&self, scope: &TenantScope, id: &str) -> Result<WebhookEvent, StoreError> {
        we::Entity::find()
            .filter(we::Column::TenantId.eq(scope.tenant_id()))
            .filter(we::Column::Id.eq(id))
            .one(&self.db)
            .await?
            .map(WebhookEvent::from)
            .ok_or(StoreError::NotFound)
    }
}
