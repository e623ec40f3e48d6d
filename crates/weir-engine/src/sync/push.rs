//! An outbound run: the records changed since the last successful run, in
//! batches of `push_batch`, mapped and pushed to the destination. A batch
//! the destination refuses (4xx) makes its records errors; the run goes on.

use serde_json::Value;
use weir_core::SyncErrorType;
use weir_core::sync::DestinationSpec;
use weir_store::{NewSyncError, Record};

use super::runner::{Loaded, RunContext, Stop, excerpt};
use crate::connectors::Connector;

/// A batch's records ready to push, each body beside its record's
/// external id, and the records that could not be mapped.
#[derive(Default)]
struct Mapped {
    bodies: Vec<Value>,
    refs: Vec<String>,
    errors: Vec<NewSyncError>,
}

/// The destination's path, or why the configuration cannot push.
fn destination_path(loaded: &Loaded) -> Result<String, Stop> {
    let dest: DestinationSpec =
        loaded.config.destination.clone().and_then(|d| serde_json::from_value(d).ok()).ok_or_else(|| {
            Stop::Failed(SyncErrorType::Configuration, "the configuration has no valid destination".into())
        })?;
    dest.path
        .ok_or_else(|| Stop::Failed(SyncErrorType::Configuration, "an outbound run needs `destination.path`".into()))
}

/// Maps each record (or takes its data as it is, without a mapping).
fn map_batch(loaded: &Loaded, batch: &[Record]) -> Mapped {
    let mut out =
        Mapped { bodies: Vec::with_capacity(batch.len()), refs: Vec::with_capacity(batch.len()), errors: Vec::new() };
    for r in batch {
        match &loaded.mapping {
            None => out.bodies.push(r.data.clone()),
            Some((m, _)) => {
                let mapped = m.apply(&r.data);
                if !mapped.errors.is_empty() {
                    out.errors.push(NewSyncError {
                        record_ref: Some(r.external_id.clone()),
                        error_type: SyncErrorType::Mapping,
                        message: mapped
                            .errors
                            .iter()
                            .map(|e| format!("{}: {}", e.target, e.message))
                            .collect::<Vec<_>>()
                            .join("; "),
                        excerpt: excerpt(&r.data),
                    });
                    continue;
                }
                out.bodies.push(Value::Object(mapped.output));
            }
        }
        out.refs.push(r.external_id.clone());
    }
    out
}

impl RunContext<'_> {
    /// Pushes the records changed since the last successful run.
    pub(crate) async fn outbound(&mut self, loaded: &Loaded) -> Result<(), Stop> {
        let path = destination_path(loaded)?;
        let since = loaded.config.last_success_at;
        let mut after = None;
        loop {
            let batch = self
                .store
                .records_changed_since(
                    &self.run.scope,
                    &loaded.config.entity_type,
                    since,
                    after.clone(),
                    self.options.push_batch,
                )
                .await?;
            let Some(last) = batch.last() else { break };
            after = Some((last.updated_at, last.id.clone()));
            self.counts.read += batch.len() as i64;
            let mut mapped = map_batch(loaded, &batch);
            if !mapped.bodies.is_empty() {
                self.push(loaded.remote.as_ref(), &path, &mut mapped).await?;
            }
            self.counts.failed += mapped.errors.len() as i64;
            self.store.add_sync_errors(self.run, mapped.errors).await?;
            self.checkpoint(false).await?;
        }
        Ok(())
    }

    /// Pushes one mapped batch and counts it; a refused batch's records
    /// join `mapped.errors`.
    async fn push(&mut self, remote: &dyn Connector, path: &str, mapped: &mut Mapped) -> Result<(), Stop> {
        let bodies = &mapped.bodies;
        let size = serde_json::to_vec(bodies).map(|b| b.len()).unwrap_or(0) as i64;
        let what = format!("batch {}", self.counts.pages + 1);
        match self.call(&what, || remote.push_batch(path, bodies)).await {
            Ok(_) => {
                self.counts.updated += bodies.len() as i64;
                self.counts.bytes += size;
            }
            // The destination refused this batch (4xx): its records
            // are errors; the run goes on with the next batch.
            Err(Stop::Failed(SyncErrorType::Refused, message)) => {
                for (r, body) in mapped.refs.iter().zip(bodies) {
                    mapped.errors.push(NewSyncError {
                        record_ref: Some(r.clone()),
                        error_type: SyncErrorType::Push,
                        message: message.clone(),
                        excerpt: excerpt(body),
                    });
                }
            }
            Err(stop) => return Err(stop),
        }
        self.counts.pages += 1;
        Ok(())
    }
}
