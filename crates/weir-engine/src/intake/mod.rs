//! Webhook intake: the check sequence every delivery goes through, and
//! what it keeps between requests. In order: find the receiver (unknown →
//! not found, inactive → gone), the connector's rate limit, JSON content
//! type, size (never reading past the limit), the receiver's method over
//! the raw bytes, JSON, schema — then the group-committed write
//! ([`Ingest`]), and only then a [`Receipt`]. Every refusal after the
//! receiver is known is audited without its body and counted in
//! `weir_webhooks_rejected_total`; repeats of one refusal within a minute
//! are audited together ([`repeats`]).

mod cache;
mod limit;
mod outcome;
pub mod repeats;
pub mod schema;
mod shared_limit;

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use weir_core::webhook::{Headers, Inbound, event_type_of, provider_event_id, verifier_for};
use weir_core::{EventStatus, MasterKey};
use weir_store::{AcceptedDelivery, Delivery, DeliveryOutcome, RejectedDelivery, Store};

pub use cache::{IntakeError, ReadyReceiver};
pub use schema::{PATTERN_BACKTRACK_LIMIT, SCHEMA_BUDGET, SchemaOutcome, compile_schema};

pub use outcome::{Receipt, Refusal};
pub use shared_limit::{REDIS_TIMEOUT, SharedLimits};

use crate::Ingest;

/// Longest receiver key looked up; longer ones are not found without a query.
const MAX_KEY_LEN: usize = 100;

/// Intake's shared state. Cheap to clone.
#[derive(Clone)]
pub struct Intake {
    /// The group-commit writer.
    pub ingest: Ingest,
    /// Server default per-connector limit per minute (0 = unlimited).
    pub default_rate_per_minute: u32,
    /// Largest accepted body in bytes.
    pub max_body_bytes: usize,
    receivers: cache::Receivers,
    limits: limit::Limits,
    checks: schema::PayloadChecks,
    repeats: Arc<repeats::RepeatedRefusals>,
}

/// How often the summaries of repeated refusals are written (each once its
/// minute is over).
pub const REPEATS_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

/// One request at a receive endpoint, before its body is read.
pub struct Arrival<'a> {
    /// The connector code in the path (must be the receiver's connector's).
    pub connector_code: &'a str,
    /// The receiver key in the path.
    pub receiver_key: &'a str,
    /// The request headers (the receiver's method reads them).
    pub headers: &'a (dyn Headers + Sync),
    /// `Content-Type`, if present and text.
    pub content_type: Option<&'a str>,
    /// `Content-Length`, if present and a number.
    pub content_length: Option<u64>,
    /// The client's address.
    pub source: Option<String>,
}

impl Intake {
    /// New intake state (no shared limits).
    pub fn new(ingest: Ingest, default_rate_per_minute: u32, max_body_bytes: usize) -> Self {
        Self {
            ingest,
            default_rate_per_minute,
            max_body_bytes,
            receivers: cache::Receivers::new(),
            limits: limit::Limits::default(),
            checks: schema::PayloadChecks::new(),
            repeats: Arc::default(),
        }
    }

    /// Writes the summaries of repeated refusals every [`REPEATS_FLUSH`]
    /// until `stop` is cancelled, then writes what is left and ends
    /// (dropping its handle on the ingest writer).
    pub fn spawn_repeats_writer(&self, stop: tokio_util::sync::CancellationToken) -> tokio::task::JoinHandle<()> {
        let intake = self.clone();
        tokio::spawn(async move {
            loop {
                let stopping = tokio::select! {
                    () = tokio::time::sleep(REPEATS_FLUSH) => false,
                    () = stop.cancelled() => true,
                };
                let due = if stopping { intake.repeats.close() } else { intake.repeats.take_due(Some(Utc::now())) };
                // Side by side, so that they share group commits.
                futures::stream::iter(due)
                    .for_each_concurrent(256, |summary| async {
                        if let Err(e) = intake.ingest.submit(Delivery::Rejected(summary)).await {
                            tracing::warn!(error = %e, "could not audit repeated refusals");
                        }
                    })
                    .await;
                if stopping {
                    return;
                }
            }
        })
    }

    /// These limits, shared with every instance through Redis (falling
    /// back to this instance's own when Redis does not answer).
    pub fn with_shared_limits(mut self, shared: SharedLimits) -> Self {
        self.limits.shared = Some(shared);
        self
    }

    /// Forgets every cached receiver (after a connector changed: its state
    /// and rate limit are part of each of its receivers' entries).
    pub fn invalidate_all(&self) {
        self.receivers.invalidate_all();
    }

    /// Forgets a receiver (after it changed through this instance).
    pub fn invalidate(&self, key: &str) {
        self.receivers.invalidate(key);
    }

    /// Runs the check sequence on one delivery and commits it. `read_body`
    /// is called with the size limit once the checks that need no body
    /// passed; it answers the body, or `None` when it would exceed the limit.
    pub async fn receive<F, Fut, B>(
        &self,
        store: &Store,
        master_key: &MasterKey,
        arrival: Arrival<'_>,
        read_body: F,
    ) -> Result<Receipt, Refusal>
    where
        F: FnOnce(usize) -> Fut,
        Fut: Future<Output = Option<B>>,
        B: AsRef<[u8]>,
    {
        let at = Utc::now();
        let ready = self.active_receiver(store, master_key, &arrival).await?;
        let ctx = Audited { intake: self, ready: &ready, source: arrival.source.clone(), at };
        let limit = ready.keyed.connector_rate_limit.unwrap_or(self.default_rate_per_minute);
        if let Err(retry_after) = self.limits.admit(&ready.keyed.receiver.connector_id, limit).await {
            return Err(ctx.refuse(Refusal::RateLimited { retry_after }, None, 0).await);
        }
        if !weir_core::json::is_json_media_type(arrival.content_type) {
            return Err(ctx.refuse(Refusal::UnsupportedMediaType, None, 0).await);
        }
        let max = self.max_body_bytes;
        if let Some(announced) = arrival.content_length.filter(|n| *n > max as u64) {
            return Err(ctx.refuse(Refusal::PayloadTooLarge, None, announced).await);
        }
        let Some(body) = read_body(max).await else {
            return Err(ctx.refuse(Refusal::PayloadTooLarge, None, max as u64).await);
        };
        let bytes = body.as_ref();
        let size = bytes.len() as u64;
        if let Err(refusal) = verify(&ready, arrival.headers, bytes, at) {
            return Err(ctx.refuse(refusal, Some(bytes), size).await);
        }
        let payload = match self.checks.payload(bytes, ready.schema.clone()).await {
            Ok(payload) => payload,
            Err(refusal) => return Err(ctx.refuse(refusal, Some(bytes), size).await),
        };
        // Kept exactly as it came (a parsed JSON text is UTF-8).
        let Ok(body) = String::from_utf8(bytes.to_vec()) else {
            let refusal = Refusal::MalformedJson("invalid JSON: not UTF-8".to_owned());
            return Err(ctx.refuse(refusal, Some(bytes), size).await);
        };
        let keyed = &ready.keyed;
        let event_type = event_type_of(&keyed.receiver.event_type, arrival.headers, &payload)
            .unwrap_or_else(|| "unknown".to_owned());
        let delivery = Delivery::Accepted(AcceptedDelivery {
            event_id: weir_core::ids::new_id(),
            scope: keyed.scope.clone(),
            receiver_id: keyed.receiver.id.clone(),
            connector_id: keyed.receiver.connector_id.clone(),
            event_type,
            provider_event_id: provider_event_id(ready.auth.method(), arrival.headers, &payload),
            body,
            sha256: hex_sha256(bytes),
            size,
            source: arrival.source,
            received_at: at,
        });
        commit(&self.ingest, delivery).await
    }

    /// The receiver of `arrival`, if it exists under its connector and both are active.
    async fn active_receiver(
        &self,
        store: &Store,
        master_key: &MasterKey,
        arrival: &Arrival<'_>,
    ) -> Result<Arc<ReadyReceiver>, Refusal> {
        if arrival.receiver_key.len() > MAX_KEY_LEN {
            return Err(Refusal::NotFound);
        }
        let ready = self.receivers.get(store, master_key, arrival.receiver_key).await?.ok_or(Refusal::NotFound)?;
        let keyed = &ready.keyed;
        if keyed.receiver.connector_code != arrival.connector_code {
            return Err(Refusal::NotFound);
        }
        if !keyed.connector_active {
            return Err(Refusal::Gone { why: "the connector of this receiver is inactive" });
        }
        if !keyed.receiver.is_active {
            return Err(Refusal::Gone { why: "this receiver is inactive" });
        }
        Ok(ready)
    }
}

/// The receiver's method over the raw bytes.
fn verify(ready: &ReadyReceiver, headers: &dyn Headers, bytes: &[u8], at: DateTime<Utc>) -> Result<(), Refusal> {
    let inbound = Inbound { headers, body: bytes, now: at.timestamp() };
    let keys: Vec<&[u8]> = ready.keys.iter().map(Vec::as_slice).collect();
    let tolerance = i64::from(ready.keyed.receiver.timestamp_tolerance_secs);
    verifier_for(&ready.auth).verify(&inbound, &keys, tolerance).map_err(Refusal::Unauthenticated)
}

/// Hands the delivery to the group-commit writer and waits for its outcome.
async fn commit(ingest: &Ingest, delivery: Delivery) -> Result<Receipt, Refusal> {
    match ingest.submit(delivery).await {
        Ok(DeliveryOutcome::Stored { event_id }) => {
            Ok(Receipt { event_id, status: Some(EventStatus::Pending), duplicate: false })
        }
        Ok(DeliveryOutcome::Duplicate { event_id, status }) => Ok(Receipt { event_id, status, duplicate: true }),
        Ok(DeliveryOutcome::Audited) => Err(Refusal::Unavailable),
        Err(e) => {
            tracing::warn!(error = %e, "delivery not committed");
            Err(Refusal::Unavailable)
        }
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    weir_core::hex::encode(&Sha256::digest(bytes))
}

/// A delivery whose receiver is known: its refusals are audited.
struct Audited<'a> {
    intake: &'a Intake,
    ready: &'a ReadyReceiver,
    source: Option<String>,
    at: DateTime<Utc>,
}

impl Audited<'_> {
    /// Audits a refusal (best effort: the refusal stands either way).
    async fn refuse(&self, refusal: Refusal, body: Option<&[u8]>, size: u64) -> Refusal {
        let Some(reason) = refusal.reason() else { return refusal };
        metrics::counter!("weir_webhooks_rejected_total", "reason" => reason.as_str()).increment(1);
        let r = &self.ready.keyed;
        let rejected = RejectedDelivery {
            scope: r.scope.clone(),
            receiver_id: r.receiver.id.clone(),
            connector_id: r.receiver.connector_id.clone(),
            reason,
            detail: refusal.to_string(),
            sha256: body.map(hex_sha256),
            size,
            source: self.source.clone(),
            received_at: self.at,
            repeats: None,
        };
        if self.intake.repeats.admit(&rejected) == repeats::Admission::Counted {
            return refusal;
        }
        if let Err(e) = self.intake.ingest.submit(Delivery::Rejected(rejected)).await {
            tracing::warn!(error = %e, "could not audit a rejected delivery");
        }
        refusal
    }
}
