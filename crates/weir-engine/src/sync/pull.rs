//! An inbound run: pull every page from the source, map its items, and
//! upsert them as records (the next page is fetched while one is written).

use serde_json::Value;
use weir_core::SyncErrorType;
use weir_core::mapping::{JsonPath, Mapping};
use weir_core::sync::{SourceSpec, ordering_text};
use weir_store::{NewSyncError, RecordWrite, StoreError, UpsertOutcome};

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
        match self.store.upsert_records(scope, writes.clone(), &self.run.history).await {
            Ok(done) => {
                self.count(done.iter().map(|(_, o)| *o));
                Ok(())
            }
            Err(StoreError::Unavailable(e)) => Err(Stop::Failed(SyncErrorType::Database, e.to_string())),
            Err(_) => {
                for w in writes {
                    let reference = w.external_id.clone();
                    let data = w.data.clone();
                    match self.store.upsert_records(scope, vec![w], &self.run.history).await {
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
}
