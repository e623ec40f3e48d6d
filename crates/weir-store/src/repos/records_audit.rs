//! The audit entry of a sync run's page: one `sync.records_written` entry
//! per committed page that changed records, listing each (key, version,
//! change), rather than an entry per record — a run of 100,000 records in
//! pages of 100 appends a thousand entries, not 100,000.

use serde_json::{Value, json};
use weir_core::RecordAction;

use super::audit::AuditEntry;
use super::records::{Record, UpsertOutcome};
use crate::SyncHistory;

/// What a page did to one record, as its entry lists it (the names of
/// processing's record results).
fn change(outcome: UpsertOutcome) -> Option<RecordAction> {
    match outcome {
        UpsertOutcome::Created => Some(RecordAction::Created),
        UpsertOutcome::Updated => Some(RecordAction::Updated),
        UpsertOutcome::Stale => Some(RecordAction::IgnoredStale),
        UpsertOutcome::Unchanged => None,
    }
}

/// Records listed by one entry at most: a partner's page can be large
/// (up to the response cap), and an entry is read whole by `verify`, the
/// list and the exports.
pub(crate) const RECORDS_PER_ENTRY: usize = 500;

/// The page's entries (one per [`RECORDS_PER_ENTRY`] changed records) and
/// the record keys each lists; none when the page changed nothing.
pub(crate) fn page_entries(run: &SyncHistory, done: &[(Record, UpsertOutcome)]) -> Vec<(AuditEntry, Vec<String>)> {
    let changed: Vec<(&Record, RecordAction)> = done.iter().filter_map(|(r, o)| change(*o).map(|c| (r, c))).collect();
    let parts = changed.len().div_ceil(RECORDS_PER_ENTRY);
    changed.chunks(RECORDS_PER_ENTRY).enumerate().map(|(i, chunk)| entry(run, chunk, (i + 1, parts))).collect()
}

/// One entry listing `chunk`, part `part.0` of `part.1` of its page.
fn entry(run: &SyncHistory, chunk: &[(&Record, RecordAction)], part: (usize, usize)) -> (AuditEntry, Vec<String>) {
    let count = |a: RecordAction| chunk.iter().filter(|(_, c)| *c == a).count();
    let mut keys: Vec<String> = chunk.iter().map(|(r, _)| format!("{}/{}", r.entity_type, r.external_id)).collect();
    let listed: Vec<Value> = chunk
        .iter()
        .map(|(r, c)| json!({"entity_type": r.entity_type, "external_id": r.external_id, "version": r.version, "change": c}))
        .collect();
    keys.sort();
    keys.dedup();
    let entry = AuditEntry {
        action: "sync.records_written",
        actor: format!("sync_configuration:{}", run.sync_configuration_id),
        resource_type: "sync_history",
        resource_id: run.id.clone(),
        connector_id: Some(run.connector_id.clone()),
        details: json!({
            "sync_history_id": run.id, "sync_configuration_id": run.sync_configuration_id,
            "created": count(RecordAction::Created), "updated": count(RecordAction::Updated),
            "ignored": count(RecordAction::IgnoredStale), "part": part.0, "parts": part.1,
            "records": Value::Array(listed),
        }),
    };
    (entry, keys)
}
