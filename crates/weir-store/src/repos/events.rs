//! Webhook events: the group-committed ingest of deliveries (stored,
//! duplicate or rejected — each audited, each counted in the day's rollup,
//! all in one transaction per batch), and the tenant-scoped events API.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::{Value, json};
use tracing::instrument;
use weir_core::{EventStatus, PageRequest, RollupCounter};

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
    /// Its tenant.
    pub tenant_id: String,
    /// The receiver it arrived through.
    pub receiver_id: String,
    /// The connector it belongs to.
    pub connector_id: String,
    /// Event type.
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
    /// Its tenant.
    pub tenant_id: String,
    /// The receiver it arrived through.
    pub receiver_id: String,
    /// The connector it belongs to.
    pub connector_id: String,
    /// The HTTP status answered.
    pub status: u16,
    /// Stable error type (`signature_invalid`, `payload_too_large`, …).
    pub error_type: &'static str,
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
        /// The first event's processing status; `None` when that event was
        /// removed by hand (the delivery is still a duplicate).
        status: Option<EventStatus>,
    },
    /// Audited (a rejection).
    Audited,
}

/// An event as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// Its id (time-ordered UUID).
    pub id: String,
    /// The receiver it arrived through.
    pub receiver_id: String,
    /// The connector it belongs to.
    pub connector_id: String,
    /// Event type.
    pub event_type: String,
    /// Provider's id.
    pub provider_event_id: Option<String>,
    /// Where it is in the queue.
    pub processing_status: EventStatus,
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
    /// When it was received.
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
    /// Only events in this state.
    pub status: Option<EventStatus>,
    /// Only those of this connector.
    pub connector_id: Option<String>,
    /// Only those that arrived through this receiver.
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

impl Store {
    /// Commits a batch of deliveries in one transaction: new events stored
    /// (a repeated provider event id resolves to the first event), an audit
    /// entry for every delivery, the day's rollup counters, and receivers'
    /// `last_received_at` — then answers each delivery's outcome, in order.
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
        let mut resolved: HashMap<&str, DeliveryOutcome> = HashMap::new();
        if !accepted.is_empty() {
            let at = now();
            // Provider-id deduplication: each delivery with a provider event
            // id claims its key; the ones that find it taken are duplicates.
            let owners = super::event_keys::claim(&txn, &accepted).await?;
            let owner_of = |a: &AcceptedDelivery| {
                a.provider_event_id.as_ref().and_then(|p| owners.get(&(a.receiver_id.clone(), p.clone())).cloned())
            };
            let mut fresh = Vec::new();
            let mut firsts: HashMap<&str, String> = HashMap::new();
            for a in &accepted {
                match owner_of(a) {
                    Some(owner) if owner != a.event_id => {
                        firsts.insert(a.event_id.as_str(), owner);
                    }
                    _ => fresh.push(*a),
                }
            }
            let models = fresh.iter().map(|a| we::ActiveModel {
                id: Set(a.event_id.clone()),
                tenant_id: Set(a.tenant_id.clone()),
                receiver_id: Set(a.receiver_id.clone()),
                connector_id: Set(a.connector_id.clone()),
                event_type: Set(a.event_type.clone()),
                provider_event_id: Set(a.provider_event_id.clone()),
                payload: Set(Some(a.payload.clone())),
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
            });
            // Several statements of at most ~32 KB of payload each: a larger
            // Bind message spans TCP segments and, without TCP_NODELAY (which
            // sqlx 0.9 does not set), waits ~40 ms for a delayed ACK.
            let mut chunk = Vec::new();
            let mut chunk_bytes = 0u64;
            for (m, a) in models.zip(&fresh) {
                chunk_bytes += a.size + 512;
                chunk.push(m);
                if chunk_bytes >= MAX_STATEMENT_BYTES {
                    insert_events(&txn, std::mem::take(&mut chunk)).await?;
                    chunk_bytes = 0;
                }
            }
            if !chunk.is_empty() {
                insert_events(&txn, chunk).await?;
            }
            // The status of each duplicate's first event.
            let mut statuses: HashMap<String, EventStatus> = HashMap::new();
            if !firsts.is_empty() {
                let ids: HashSet<String> = firsts.values().cloned().collect();
                let rows: Vec<(String, EventStatus)> = we::Entity::find()
                    .select_only()
                    .columns([we::Column::Id, we::Column::ProcessingStatus])
                    .filter(we::Column::Id.is_in(ids))
                    .into_tuple()
                    .all(&txn)
                    .await?;
                statuses.extend(rows);
            }
            for a in &accepted {
                let outcome = match firsts.get(a.event_id.as_str()) {
                    None => DeliveryOutcome::Stored { event_id: a.event_id.clone() },
                    Some(first) => {
                        DeliveryOutcome::Duplicate { event_id: first.clone(), status: statuses.get(first).copied() }
                    }
                };
                resolved.insert(a.event_id.as_str(), outcome);
            }
        }

        // Audit entries per tenant, in batch order; rollups per tenant/connector/day.
        let mut audits: BTreeMap<&str, Vec<AuditEntry>> = BTreeMap::new();
        let mut days = DayCounters::default();
        let mut errors = ErrorCounters::default();
        let mut last_received: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
        let mut outcomes = Vec::with_capacity(batch.len());
        for d in batch {
            match d {
                Delivery::Accepted(a) => {
                    let outcome = resolved.get(a.event_id.as_str()).cloned().unwrap_or(DeliveryOutcome::Audited);
                    let (label, status, event_id) = match &outcome {
                        DeliveryOutcome::Stored { event_id } => ("accepted", 202, event_id.clone()),
                        DeliveryOutcome::Duplicate { event_id, .. } => ("duplicate", 200, event_id.clone()),
                        DeliveryOutcome::Audited => ("accepted", 202, a.event_id.clone()),
                    };
                    let day = a.received_at.date_naive();
                    if label == "duplicate" {
                        days.add(&a.tenant_id, &a.connector_id, day, RollupCounter::WebhooksDuplicate, 1);
                    } else {
                        days.add(&a.tenant_id, &a.connector_id, day, RollupCounter::WebhooksReceived, 1);
                        let e = last_received.entry(a.receiver_id.as_str()).or_insert(a.received_at);
                        *e = (*e).max(a.received_at);
                    }
                    audits.entry(a.tenant_id.as_str()).or_default().push(AuditEntry {
                        action: "webhook.received",
                        actor: format!("receiver:{}", a.receiver_id),
                        resource_type: "webhook_event",
                        resource_id: event_id,
                        connector_id: Some(a.connector_id.clone()),
                        details: json!({
                            "outcome": label, "status": status, "receiver_id": a.receiver_id,
                            "event_type": a.event_type, "provider_event_id": a.provider_event_id,
                            "size": a.size, "sha256": a.sha256, "source": a.source,
                        }),
                    });
                    outcomes.push(outcome);
                }
                Delivery::Rejected(r) => {
                    let day = r.received_at.date_naive();
                    days.add(&r.tenant_id, &r.connector_id, day, RollupCounter::WebhooksRejected, 1);
                    errors.add(&r.tenant_id, &r.connector_id, day, r.error_type, 1);
                    audits.entry(r.tenant_id.as_str()).or_default().push(AuditEntry {
                        action: "webhook.rejected",
                        actor: format!("receiver:{}", r.receiver_id),
                        resource_type: "webhook_receiver",
                        resource_id: r.receiver_id.clone(),
                        connector_id: Some(r.connector_id.clone()),
                        details: json!({
                            "outcome": "rejected", "status": r.status, "error_type": r.error_type,
                            "detail": r.detail, "size": r.size, "sha256": r.sha256, "source": r.source,
                        }),
                    });
                    outcomes.push(DeliveryOutcome::Audited);
                }
            }
        }
        days.write(&txn).await?;
        errors.write(&txn).await?;
        for (receiver, at) in last_received {
            wr::Entity::update_many()
                .col_expr(wr::Column::LastReceivedAt, Expr::value(at))
                .filter(wr::Column::Id.eq(receiver))
                .exec(&txn)
                .await?;
        }
        // Last before the commit: on PostgreSQL appending locks the tenant's
        // row, and the lock should be held as briefly as possible.
        for (tenant, entries) in audits {
            self.append_audits(&txn, tenant, entries).await?;
        }
        txn.commit().await?;
        Ok(outcomes)
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
            q = q.filter(we::Column::ProcessingStatus.eq(*s));
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
