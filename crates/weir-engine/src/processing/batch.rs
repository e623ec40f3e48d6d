//! One claimed batch: plan each event, write records and finish the
//! events in one transaction (each alone if that fails), then make the
//! held events' deliveries under a renewed lease and finish those.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use weir_core::live::EventAttempt;
use weir_core::{AttemptOutcome, EventErrorType, LiveEvent};
use weir_store::{ClaimedEvent, EventWork, Finish, RecordEffect, StoreError};

use super::plan::{self, CompiledRoute, Plan, PlannedDelivery};
use super::{BatchReport, Processor};

/// Each (tenant id, connector id)'s compiled webhook routes.
type Routes = HashMap<(String, String), Vec<CompiledRoute>>;

/// Counts a finished attempt and, for a final outcome, the event's lag
/// from receipt (the `weir_event_*` metrics).
fn observe(live: &crate::LiveBus, ev: &ClaimedEvent, f: &Finish) {
    let outcome = f.outcome();
    metrics::counter!("weir_event_attempts_total", "outcome" => outcome.as_str()).increment(1);
    if outcome != AttemptOutcome::Retry {
        let lag = (Utc::now() - ev.received_at).to_std().unwrap_or_default();
        metrics::histogram!("weir_event_processing_lag_seconds").record(lag.as_secs_f64());
    }
    let attempt = EventAttempt {
        attempt: ev.attempts,
        connector_id: ev.connector_id.clone(),
        event_id: ev.id.clone(),
        event_type: ev.event_type.clone(),
    };
    let event = match outcome {
        AttemptOutcome::Completed => LiveEvent::EventProcessed(attempt),
        AttemptOutcome::Retry => LiveEvent::EventRetrying(attempt),
        AttemptOutcome::Failed => LiveEvent::EventFailed(attempt),
    };
    live.publish(ev.scope.tenant_id(), event);
}

impl Processor {
    /// Claims one batch as `owner` — looking for expired claims too when
    /// `expired` — and processes it.
    pub(super) async fn claim_and_process(&self, owner: &str, expired: bool) -> Result<BatchReport, StoreError> {
        let opts = &self.inner.options;
        let events = self.inner.store.claim_due_events(owner, opts.batch_size, opts.lease, expired).await?;
        let mut report = BatchReport { claimed: events.len(), ..BatchReport::default() };
        if events.is_empty() {
            return Ok(report);
        }
        let started_at = Utc::now();
        let routes = self.routes_for(&events).await?;
        let mut works = Vec::with_capacity(events.len());
        let mut held: Vec<(usize, Vec<PlannedDelivery>)> = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            let (work, deliveries) = self.work_for(ev, &routes, started_at);
            match &work.finish {
                Some(f) => {
                    report.add(f);
                    observe(&opts.live, ev, f);
                }
                None => held.push((i, deliveries)),
            }
            works.push(work);
        }
        let effects = match self.inner.store.process_events(owner, works).await {
            Ok(e) => e,
            Err(e) => {
                // Nothing of the batch was written. One event may be the
                // cause: try each alone before anyone's attempt is spent.
                tracing::warn!(error = %e, events = events.len(), "batch transaction failed; processing one by one");
                self.process_one_by_one(owner, &events, &routes, started_at, &mut held).await?
            }
        };
        if held.is_empty() {
            return Ok(report);
        }
        let finished = self.deliver_under_lease(owner, &events, &effects, held, started_at).await;
        for w in &finished {
            if let Some(f) = &w.finish {
                report.add(f);
                observe(&opts.live, w.event, f);
            }
        }
        self.inner.store.process_events(owner, finished).await?;
        Ok(report)
    }

    /// Commits each event of a failed batch alone; one whose transaction
    /// fails again is finished as a transient database failure (and loses
    /// its deliveries from `held`). Answers each event's record effects.
    async fn process_one_by_one(
        &self,
        owner: &str,
        events: &[ClaimedEvent],
        routes: &Routes,
        started_at: chrono::DateTime<Utc>,
        held: &mut Vec<(usize, Vec<PlannedDelivery>)>,
    ) -> Result<Vec<Vec<RecordEffect>>, StoreError> {
        let mut effects = Vec::with_capacity(events.len());
        for ev in events {
            let (work, _) = self.work_for(ev, routes, started_at);
            match self.inner.store.process_events(owner, vec![work]).await {
                Ok(mut one) => effects.push(one.pop().unwrap_or_default()),
                Err(e) => {
                    tracing::warn!(error = %e, event_id = %ev.id, "processing transaction failed");
                    let finish =
                        self.transient(ev, EventErrorType::Database, format!("the database failed: {e}"), None);
                    let work = EventWork {
                        event: ev,
                        records: Vec::new(),
                        finish: Some(finish),
                        started_at,
                        audits: Vec::new(),
                    };
                    // If even this fails the lease expires and the event returns.
                    self.inner.store.process_events(owner, vec![work]).await?;
                    held.retain(|(i, _)| events[*i].id != ev.id);
                    effects.push(Vec::new());
                }
            }
        }
        Ok(effects)
    }

    /// Makes the held events' deliveries. They may outlast the lease: it is
    /// renewed while they run, so no other worker takes these events over
    /// mid-delivery.
    async fn deliver_under_lease<'a>(
        &self,
        owner: &str,
        events: &'a [ClaimedEvent],
        effects: &[Vec<RecordEffect>],
        held: Vec<(usize, Vec<PlannedDelivery>)>,
        started_at: chrono::DateTime<Utc>,
    ) -> Vec<EventWork<'a>> {
        let lease = self.inner.options.lease;
        let held_ids: Vec<String> = held.iter().map(|(i, _)| events[*i].id.clone()).collect();
        let deliveries = self.deliver_held(events, effects, held, started_at);
        tokio::pin!(deliveries);
        let mut heartbeat = tokio::time::interval((lease / 3).max(Duration::from_millis(10)));
        heartbeat.tick().await;
        loop {
            tokio::select! {
                finished = &mut deliveries => return finished,
                _ = heartbeat.tick() => {
                    if let Err(e) = self.inner.store.extend_leases(owner, &held_ids, lease).await {
                        tracing::warn!(error = %e, "could not extend leases during deliveries");
                    }
                }
            }
        }
    }

    /// What to do with one claimed event: its records and how it ends (no
    /// end yet when it has deliveries to make).
    pub(super) fn work_for<'e>(
        &self,
        ev: &'e ClaimedEvent,
        routes: &Routes,
        started_at: chrono::DateTime<Utc>,
    ) -> (EventWork<'e>, Vec<PlannedDelivery>) {
        let work = |records, finish| EventWork { event: ev, records, finish, started_at, audits: Vec::new() };
        if ev.attempts > self.inner.options.retry.max_attempts as i32 {
            let finish = Finish::Failed {
                error_type: EventErrorType::WorkerLost,
                error_message: format!("a worker stopped responding during attempt {}", ev.attempts - 1),
                result: None,
            };
            return (work(Vec::new(), Some(finish)), Vec::new());
        }
        let key = (ev.scope.tenant_id().to_owned(), ev.connector_id.clone());
        match plan::plan(ev, routes.get(&key).map(Vec::as_slice).unwrap_or_default()) {
            Plan::Ignore(result) => (work(Vec::new(), Some(Finish::Completed { result: Some(result) })), Vec::new()),
            Plan::Fail { error_type, message, result } => {
                let finish = Finish::Failed { error_type, error_message: message, result };
                (work(Vec::new(), Some(finish)), Vec::new())
            }
            Plan::Write { records, deliveries } if deliveries.is_empty() => {
                (work(records, Some(Finish::Completed { result: None })), Vec::new())
            }
            Plan::Write { records, deliveries } => (work(records, None), deliveries),
        }
    }

    /// Each (tenant, connector)'s compiled routes, one lookup per pair.
    async fn routes_for(&self, events: &[ClaimedEvent]) -> Result<Routes, StoreError> {
        let mut routes = HashMap::new();
        for ev in events {
            let key = (ev.scope.tenant_id().to_owned(), ev.connector_id.clone());
            if routes.contains_key(&key) {
                continue;
            }
            let found = self.inner.store.webhook_routes(&ev.scope, &ev.connector_id).await?;
            let compiled =
                found.into_iter().map(|r| CompiledRoute::compile(r, &self.inner.master_key)).collect::<Vec<_>>();
            routes.insert(key, compiled);
        }
        Ok(routes)
    }
}
