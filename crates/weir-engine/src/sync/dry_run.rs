//! A dry run of an inbound source: the first page fetched as a run would
//! fetch it, its records mapped, nothing written — what the console shows
//! before a configuration runs for real.

use serde_json::Value;
use weir_core::mapping::{JsonPath, Mapping};
use weir_core::sync::SourceSpec;

use super::pages::{Next, Pager};
use super::runner::key_text;
use crate::connectors::Connector;

/// Most mapped records a dry run answers (the page may hold more).
pub const DRY_RUN_RECORDS: usize = 10;

/// One record the page would write.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRecord {
    /// Its key.
    pub external_id: String,
    /// What would be stored.
    pub data: Value,
}

/// A record of the page that would fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryError {
    /// Its position on the page, from 1.
    pub item: usize,
    /// Why, rule by rule.
    pub message: String,
}

/// What the first page would do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DryRun {
    /// Records on the page.
    pub items: usize,
    /// The first [`DRY_RUN_RECORDS`] records mapped.
    pub records: Vec<DryRecord>,
    /// Records of those that would fail to map.
    pub errors: Vec<DryError>,
    /// Whether the source says there is another page.
    pub more_pages: bool,
    /// Why the page could not be read (the request failed, or the records
    /// are not where `records_path` says): nothing else is set then.
    pub failure: Option<String>,
}

/// Fetches `source`'s first page from `remote` and maps up to
/// [`DRY_RUN_RECORDS`] of its records with `mapping` (keyed by `key`).
pub async fn dry_run(remote: &dyn Connector, source: &SourceSpec, mapping: &Mapping, key: &str) -> DryRun {
    let failed = |why: String| DryRun { failure: Some(why), ..DryRun::default() };
    let records_path = match source.records_path.as_deref().map(JsonPath::parse).transpose() {
        Ok(p) => p,
        Err(e) => return failed(format!("records_path: {e}")),
    };
    let mut pager = Pager::new(source.pagination.clone());
    let query = match pager.first() {
        Next::Query(q) => q,
        Next::Link(_) | Next::Done => Vec::new(),
    };
    let page = match remote.fetch_page(&source.path, &query).await {
        Ok(p) => p,
        Err(e) => return failed(e.to_string()),
    };
    let items = match records_path.as_ref().map_or(Some(&page.body), |p| p.get(&page.body)) {
        Some(Value::Array(items)) => items,
        _ => return failed("`records_path` does not lead to a list in the first page".to_owned()),
    };
    let mut out = DryRun { items: items.len(), ..DryRun::default() };
    for (i, item) in items.iter().take(DRY_RUN_RECORDS).enumerate() {
        let mapped = mapping.apply(item);
        let mut messages: Vec<String> = mapped.errors.iter().map(|e| format!("{}: {}", e.target, e.message)).collect();
        match key_text(mapped.output.get(key)) {
            Some(external_id) if messages.is_empty() => {
                out.records.push(DryRecord { external_id, data: Value::Object(mapped.output) })
            }
            found => {
                if found.is_none() && !mapped.errors.iter().any(|e| e.target == key) {
                    messages.push(format!("{key}: the record key is missing or not a string or number"));
                }
                out.errors.push(DryError { item: i + 1, message: messages.join("; ") });
            }
        }
    }
    out.more_pages = !matches!(pager.next(&page.body, &page.headers, items.len()), Next::Done);
    out
}
