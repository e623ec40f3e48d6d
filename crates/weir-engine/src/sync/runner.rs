//! Executing one claimed run: inbound (pull pages, map, upsert records) or
//! outbound (changed records, map, push batches), with page retries,
//! `Retry-After`, per-record errors, progress, and cancellation.

use std::time::Duration;

use serde_json::Value;
use weir_core::mapping::{JsonPath, Mapping, Rule};
use weir_core::sync::{DestinationSpec, SourceSpec, ordering_text};
use weir_core::{ConnectorConfig, Credentials, LiveKind, MasterKey, RunStatus, SyncErrorType};
use weir_store::{
    ClaimedRun, NewSyncError, RecordWrite, RunCounts, RunEnd, Store, StoreError, SyncConfiguration, UpsertOutcome,
};

use super::SyncOptions;
use super::pages::{Next, Pager};
use crate::Outbound;
use crate::connectors::{Connector, ConnectorError, FetchedPage, build_connector};

/// Why a run stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    /// Failed: why, and the message.
    Failed(SyncErrorType, String),
    /// Cancellation was asked for.
    Cancelled,
    /// This instance is shutting down: the run goes back to the queue.
    ShuttingDown,
    /// Another runner took the run over (this one's lease lapsed).
    Lost,
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::StateConflict(_) => Stop::Lost,
            e => Stop::Failed(SyncErrorType::Database, e.to_string()),
        }
    }
}

/// Everything a run needs, loaded once.
pub(crate) struct RunContext<'a> {
    pub store: &'a Store,
    pub options: &'a SyncOptions,
    pub run: &'a ClaimedRun,
    pub owner: &'a str,
    pub stopping: &'a tokio_util::sync::CancellationToken,
    pub counts: RunCounts,
    pub last_checkpoint: std::time::Instant,
}

/// How often a running run saves its progress (and notices a cancel).
pub(crate) const PROGRESS_EVERY: Duration = Duration::from_millis(250);

fn excerpt(v: &Value) -> Option<String> {
    let s = v.to_string();
    Some(s.chars().take(weir_store::repos::sync_runs::MAX_EXCERPT_CHARS).collect())
}

fn key_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() && s.len() <= 255 => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) struct Loaded {
    pub config: SyncConfiguration,
    pub remote: Box<dyn Connector>,
    pub mapping: Option<(Mapping, String)>,
}

/// Loads the configuration, its connector (credentials opened) and mapping.
pub(crate) async fn load(
    store: &Store,
    master_key: &MasterKey,
    outbound: &Outbound,
    run: &ClaimedRun,
) -> Result<Loaded, Stop> {
    let cfg = |m: String| Stop::Failed(SyncErrorType::Configuration, m);
    let config = match store.get_sync_configuration(&run.scope, &run.history.sync_configuration_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Err(cfg("the sync configuration was deleted".to_owned())),
        Err(e) => return Err(e.into()),
    };
    let connector = match store.get_connector(&run.scope, &config.connector_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Err(cfg("the connector was deleted".to_owned())),
        Err(e) => return Err(e.into()),
    };
    if !connector.is_active {
        return Err(cfg("the connector is inactive".to_owned()));
    }
    let parsed = ConnectorConfig::parse(connector.connector_type, Some(&connector.config))
        .map_err(|e| cfg(format!("the connector's stored configuration is invalid: {e:?}")))?;
    let sealed = store.connector_credentials(&run.scope, &connector.id).await?;
    let credentials = match sealed {
        None => Credentials::None,
        Some(s) => {
            let bytes = master_key
                .open(&s.0)
                .map_err(|_| cfg("the credentials cannot be opened with this master key".into()))?;
            Credentials::from_bytes(&bytes).ok_or_else(|| cfg("the stored credentials are malformed".into()))?
        }
    };
    let remote = build_connector(&parsed, credentials, outbound);
    let mapping = match &config.field_mapping_id {
        None => None,
        Some(id) => {
            let m =
                store.get_field_mapping(&run.scope, id).await.map_err(|_| cfg("the field mapping is gone".into()))?;
            let rules: Vec<Rule> =
                serde_json::from_value(m.rules).map_err(|e| cfg(format!("the stored mapping is invalid: {e}")))?;
            let mapping =
                Mapping::parse(rules).map_err(|e| cfg(format!("the stored mapping is invalid: {:?}", e.as_map())))?;
            Some((mapping, m.key))
        }
    };
    Ok(Loaded { config, remote, mapping })
}

impl<'a> RunContext<'a> {
    /// Saves progress; stops on cancellation or shutdown.
    /// At most every [`PROGRESS_EVERY`] (or when `force`d): saves the
    /// counts, renews the lease, refreshes planner statistics of tables this
    /// run makes grow, and stops on cancellation. Shutdown is checked always.
    async fn checkpoint(&mut self, force: bool) -> Result<(), Stop> {
        if self.stopping.is_cancelled() {
            return Err(Stop::ShuttingDown);
        }
        if !force && self.last_checkpoint.elapsed() < PROGRESS_EVERY {
            return Ok(());
        }
        self.last_checkpoint = std::time::Instant::now();
        let cancel = self.store.sync_run_progress(self.run, self.owner, self.counts, self.options.lease).await?;
        self.options.live.publish(
            self.run.scope.tenant_id(),
            LiveKind::SyncProgress,
            serde_json::json!({
                "sync_history_id": self.run.history.id, "connector_id": self.run.history.connector_id,
                "records_read": self.counts.read, "records_created": self.counts.created,
                "records_updated": self.counts.updated, "records_failed": self.counts.failed, "pages": self.counts.pages,
            }),
        );
        if cancel {
            return Err(Stop::Cancelled);
        }
        if let Err(e) = self.store.analyze_if_stale().await {
            tracing::debug!(error = %e, "refreshing planner statistics failed");
        }
        Ok(())
    }

    async fn call<T, F, Fut>(&self, what: &str, f: F) -> Result<T, Stop>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ConnectorError>>,
    {
        call(self.options, self.interrupt(), what, f).await
    }

    fn interrupt(&self) -> Interrupt<'a> {
        Interrupt { store: self.store, run: self.run, stopping: self.stopping }
    }
}

/// What a call waiting between retries watches, so that a cancel or a
/// shutdown does not wait for every retry of a page to run out.
#[derive(Clone, Copy)]
struct Interrupt<'a> {
    store: &'a Store,
    run: &'a ClaimedRun,
    stopping: &'a tokio_util::sync::CancellationToken,
}

impl Interrupt<'_> {
    /// Sleeps `d`, checking for shutdown and cancellation at least every
    /// [`PROGRESS_EVERY`].
    async fn wait(&self, d: Duration) -> Result<(), Stop> {
        let end = tokio::time::Instant::now() + d;
        loop {
            if self.stopping.is_cancelled() {
                return Err(Stop::ShuttingDown);
            }
            if self.store.sync_run_cancel_requested(self.run).await? {
                return Err(Stop::Cancelled);
            }
            let left = end.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            tokio::time::sleep(left.min(PROGRESS_EVERY)).await;
        }
    }
}

/// Calls the remote with the retry rules: 5xx, timeouts and connection
/// failures retry with backoff; 429 waits `Retry-After` (bounded). The
/// waits end early on cancellation or shutdown.
async fn call<T, F, Fut>(options: &SyncOptions, interrupt: Interrupt<'_>, what: &str, mut f: F) -> Result<T, Stop>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ConnectorError>>,
{
    let mut attempt = 0i32;
    let mut waits = 0u32;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(ConnectorError::Status { status: 429, retry_after_secs }) => {
                waits += 1;
                if waits > options.max_rate_limit_waits {
                    return Err(Stop::Failed(
                        SyncErrorType::RateLimited,
                        format!("{what}: still rate limited (429) after {} waits", waits - 1),
                    ));
                }
                let wait = retry_after_secs.map(Duration::from_secs).unwrap_or(Duration::from_secs(1));
                interrupt.wait(wait.min(options.max_retry_after)).await?;
            }
            Err(e) => {
                attempt += 1;
                let (kind, transient) = match &e {
                    ConnectorError::Status { status, .. } if *status >= 500 || *status == 408 => {
                        (SyncErrorType::Http, true)
                    }
                    ConnectorError::Status { .. } => (SyncErrorType::Refused, false),
                    ConnectorError::Timeout(_) => (SyncErrorType::Timeout, true),
                    ConnectorError::Connection(_) => (SyncErrorType::Connection, true),
                    ConnectorError::InvalidBody(_) | ConnectorError::TooLarge { .. } => {
                        (SyncErrorType::InvalidResponse, false)
                    }
                    ConnectorError::Misconfigured(_) | ConnectorError::Unsupported(_) => {
                        (SyncErrorType::Configuration, false)
                    }
                };
                if !transient || !options.page_retry.may_retry(attempt) {
                    let tries = if transient { format!(" after {attempt} attempts") } else { String::new() };
                    return Err(Stop::Failed(kind, format!("{what}: {e}{tries}")));
                }
                interrupt.wait(options.page_retry.delay(attempt)).await?;
            }
        }
    }
}

impl RunContext<'_> {
    /// Pulls every page, maps and upserts its records.
    pub(crate) async fn inbound(&mut self, loaded: &Loaded) -> Result<(), Stop> {
        let source: SourceSpec =
            loaded.config.source.clone().and_then(|s| serde_json::from_value(s).ok()).ok_or_else(|| {
                Stop::Failed(SyncErrorType::Configuration, "the configuration has no valid source".into())
            })?;
        let records_path = match &source.records_path {
            Some(p) => Some(JsonPath::parse(p).map_err(|e| Stop::Failed(SyncErrorType::Configuration, e.to_string()))?),
            None => None,
        };
        let Some((mapping, key)) = &loaded.mapping else {
            return Err(Stop::Failed(SyncErrorType::Configuration, "an inbound run needs a field mapping".into()));
        };
        let mut pager = Pager::new(source.pagination.clone());
        let remote = loaded.remote.as_ref();
        let options = self.options;
        let interrupt = self.interrupt();
        let source_path = source.path.as_str();
        let fetch = |next: Next, n: i64| async move {
            let what = format!("page {n}");
            match next {
                Next::Done => Ok(None),
                Next::Query(q) => {
                    call(options, interrupt, &what, || remote.fetch_page(source_path, &q)).await.map(Some)
                }
                Next::Link(url) => call(options, interrupt, &what, || remote.fetch_url(&url)).await.map(Some),
            }
        };
        let mut page: Option<FetchedPage> = fetch(pager.first(), 1).await?;
        while let Some(current) = page.take() {
            self.counts.pages += 1;
            self.counts.bytes += current.bytes as i64;
            let items = match &records_path {
                Some(p) => p.get(&current.body),
                None => Some(&current.body),
            };
            let Some(Value::Array(items)) = items else {
                return Err(Stop::Failed(
                    SyncErrorType::InvalidResponse,
                    format!("page {}: `records_path` does not lead to a list", self.counts.pages),
                ));
            };
            self.counts.read += items.len() as i64;
            let (writes, mut errors) = self.map_page(loaded, mapping, key, items);
            // The next page is fetched while this one is written.
            let next = pager.next(&current.body, &current.headers, items.len());
            if pager.capped() {
                return Err(Stop::Failed(
                    SyncErrorType::InvalidResponse,
                    format!("the source still had pages after {} (the limit of one run)", super::pages::MAX_PAGES),
                ));
            }
            let n = self.counts.pages + 1;
            let (written, fetched) = tokio::join!(self.write(writes, &mut errors), fetch(next, n));
            written?;
            self.counts.failed += errors.len() as i64;
            self.store.add_sync_errors(self.run, errors).await?;
            self.checkpoint(false).await?;
            page = fetched?;
        }
        Ok(())
    }

    /// Maps a page's items into record writes and per-record errors.
    fn map_page(
        &self,
        loaded: &Loaded,
        mapping: &Mapping,
        key: &str,
        items: &[Value],
    ) -> (Vec<RecordWrite>, Vec<NewSyncError>) {
        let mut writes = Vec::with_capacity(items.len());
        let mut errors = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let mapped = mapping.apply(item);
            let external_id = key_text(mapped.output.get(key));
            if !mapped.errors.is_empty() || external_id.is_none() {
                let reference =
                    external_id.clone().unwrap_or_else(|| format!("page {} item {}", self.counts.pages, i + 1));
                let mut messages: Vec<String> =
                    mapped.errors.iter().map(|e| format!("{}: {}", e.target, e.message)).collect();
                if external_id.is_none() && !mapped.errors.iter().any(|e| e.target == key) {
                    messages.push(format!("{key}: the record key is missing or not a string or number"));
                }
                errors.push(NewSyncError {
                    record_ref: Some(reference),
                    error_type: SyncErrorType::Mapping,
                    message: messages.join("; "),
                    excerpt: excerpt(item),
                });
                continue;
            }
            let ordering_value =
                loaded.config.ordering_field.as_ref().and_then(|f| mapped.output.get(f)).and_then(ordering_text);
            writes.push(RecordWrite {
                entity_type: loaded.config.entity_type.clone(),
                external_id: external_id.unwrap_or_default(),
                data: Value::Object(mapped.output),
                source_connector_id: Some(loaded.config.connector_id.clone()),
                last_event_id: None,
                ordering_value,
            });
        }
        (writes, errors)
    }

    /// Upserts a page's records; if the page's transaction fails, each
    /// record alone, so one bad record is one error, not a lost page.
    async fn write(&mut self, writes: Vec<RecordWrite>, errors: &mut Vec<NewSyncError>) -> Result<(), Stop> {
        if writes.is_empty() {
            return Ok(());
        }
        let scope = &self.run.scope;
        match self.store.upsert_records(scope, writes.clone()).await {
            Ok(done) => {
                self.count(done.iter().map(|(_, o)| *o));
                Ok(())
            }
            Err(StoreError::Unavailable(e)) => Err(Stop::Failed(SyncErrorType::Database, e.to_string())),
            Err(_) => {
                for w in writes {
                    let reference = w.external_id.clone();
                    let data = w.data.clone();
                    match self.store.upsert_records(scope, vec![w]).await {
                        Ok(done) => self.count(done.iter().map(|(_, o)| *o)),
                        Err(StoreError::Unavailable(e)) => {
                            return Err(Stop::Failed(SyncErrorType::Database, e.to_string()));
                        }
                        Err(e) => errors.push(NewSyncError {
                            record_ref: Some(reference),
                            error_type: SyncErrorType::Record,
                            message: e.to_string(),
                            excerpt: excerpt(&data),
                        }),
                    }
                }
                Ok(())
            }
        }
    }

    fn count(&mut self, outcomes: impl Iterator<Item = UpsertOutcome>) {
        for o in outcomes {
            match o {
                UpsertOutcome::Created => self.counts.created += 1,
                UpsertOutcome::Updated => self.counts.updated += 1,
                UpsertOutcome::Unchanged | UpsertOutcome::Stale => {}
            }
        }
    }

    /// Pushes the records changed since the last successful run.
    pub(crate) async fn outbound(&mut self, loaded: &Loaded) -> Result<(), Stop> {
        let dest: DestinationSpec =
            loaded.config.destination.clone().and_then(|d| serde_json::from_value(d).ok()).ok_or_else(|| {
                Stop::Failed(SyncErrorType::Configuration, "the configuration has no valid destination".into())
            })?;
        let path = dest.path.clone().ok_or_else(|| {
            Stop::Failed(SyncErrorType::Configuration, "an outbound run needs `destination.path`".into())
        })?;
        let since = loaded.config.last_success_at;
        let mut after = None;
        let remote = loaded.remote.as_ref();
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
            let mut bodies = Vec::with_capacity(batch.len());
            let mut refs = Vec::with_capacity(batch.len());
            let mut errors = Vec::new();
            for r in &batch {
                match &loaded.mapping {
                    None => bodies.push(r.data.clone()),
                    Some((m, _)) => {
                        let mapped = m.apply(&r.data);
                        if mapped.errors.is_empty() {
                            bodies.push(Value::Object(mapped.output));
                        } else {
                            errors.push(NewSyncError {
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
                    }
                }
                refs.push(r.external_id.clone());
            }
            if !bodies.is_empty() {
                let size = serde_json::to_vec(&bodies).map(|b| b.len()).unwrap_or(0) as i64;
                let what = format!("batch {}", self.counts.pages + 1);
                match self.call(&what, || remote.push_batch(&path, &bodies)).await {
                    Ok(_) => {
                        self.counts.updated += bodies.len() as i64;
                        self.counts.bytes += size;
                    }
                    // The destination refused this batch (4xx): its records
                    // are errors; the run goes on with the next batch.
                    Err(Stop::Failed(SyncErrorType::Refused, message)) => {
                        for (r, body) in refs.iter().zip(&bodies) {
                            errors.push(NewSyncError {
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
            }
            self.counts.failed += errors.len() as i64;
            self.store.add_sync_errors(self.run, errors).await?;
            self.checkpoint(false).await?;
        }
        Ok(())
    }
}

/// The end of a run that went through.
pub(crate) fn completed(counts: RunCounts) -> RunEnd {
    RunEnd { status: if counts.failed > 0 { RunStatus::Partial } else { RunStatus::Succeeded }, counts, error: None }
}
