//! The decide step of group-committed ingest, without a database: given a
//! batch of deliveries and the owners of their provider event ids (what
//! claiming the keys answered), which events are new, which deliveries are
//! duplicates of which event, and every audit entry, rollup increment and
//! `last_received_at` the batch writes. The store claims the keys, calls
//! [`plan`], and persists what it returns.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

use super::{AcceptedOutcome, RefusalReason};
use crate::state::RollupCounter;

/// An accepted delivery as the plan reads it (borrowed from the store's).
#[derive(Debug, Clone, Copy)]
pub struct AcceptedView<'a> {
    /// The id the event gets if it is not a duplicate.
    pub event_id: &'a str,
    /// The tenant it belongs to.
    pub tenant_id: &'a str,
    /// The receiver it arrived at.
    pub receiver_id: &'a str,
    /// The receiver's connector.
    pub connector_id: &'a str,
    /// The event type picked for it.
    pub event_type: &'a str,
    /// The provider's id, which duplicates share.
    pub provider_event_id: Option<&'a str>,
    /// SHA-256 of the raw body, hex.
    pub sha256: &'a str,
    /// Raw body size in bytes.
    pub size: u64,
    /// Client address.
    pub source: Option<&'a str>,
    /// Arrival time (its UTC day is the rollup's day).
    pub received_at: DateTime<Utc>,
}

/// A refused delivery as the plan reads it.
#[derive(Debug, Clone, Copy)]
pub struct RejectedView<'a> {
    /// The tenant it belongs to.
    pub tenant_id: &'a str,
    /// The receiver it arrived at.
    pub receiver_id: &'a str,
    /// The receiver's connector.
    pub connector_id: &'a str,
    /// Why it was refused.
    pub reason: RefusalReason,
    /// The sentence the sender was told.
    pub detail: &'a str,
    /// SHA-256 of what was read of the body, if anything.
    pub sha256: Option<&'a str>,
    /// Bytes read (or announced).
    pub size: u64,
    /// Client address.
    pub source: Option<&'a str>,
    /// Arrival time (of the last one, for repeats).
    pub received_at: DateTime<Utc>,
    /// When this entry stands for several refusals.
    pub repeats: Option<Repeats>,
}

/// Refusals of one kind from one source at one receiver within one minute,
/// recorded as one entry (the first of them is an entry of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeats {
    /// How many refusals the entry stands for.
    pub count: u64,
    /// The first of them.
    pub first_at: DateTime<Utc>,
    /// The last of them.
    pub last_at: DateTime<Utc>,
}

/// One item of a batch.
#[derive(Debug, Clone, Copy)]
pub enum DeliveryView<'a> {
    /// To store (or resolve to its first event).
    Accepted(AcceptedView<'a>),
    /// To audit only.
    Rejected(RejectedView<'a>),
}

/// What the plan decided for one batch item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Insert as a new event with its own id.
    Store,
    /// A repeat of this earlier event; insert nothing.
    DuplicateOf(String),
    /// A refusal: audited and counted only.
    Audit,
}

/// An audit entry to append (the store adds the hash chain).
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedAudit {
    /// `webhook.received` or `webhook.rejected`.
    pub action: &'static str,
    /// `receiver:<id>`.
    pub actor: String,
    /// `webhook_event` or `webhook_receiver`.
    pub resource_type: &'static str,
    /// The event's (or, for a refusal, the receiver's) id.
    pub resource_id: String,
    /// The receiver's connector.
    pub connector_id: String,
    /// Size, hash, source, outcome and status; never the body.
    pub details: Value,
}

/// (tenant id, connector id, UTC day, counter) → increment.
pub type DayCounts = BTreeMap<(String, String, NaiveDate, RollupCounter), i64>;
/// (tenant id, connector id, UTC day, error type) → increment.
pub type ErrorCounts = BTreeMap<(String, String, NaiveDate, &'static str), i64>;

/// Everything one batch writes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestPlan {
    /// Per batch item, in batch order.
    pub verdicts: Vec<Verdict>,
    /// Audit entries by tenant, each tenant's in batch order.
    pub audits: BTreeMap<String, Vec<PlannedAudit>>,
    /// `daily_rollups` increments: `webhooks_received`, `webhooks_duplicate`, `webhooks_rejected`.
    pub days: DayCounts,
    /// `daily_error_rollups` increments by refusal reason.
    pub errors: ErrorCounts,
    /// The newest stored arrival per receiver id (its `last_received_at`).
    pub last_received: BTreeMap<String, DateTime<Utc>>,
}

/// (receiver id, provider event id) → the event that owns it.
pub type Owners = HashMap<(String, String), String>;

/// Decides the batch. A delivery is a duplicate when its key's owner is
/// another event; one without a provider id, or owning its key, is stored.
pub fn plan(batch: &[DeliveryView<'_>], owners: &Owners) -> IngestPlan {
    let mut p = IngestPlan::default();
    for d in batch {
        let verdict = match d {
            DeliveryView::Accepted(a) => accept(&mut p, a, owners),
            DeliveryView::Rejected(r) => {
                reject(&mut p, r);
                Verdict::Audit
            }
        };
        p.verdicts.push(verdict);
    }
    p
}

fn accept(p: &mut IngestPlan, a: &AcceptedView<'_>, owners: &Owners) -> Verdict {
    let owner = a
        .provider_event_id
        .and_then(|pid| owners.get(&(a.receiver_id.to_owned(), pid.to_owned())))
        .filter(|owner| owner.as_str() != a.event_id);
    let (outcome, verdict, resource_id) = match owner {
        Some(first) => (AcceptedOutcome::Duplicate, Verdict::DuplicateOf(first.clone()), first.clone()),
        None => (AcceptedOutcome::Stored, Verdict::Store, a.event_id.to_owned()),
    };
    let day = a.received_at.date_naive();
    let column = match outcome {
        AcceptedOutcome::Duplicate => RollupCounter::WebhooksDuplicate,
        AcceptedOutcome::Stored => {
            let e = p.last_received.entry(a.receiver_id.to_owned()).or_insert(a.received_at);
            *e = (*e).max(a.received_at);
            RollupCounter::WebhooksReceived
        }
    };
    *p.days.entry((a.tenant_id.to_owned(), a.connector_id.to_owned(), day, column)).or_default() += 1;
    p.audits.entry(a.tenant_id.to_owned()).or_default().push(PlannedAudit {
        action: "webhook.received",
        actor: format!("receiver:{}", a.receiver_id),
        resource_type: "webhook_event",
        resource_id,
        connector_id: a.connector_id.to_owned(),
        details: json!({
            "outcome": outcome.as_str(), "status": outcome.recorded_status(), "receiver_id": a.receiver_id,
            "event_type": a.event_type, "provider_event_id": a.provider_event_id,
            "size": a.size, "sha256": a.sha256, "source": a.source,
        }),
    });
    verdict
}

fn reject(p: &mut IngestPlan, r: &RejectedView<'_>) {
    let day = r.received_at.date_naive();
    let count = r.repeats.map_or(1, |n| i64::try_from(n.count).unwrap_or(i64::MAX));
    let (tenant, connector) = (r.tenant_id.to_owned(), r.connector_id.to_owned());
    *p.days.entry((tenant.clone(), connector.clone(), day, RollupCounter::WebhooksRejected)).or_default() += count;
    *p.errors.entry((tenant, connector, day, r.reason.as_str())).or_default() += count;
    let mut details = json!({
        "outcome": "rejected", "status": r.reason.recorded_status(), "error_type": r.reason.as_str(),
        "detail": r.detail, "size": r.size, "sha256": r.sha256, "source": r.source,
    });
    if let Some(n) = r.repeats {
        details["count"] = json!(n.count);
        details["first_at"] = json!(n.first_at);
        details["last_at"] = json!(n.last_at);
    }
    p.audits.entry(r.tenant_id.to_owned()).or_default().push(PlannedAudit {
        action: "webhook.rejected",
        actor: format!("receiver:{}", r.receiver_id),
        resource_type: "webhook_receiver",
        resource_id: r.receiver_id.to_owned(),
        connector_id: r.connector_id.to_owned(),
        details,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted<'a>(event_id: &'a str, pid: Option<&'a str>, at: DateTime<Utc>) -> DeliveryView<'a> {
        DeliveryView::Accepted(AcceptedView {
            event_id,
            tenant_id: "t1",
            receiver_id: "r1",
            connector_id: "c1",
            event_type: "order.created",
            provider_event_id: pid,
            sha256: "ab",
            size: 8,
            source: Some("127.0.0.1"),
            received_at: at,
        })
    }

    fn owners(pairs: &[(&str, &str)]) -> Owners {
        pairs.iter().map(|(pid, ev)| (("r1".to_owned(), (*pid).to_owned()), (*ev).to_owned())).collect()
    }

    #[test]
    fn keys_owned_by_another_event_are_duplicates() {
        let at = Utc::now();
        let later = at + chrono::Duration::seconds(3);
        let batch = [accepted("e1", Some("p1"), at), accepted("e2", Some("p1"), later), accepted("e3", None, later)];
        let p = plan(&batch, &owners(&[("p1", "e1")]));
        assert_eq!(p.verdicts, vec![Verdict::Store, Verdict::DuplicateOf("e1".into()), Verdict::Store]);
        let day = at.date_naive();
        assert_eq!(p.days[&("t1".into(), "c1".into(), day, RollupCounter::WebhooksReceived)], 2);
        assert_eq!(p.days[&("t1".into(), "c1".into(), day, RollupCounter::WebhooksDuplicate)], 1);
        assert!(p.errors.is_empty());
        assert_eq!(p.last_received["r1"], later);
        let audits = &p.audits["t1"];
        assert_eq!(audits.len(), 3);
        assert_eq!((audits[1].resource_id.as_str(), &audits[1].details["outcome"]), ("e1", &json!("duplicate")));
        assert_eq!((&audits[0].details["status"], &audits[1].details["status"]), (&json!(202), &json!(200)));
    }

    #[test]
    fn a_key_owned_by_an_earlier_event_makes_every_delivery_a_duplicate() {
        let at = Utc::now();
        let p = plan(&[accepted("e5", Some("p9"), at)], &owners(&[("p9", "e0")]));
        assert_eq!(p.verdicts, vec![Verdict::DuplicateOf("e0".into())]);
        assert!(p.last_received.is_empty(), "a duplicate does not move last_received_at");
    }

    #[test]
    fn refusals_are_audited_and_counted_by_reason() {
        let at = Utc::now();
        let rejected = DeliveryView::Rejected(RejectedView {
            tenant_id: "t2",
            receiver_id: "r2",
            connector_id: "c2",
            reason: RefusalReason::SignatureInvalid,
            detail: "signature does not match",
            sha256: None,
            size: 0,
            source: None,
            received_at: at,
            repeats: None,
        });
        let p = plan(&[rejected, accepted("e1", None, at)], &Owners::new());
        assert_eq!(p.verdicts, vec![Verdict::Audit, Verdict::Store]);
        let day = at.date_naive();
        assert_eq!(p.errors[&("t2".into(), "c2".into(), day, "signature_invalid")], 1);
        assert_eq!(p.days[&("t2".into(), "c2".into(), day, RollupCounter::WebhooksRejected)], 1);
        let entry = &p.audits["t2"][0];
        assert_eq!((entry.action, entry.resource_id.as_str()), ("webhook.rejected", "r2"));
        assert_eq!(entry.details["status"], 401);
        assert_eq!(p.audits["t1"].len(), 1);
    }

    #[test]
    fn repeated_refusals_are_one_entry_counting_all_of_them() {
        let at = Utc::now();
        let repeats = Repeats { count: 41, first_at: at - chrono::Duration::seconds(30), last_at: at };
        let rejected = DeliveryView::Rejected(RejectedView {
            tenant_id: "t2",
            receiver_id: "r2",
            connector_id: "c2",
            reason: RefusalReason::SignatureMissing,
            detail: "no signature",
            sha256: None,
            size: 3,
            source: Some("127.0.0.1"),
            received_at: at,
            repeats: Some(repeats),
        });
        let p = plan(&[rejected], &Owners::new());
        let day = at.date_naive();
        assert_eq!(p.days[&("t2".into(), "c2".into(), day, RollupCounter::WebhooksRejected)], 41);
        assert_eq!(p.errors[&("t2".into(), "c2".into(), day, "signature_missing")], 41);
        assert_eq!(p.audits["t2"].len(), 1);
        assert_eq!(p.audits["t2"][0].details["count"], 41);
        assert_eq!(p.audits["t2"][0].details["first_at"], json!(repeats.first_at));
    }
}
