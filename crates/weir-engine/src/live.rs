//! The live-event bus: what happens (an event received, processed or
//! failed; a run started, progressing or finished) is published here and
//! fanned out to the tenant's Server-Sent Events clients.
//!
//! In one process it is a `tokio::sync::broadcast` channel: publishing never
//! waits, and a client too slow to keep up misses messages and is dropped
//! (its stream ends) rather than slowing anyone down. Across instances
//! (the store's [`LiveRelay`], on PostgreSQL), [`LiveBus::relayed`]
//! forwards every local event (batched) and republishes what the other
//! instances send.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weir_core::LiveEvent;
use weir_store::LiveRelay;
use weir_store::live_relay::MAX_PAYLOAD;

/// Messages a subscriber may fall behind by before it is dropped.
pub const CAPACITY: usize = 1024;

/// One live event and the tenant it belongs to, as subscribers receive it
/// and the relay carries it: `{"tenant_id", "kind", "data"}`, the shape the
/// relay has always had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantEvent {
    /// Whose it is (subscribers see only their tenant's).
    pub tenant_id: String,
    /// What happened.
    #[serde(flatten)]
    pub event: LiveEvent,
}

/// A batch as it travels over the relay.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    /// The instance that published it (it ignores its own).
    from: String,
    events: Vec<TenantEvent>,
}

/// The bus. Cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveBus {
    local: broadcast::Sender<Arc<TenantEvent>>,
    relay: Option<mpsc::Sender<TenantEvent>>,
    instance: Arc<String>,
}

impl Default for LiveBus {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveBus {
    /// A bus for this process only.
    pub fn new() -> Self {
        let (local, _) = broadcast::channel(CAPACITY);
        Self { local, relay: None, instance: Arc::new(weir_core::ids::random_key(8)) }
    }

    /// Publishes to this process's subscribers (and, when relayed, to the
    /// other instances). Never waits.
    pub fn publish(&self, tenant_id: &str, event: LiveEvent) {
        let event = TenantEvent { tenant_id: tenant_id.to_owned(), event };
        if let Some(relay) = &self.relay {
            // A full relay queue drops the cross-instance copy, never blocks.
            let _ = relay.try_send(event.clone());
        }
        let _ = self.local.send(Arc::new(event));
    }

    /// A new subscriber.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<TenantEvent>> {
        self.local.subscribe()
    }

    /// Forwards this instance's events to the others through `relay` (up
    /// to every 50 ms, several per payload) and republishes theirs here,
    /// until `stop` is cancelled. Returns the bus that publishes through
    /// the relay; both directions run on `tracker`.
    pub fn relayed(self, relay: LiveRelay, stop: CancellationToken, tracker: &TaskTracker) -> Self {
        let (tx, rx) = mpsc::channel::<TenantEvent>(CAPACITY * 4);
        tracker.spawn(stop.clone().run_until_cancelled_owned(send(relay.clone(), rx, self.instance.clone())));
        tracker.spawn(stop.run_until_cancelled_owned(receive(relay, self.local.clone(), self.instance.clone())));
        Self { local: self.local, relay: Some(tx), instance: self.instance }
    }
}

/// Outgoing: batches what this instance publishes into `NOTIFY` payloads.
async fn send(relay: LiveRelay, mut rx: mpsc::Receiver<TenantEvent>, from: Arc<String>) {
    let mut pending: Vec<TenantEvent> = Vec::new();
    while let Some(first) = rx.recv().await {
        pending.push(first);
        tokio::time::sleep(Duration::from_millis(50)).await;
        while let Ok(e) = rx.try_recv() {
            pending.push(e);
        }
        for chunk in payloads(&from, std::mem::take(&mut pending)) {
            if let Err(e) = relay.notify(&chunk).await {
                tracing::warn!(error = %e, "live events not relayed to other instances");
            }
        }
    }
}

/// Incoming: republishes the other instances' events here (listening again
/// a second after the connection is lost).
async fn receive(relay: LiveRelay, local: broadcast::Sender<Arc<TenantEvent>>, from: Arc<String>) {
    loop {
        match relay.listen().await {
            Ok(mut listener) => loop {
                match listener.recv().await {
                    Ok(payload) => {
                        let Ok(env) = serde_json::from_str::<Envelope>(&payload) else { continue };
                        if env.from == *from {
                            continue;
                        }
                        for e in env.events {
                            let _ = local.send(Arc::new(e));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "live-event listener lost its connection; reconnecting");
                        break;
                    }
                }
            },
            Err(e) => tracing::warn!(error = %e, "cannot listen for live events; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Envelopes of at most `MAX_PAYLOAD` bytes (an event larger than that
/// alone is skipped: live events are small by construction).
fn payloads(from: &str, events: Vec<TenantEvent>) -> Vec<String> {
    let mut out = Vec::new();
    let mut batch: Vec<TenantEvent> = Vec::new();
    let render = |b: &[TenantEvent]| {
        serde_json::to_string(&Envelope { from: from.to_owned(), events: b.to_vec() }).unwrap_or_default()
    };
    for e in events {
        batch.push(e);
        if render(&batch).len() > MAX_PAYLOAD {
            let last = batch.pop();
            if !batch.is_empty() {
                out.push(render(&batch));
            }
            batch = last.into_iter().collect();
            if render(&batch).len() > MAX_PAYLOAD {
                batch.clear();
            }
        }
    }
    if !batch.is_empty() {
        out.push(render(&batch));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use weir_core::LiveKind;
    use weir_core::live::EventReceived;

    use super::*;

    /// An `event.received` whose ids carry `pad`.
    fn received(tenant: &str, event_id: String, pad: &str) -> TenantEvent {
        let data =
            EventReceived { connector_id: pad.to_owned(), event_id, event_type: "t".into(), receiver_id: "r".into() };
        TenantEvent { tenant_id: tenant.into(), event: LiveEvent::EventReceived(data) }
    }

    /// `docs/live.md` lists every kind, in order, and the console listens to each.
    #[test]
    fn the_documented_kinds_are_the_enum() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let doc = std::fs::read_to_string(format!("{root}/docs/live.md")).unwrap();
        let documented: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split_once('`').map(|(k, _)| k))
            .filter(|k| k.contains('.'))
            .collect();
        let kinds: Vec<&str> = LiveKind::VARIANTS.iter().map(|k| k.as_str()).collect();
        assert_eq!(documented, kinds);
        let console = std::fs::read_to_string(format!("{root}/crates/weir-api/ui/js/live.js")).unwrap();
        for k in kinds {
            assert!(console.contains(&format!("'{k}'")), "the console does not listen to {k}");
        }
    }

    #[test]
    fn payloads_stay_under_the_notify_limit() {
        let events: Vec<TenantEvent> = (0..200).map(|i| received("t", i.to_string(), &"x".repeat(100))).collect();
        let chunks = payloads("me", events);
        assert!(chunks.len() > 1);
        let mut n = 0;
        for c in &chunks {
            assert!(c.len() <= MAX_PAYLOAD);
            n += serde_json::from_str::<Envelope>(c).unwrap().events.len();
        }
        assert_eq!(n, 200);
    }

    #[tokio::test]
    async fn subscribers_get_what_is_published_and_slow_ones_lag() {
        let bus = LiveBus::new();
        let mut rx = bus.subscribe();
        bus.publish("t1", received("t1", "e".into(), "c").event);
        let got = rx.recv().await.unwrap();
        assert_eq!((got.tenant_id.as_str(), got.event.kind().as_str()), ("t1", "event.received"));
        for i in 0..(CAPACITY + 10) {
            bus.publish("t1", received("t1", i.to_string(), "c").event);
        }
        assert!(matches!(rx.recv().await, Err(broadcast::error::RecvError::Lagged(_))));
    }

    /// The relay's envelope keeps its shape (`tenant_id`, `kind`, `data`
    /// side by side) and gives back the typed event.
    #[test]
    fn the_relay_envelope_round_trips() {
        let chunks = payloads("me", vec![received("t1", "e".into(), "c")]);
        let [chunk] = chunks.as_slice() else { panic!("one payload expected: {chunks:?}") };
        let wire: serde_json::Value = serde_json::from_str(chunk).unwrap();
        let data = json!({"connector_id": "c", "event_id": "e", "event_type": "t", "receiver_id": "r"});
        let event = json!({"tenant_id": "t1", "kind": "event.received", "data": data});
        assert_eq!(wire, json!({"from": "me", "events": [event]}));
        let back = serde_json::from_str::<Envelope>(chunk).unwrap();
        assert_eq!(back.events, [received("t1", "e".into(), "c")]);
    }
}
