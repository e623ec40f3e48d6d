//! Completing a batch of held events in one statement.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use weir_core::EventStatus;

use super::partitioned;
use crate::StoreError;

/// Marks held events completed in one statement (`UPDATE … FROM (VALUES
/// …)`, which both engines support) instead of one per event.
pub(super) async fn complete_events(
    txn: &sea_orm::DatabaseTransaction,
    rows: &[(String, String, String)],
    arrivals: &HashSet<DateTime<Utc>>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    if rows.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let mut n = 0;
    let mut param = || {
        n += 1;
        match backend {
            DbBackend::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        }
    };
    // One placeholder per use: SQLite's `?` are positional.
    let (processed_at, updated_at) = (param(), param());
    let tuples: Vec<String> = rows.iter().map(|_| format!("({}, {}, {})", param(), param(), param())).collect();
    let days: Vec<String> = if partitioned(backend) { arrivals.iter().map(|_| param()).collect() } else { Vec::new() };
    let json = |col: &str| match backend {
        DbBackend::Postgres => format!("CAST(v.{col} AS jsonb)"),
        _ => format!("v.{col}"),
    };
    let sql = format!(
        "UPDATE webhook_events SET processing_status = '{completed}', lease_owner = NULL, \
         lease_expires_at = NULL, error_type = NULL, error_message = NULL, processed_at = {processed_at}, \
         updated_at = {updated_at}, result = {result}, attempt_log = {log} \
         FROM (SELECT column1 AS id, column2 AS result, column3 AS log FROM (VALUES {values}) AS t) AS v \
         WHERE webhook_events.id = v.id{days}",
        completed = EventStatus::Completed,
        days = if days.is_empty() {
            String::new()
        } else {
            format!(" AND webhook_events.received_at IN ({})", days.join(", "))
        },
        result = json("result"),
        log = json("log"),
        values = tuples.join(", "),
    );
    let mut values: Vec<sea_orm::Value> = vec![at.into(), at.into()];
    for (id, result, log) in rows {
        values.extend([id.clone().into(), result.clone().into(), log.clone().into()]);
    }
    if partitioned(backend) {
        values.extend(arrivals.iter().map(|a| sea_orm::Value::from(*a)));
    }
    let done = txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?.rows_affected();
    // The rows are held and locked by this transaction: all must match.
    if done != rows.len() as u64 {
        return Err(StoreError::StateConflict("completing a batch of events matched fewer rows than held"));
    }
    Ok(())
}
