//! `webhook_event_keys`: which event owns each (receiver, provider event id).
//! The first delivery of a provider event claims its key; a repeated one
//! finds the key taken and resolves to the owner. A separate table (not a
//! unique index on `webhook_events`) because the events table is
//! partitioned by day on PostgreSQL, and a partitioned table's unique
//! indexes must include the partition key. Keys go when their events go.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{Condition, ConnectionTrait, DbBackend, Statement};

use super::events::AcceptedDelivery;
use crate::StoreError;

/// Keys per statement (four bound values each).
const CHUNK: usize = 500;

fn builder_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(sea_orm::DbErr::Custom(e.to_string()))
}

/// (receiver id, provider event id).
pub(crate) type Key = (String, String);

/// Claims the keys of `deliveries` that carry a provider event id (the
/// first of several equal keys in the batch wins) and answers, for every
/// such key, the id of the event that owns it — the delivery's own
/// `event_id` when it claimed the key, an earlier event's otherwise.
pub(crate) async fn claim<C: ConnectionTrait>(
    conn: &C,
    deliveries: &[&AcceptedDelivery],
) -> Result<HashMap<Key, String>, StoreError> {
    let keyed: Vec<(&AcceptedDelivery, &str)> =
        deliveries.iter().filter_map(|a| a.provider_event_id.as_deref().map(|p| (*a, p))).collect();
    let mut owners = HashMap::new();
    for chunk in keyed.chunks(CHUNK) {
        let mut insert = Query::insert();
        insert.into_table("webhook_event_keys").columns([
            "receiver_id",
            "provider_event_id",
            "event_id",
            "received_at",
        ]);
        for (a, pid) in chunk {
            insert
                .values([
                    a.receiver_id.clone().into(),
                    (*pid).to_owned().into(),
                    a.event_id.clone().into(),
                    a.received_at.into(),
                ])
                .map_err(builder_error)?;
        }
        insert.on_conflict(OnConflict::columns(["receiver_id", "provider_event_id"]).do_nothing().to_owned());
        insert.returning(Query::returning().columns(["receiver_id", "provider_event_id", "event_id"]));
        // The rows inserted: keys claimed now (the common case, no lookup).
        let mut taken: Vec<(String, &str)> = Vec::new();
        let mut claimed_now = std::collections::HashSet::new();
        for row in conn.query_all_raw(conn.get_database_backend().build(&insert)).await? {
            let receiver: String = row.try_get("", "receiver_id")?;
            let pid: String = row.try_get("", "provider_event_id")?;
            let event: String = row.try_get("", "event_id")?;
            claimed_now.insert(event.clone());
            owners.insert((receiver, pid), event);
        }
        // The rest found their key taken (earlier, or by an equal key
        // earlier in this batch): look up the owners of just those.
        for (a, pid) in chunk {
            if !claimed_now.contains(&a.event_id) {
                taken.push((a.receiver_id.clone(), pid));
            }
        }
        if taken.is_empty() {
            continue;
        }
        let mut any = Condition::any();
        for (receiver, pid) in &taken {
            any = any.add(
                Condition::all()
                    .add(Expr::col("receiver_id").eq(receiver.as_str()))
                    .add(Expr::col("provider_event_id").eq(*pid)),
            );
        }
        let select = Query::select()
            .columns(["receiver_id", "provider_event_id", "event_id"])
            .from("webhook_event_keys")
            .cond_where(any)
            .to_owned();
        for row in conn.query_all_raw(conn.get_database_backend().build(&select)).await? {
            let receiver: String = row.try_get("", "receiver_id")?;
            let pid: String = row.try_get("", "provider_event_id")?;
            let event: String = row.try_get("", "event_id")?;
            owners.insert((receiver, pid), event);
        }
    }
    Ok(owners)
}

/// Deletes the keys `(receiver id, provider event id)` that `event_id`
/// owns, for each `(receiver id, provider event id, event id)`: one
/// statement per chunk, matching against a `VALUES` list (a long `OR` of
/// conditions would cost more to plan than to run).
pub(crate) async fn release<C: ConnectionTrait>(conn: &C, keys: &[(String, String, String)]) -> Result<(), StoreError> {
    let backend = conn.get_database_backend();
    for chunk in keys.chunks(CHUNK) {
        let mut n = 0;
        let mut param = || {
            n += 1;
            match backend {
                DbBackend::Postgres => format!("${n}"),
                _ => "?".to_owned(),
            }
        };
        let tuples: Vec<String> = chunk.iter().map(|_| format!("({}, {}, {})", param(), param(), param())).collect();
        let sql = format!(
            "DELETE FROM webhook_event_keys WHERE (receiver_id, provider_event_id, event_id) IN (VALUES {})",
            tuples.join(", ")
        );
        let values: Vec<sea_orm::Value> = chunk
            .iter()
            .flat_map(|(receiver, pid, event)| [receiver.clone().into(), pid.clone().into(), event.clone().into()])
            .collect();
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    }
    Ok(())
}
