//! Webhook events: the deliveries ingest takes (stored, duplicate or
//! rejected; committed by `ingest.rs`), and the tenant-scoped events API.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use tracing::instrument;
use weir_core::webhook::RefusalReason;
use weir_core::{EventStatus, PageRequest};

use super::{Paged, paged};
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
    /// The body exactly as received: JSON text, checked by intake. It is
    /// stored as it is; processing parses it (numbers keep every digit).
    pub body: String,
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
    /// Arrival time (of the last one, for repeats).
    pub received_at: DateTime<Utc>,
    /// When this entry stands for several refusals (see
    /// `weir_engine::intake`'s aggregation).
    pub repeats: Option<weir_core::webhook::ingest_plan::Repeats>,
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
    /// Event id (UUIDv7, so ids sort by arrival).
    pub id: String,
    /// The receiver that took the delivery.
    pub receiver_id: String,
    /// The receiver's connector (kept if the receiver is deleted).
    pub connector_id: String,
    /// Event type.
    pub event_type: String,
    /// Provider's id.
    pub provider_event_id: Option<String>,
    /// `pending`, `processing`, `completed`, `failed`.
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
    pub payload: Option<StoredPayload>,
    /// SHA-256 of the raw body.
    pub payload_sha256: String,
    /// Raw body size.
    pub payload_size: i64,
    /// Processing result.
    pub result: Option<Value>,
    /// When intake accepted it (also the day partition on PostgreSQL).
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
            payload: StoredPayload::of(m.payload_raw, m.payload),
            payload_sha256: m.payload_sha256,
            payload_size: m.payload_size,
            result: m.result,
            received_at: m.received_at,
            processed_at: m.processed_at,
        }
    }
}

/// A payload as stored.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredPayload {
    /// The bytes received, as text (events stored since migration 000018):
    /// key order, duplicate keys and every digit as they came; they hash to
    /// the audited SHA-256.
    Raw(String),
    /// An older event's payload as the database kept it (re-serialised).
    Parsed(Value),
}

impl StoredPayload {
    /// From the two columns: the raw text when there is one.
    pub(crate) fn of(raw: Option<String>, parsed: Option<Value>) -> Option<Self> {
        raw.map(StoredPayload::Raw).or(parsed.map(StoredPayload::Parsed))
    }

    /// The payload as JSON text: the received bytes, or the stored value.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            StoredPayload::Raw(t) => std::borrow::Cow::Borrowed(t),
            StoredPayload::Parsed(v) => std::borrow::Cow::Owned(v.to_string()),
        }
    }

    /// The payload as a value for mappings (numbers keep every digit; of a
    /// duplicated key, the last value counts).
    pub fn value(&self) -> Result<Value, serde_json::Error> {
        match self {
            StoredPayload::Raw(t) => serde_json::from_str(t),
            StoredPayload::Parsed(v) => Ok(v.clone()),
        }
    }
}

/// Event list filters.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// Processing status.
    pub status: Option<EventStatus>,
    /// Only events of this connector.
    pub connector_id: Option<String>,
    /// Only events of this receiver.
    pub receiver_id: Option<String>,
    /// Event type.
    pub event_type: Option<String>,
    /// The provider's own id of the event (exact), e.g. Stripe's `evt_…`.
    pub provider_event_id: Option<String>,
    /// Received at or after.
    pub from: Option<DateTime<Utc>>,
    /// Received before.
    pub to: Option<DateTime<Utc>>,
}

impl EventFilter {
    /// `q` narrowed by every filter but the status (whose meaning differs
    /// between listing and replaying), for `tenant_id`'s events.
    pub(crate) fn narrow<Q: QueryFilter>(&self, tenant_id: &str, mut q: Q) -> Q {
        let filter = self;
        if let Some(p) = &filter.provider_event_id {
            // Through the duplicate check's keys: their primary key
            // (receiver_id, provider_event_id) is searched with the tenant's
            // receivers, so the lookup costs a few index probes however
            // many events there are, and needs no index of its own on the
            // events table.
            use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
            let keys = Alias::new("webhook_event_keys");
            let receivers = Query::select()
                .column(wr::Column::Id)
                .from(wr::Entity)
                .and_where(wr::Column::TenantId.eq(tenant_id))
                .to_owned();
            let owners = Query::select()
                .column((keys.clone(), Alias::new("event_id")))
                .from(keys.clone())
                .and_where(Expr::col((keys.clone(), Alias::new("provider_event_id"))).eq(p.as_str()))
                .and_where(Expr::col((keys, Alias::new("receiver_id"))).in_subquery(receivers))
                .to_owned();
            q = q.filter(we::Column::Id.in_subquery(owners));
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
        q
    }
}

impl Store {
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
        let q = filter.narrow(scope.tenant_id(), q);
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
