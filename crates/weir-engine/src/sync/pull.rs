//! An inbound run: pull every page from the source, map its items, and
//! upsert them as records. The next page is fetched while earlier ones are
//! written, and on PostgreSQL up to [`WRITES_AT_ONCE`] pages are written at
//! once, each in its own transaction and task (SQLite has one writer, so
//! there one at a time) — except that a page sharing a record key with a
//! page still being written waits for it, so a key's versions are written
//! in page order. Every page write has ended before the run does.

use std::collections::{BTreeSet, VecDeque};

use serde_json::Value;
use weir_core::SyncErrorType;
use weir_core::mapping::{JsonPath, Mapping};
use weir_core::sync::{SourceSpec, ordering_text};
use weir_store::{NewSyncError, RecordWrite, Store, StoreError, SyncHistory, TenantScope, UpsertOutcome};

use super::pages::{Next, Pager};
use super::runner::{Loaded, RunContext, Stop, call, excerpt, key_text};
use crate::connectors::FetchedPage;

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
        let mut in_flight = VecDeque::new();
        let pulled = async {
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
                let (writes, errors) = self.map_page(loaded, mapping, key, items);
                let next = pager.next(&current.body, &current.headers, items.len());
                if pager.capped() {
                    return Err(Stop::Failed(
                        SyncErrorType::InvalidResponse,
                        format!("the source still had pages after {} (the limit of one run)", super::pages::MAX_PAGES),
                    ));
                }
                self.start_write(&mut in_flight, writes, errors).await?;
                // The next page is fetched while the writes run.
                let fetched = fetch(next, self.counts.pages + 1).await;
                while in_flight.front().is_some_and(|w: &PageWrite| w.task.is_finished()) {
                    self.settle(in_flight.pop_front()).await?;
                }
                self.checkpoint(false).await?;
                page = fetched?;
            }
            Ok(())
        }
        .await;
        // Whatever stopped the run, no page write outlives it.
        let mut settled = Ok(());
        while let Some(w) = in_flight.pop_front() {
            let done = self.settle(Some(w)).await;
            settled = settled.and(done);
        }
        pulled.and(settled)
    }

    /// Starts writing a page in its own task, first waiting for the
    /// writes it must follow: one that shares a key with it, and the oldest
    /// when [`WRITES_AT_ONCE`] are under way.
    async fn start_write(
        &mut self,
        in_flight: &mut VecDeque<PageWrite>,
        writes: Vec<RecordWrite>,
        errors: Vec<NewSyncError>,
    ) -> Result<(), Stop> {
        let keys: BTreeSet<(String, String)> =
            writes.iter().map(|w| (w.entity_type.clone(), w.external_id.clone())).collect();
        if let Some(last) = in_flight.iter().rposition(|w| !w.keys.is_disjoint(&keys)) {
            for _ in 0..=last {
                self.settle(in_flight.pop_front()).await?;
            }
        }
        let at_once = if self.store.backend() == weir_store::Backend::Postgres { WRITES_AT_ONCE } else { 1 };
        while in_flight.len() >= at_once {
            self.settle(in_flight.pop_front()).await?;
        }
        let task =
            tokio::spawn(write_page(self.store.clone(), self.run.scope.clone(), self.run.history.clone(), writes));
        in_flight.push_back(PageWrite { keys, errors, task });
        Ok(())
    }

    /// Waits for a page's write and counts it: its records, and its errors
    /// (mapping errors and records that failed alone), stored.
    async fn settle(&mut self, write: Option<PageWrite>) -> Result<(), Stop> {
        let Some(PageWrite { errors: mut page_errors, task, .. }) = write else { return Ok(()) };
        let written =
            task.await.map_err(|e| Stop::Failed(SyncErrorType::Database, format!("a page write stopped: {e}")))??;
        self.count(written.outcomes.into_iter());
        page_errors.extend(written.errors);
        self.counts.failed += page_errors.len() as i64;
        self.store.add_sync_errors(self.run, page_errors).await?;
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

    fn count(&mut self, outcomes: impl Iterator<Item = UpsertOutcome>) {
        for o in outcomes {
            match o {
                UpsertOutcome::Created => self.counts.created += 1,
                UpsertOutcome::Updated => self.counts.updated += 1,
                UpsertOutcome::Unchanged | UpsertOutcome::Stale => {}
            }
        }
    }
}

/// Pages written at once by one inbound run on PostgreSQL (each its own
/// transaction): the second overlaps its records' insert with the first's
/// audit append and commit.
const WRITES_AT_ONCE: usize = 2;

/// A page being written.
struct PageWrite {
    /// The (entity type, external id) of its records.
    keys: BTreeSet<(String, String)>,
    /// Its items that did not map (stored once the write is counted).
    errors: Vec<NewSyncError>,
    /// The write.
    task: tokio::task::JoinHandle<Result<Written, Stop>>,
}

/// What a page's write did.
struct Written {
    outcomes: Vec<UpsertOutcome>,
    errors: Vec<NewSyncError>,
}

/// Upserts a page's records; if the page's transaction fails, each record
/// alone, so one bad record is one error, not a lost page.
async fn write_page(
    store: Store,
    scope: TenantScope,
    history: SyncHistory,
    writes: Vec<RecordWrite>,
) -> Result<Written, Stop> {
    let mut written = Written { outcomes: Vec::with_capacity(writes.len()), errors: Vec::new() };
    if writes.is_empty() {
        return Ok(written);
    }
    match store.upsert_records(&scope, writes.clone(), &history).await {
        Ok(done) => {
            written.outcomes.extend(done.iter().map(|(_, o)| *o));
            return Ok(written);
        }
        Err(StoreError::Unavailable(e)) => return Err(Stop::Failed(SyncErrorType::Database, e.to_string())),
        Err(_) => {}
    }
    for w in writes {
        let reference = w.external_id.clone();
        let data = w.data.clone();
        match store.upsert_records(&scope, vec![w], &history).await {
            Ok(done) => written.outcomes.extend(done.iter().map(|(_, o)| *o)),
            Err(StoreError::Unavailable(e)) => return Err(Stop::Failed(SyncErrorType::Database, e.to_string())),
            Err(e) => written.errors.push(NewSyncError {
                record_ref: Some(reference),
                error_type: SyncErrorType::Record,
                message: e.to_string(),
                excerpt: excerpt(&data),
            }),
        }
    }
    Ok(written)
}
