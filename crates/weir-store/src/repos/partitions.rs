//! Day partitions of `webhook_events` (PostgreSQL only; on SQLite the
//! table is a plain table and every method here is a no-op).
//!
//! Layout: `webhook_events` is `PARTITION BY RANGE (received_at)` with one
//! partition per UTC day, named `webhook_events_pYYYYMMDD`, plus
//! `webhook_events_default` for rows outside every day partition (a
//! scheduler that was down longer than the days created ahead, or rows
//! older than the migration's window). The scheduler role creates days
//! ahead; retention drops whole days once they are past the window —
//! one catalog change instead of a million row deletes.
//!
//! Provider-id deduplication cannot be a unique index on a partitioned
//! table (it would have to include `received_at`), so it lives in the
//! unpartitioned, narrow `webhook_event_keys` table on both engines; a
//! day's keys are deleted (in batches) before its partition is dropped.

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use weir_core::EventStatus;

use crate::{Backend, Store, StoreError};

/// Name prefix of day partitions.
const PREFIX: &str = "webhook_events_p";

/// The name of `day`'s partition.
pub(crate) fn day_partition_name(day: NaiveDate) -> String {
    format!("{PREFIX}{}", day.format("%Y%m%d"))
}

/// The day a partition name stands for (`None` for other tables).
fn day_of(name: &str) -> Option<NaiveDate> {
    let digits = name.strip_prefix(PREFIX)?;
    if digits.len() != 8 {
        return None;
    }
    NaiveDate::parse_from_str(digits, "%Y%m%d").ok()
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_time(chrono::NaiveTime::MIN))
}

/// The columns that get no planner statistics, per table (migration
/// 000019): opaque bodies and hashes that no query filters or sorts on,
/// whose sampling made each `ANALYZE` of a day partition cost 0.4–0.6 s.
pub(crate) const UNSAMPLED: &[(&str, &[&str])] = &[
    ("webhook_events", &["payload", "payload_raw", "headers", "result", "attempt_log", "error_message"]),
    ("audit_logs", &["details", "prev_hash", "entry_hash", "body_digest"]),
    ("records", &["data"]),
];

/// `ALTER TABLE target` setting the statistics target of `table`'s
/// [`UNSAMPLED`] columns to `stat` (0: none; -1: the default). `target` is
/// `table` itself or one of its partitions.
pub(crate) fn unsampled_columns_sql(table: &str, target: &str, stat: i32) -> String {
    let columns = UNSAMPLED.iter().find(|(t, _)| *t == table).map_or(&[][..], |(_, c)| *c);
    let clauses: Vec<String> = columns.iter().map(|c| format!("ALTER COLUMN {c} SET STATISTICS {stat}")).collect();
    format!("ALTER TABLE {target} {}", clauses.join(", "))
}

/// `CREATE TABLE` for `day`'s partition of `parent`. Names and bounds are
/// built from a date, never from input.
pub(crate) fn create_day_partition_sql(parent: &str, day: NaiveDate) -> String {
    let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
    format!(
        "CREATE TABLE IF NOT EXISTS {name} PARTITION OF {parent} FOR VALUES FROM ('{from}') TO ('{to}')",
        name = day_partition_name(day),
        from = midnight(day).format("%Y-%m-%d %H:%M:%S+00"),
        to = midnight(next).format("%Y-%m-%d %H:%M:%S+00"),
    )
}

/// One day partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPartition {
    /// Table name (`webhook_events_pYYYYMMDD`).
    pub name: String,
    /// The UTC day it holds.
    pub day: NaiveDate,
}

/// What retention did with an expired partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionDrop {
    /// Dropped, with this many events.
    Dropped(u64),
    /// Kept: some of its events are still pending or being processed
    /// (retention never deletes those; its finished rows are deleted one
    /// by one instead, and the day is dropped once they finish).
    Unfinished,
    /// Kept for now: the lock on `webhook_events` was not granted within
    /// the lock timeout (a long transaction holds it); tried again next pass.
    Busy,
    /// Already gone: another scheduler-role instance dropped it meanwhile.
    Gone,
}

/// Longest wait for the brief exclusive lock that attaching or dropping a
/// partition takes on `webhook_events`; queued ingest waits behind it, so
/// it stays short and the step is retried at the next pass instead.
const LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '1s'";

/// SQLSTATE of `lock_not_available` (lock timeout).
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// SQLSTATE of `undefined_table`.
const UNDEFINED_TABLE: &str = "42P01";

fn is_lock_timeout(err: &sea_orm::DbErr) -> bool {
    let text = format!("{err:?}");
    text.contains(LOCK_NOT_AVAILABLE) || text.contains("lock timeout")
}

fn is_undefined_table(err: &StoreError) -> bool {
    matches!(err, StoreError::Database(e) if format!("{e:?}").contains(UNDEFINED_TABLE))
}

impl Store {
    /// The day partitions of `webhook_events`, oldest first; empty on SQLite.
    pub async fn event_partitions(&self) -> Result<Vec<EventPartition>, StoreError> {
        if self.backend() != Backend::Postgres {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                 WHERE i.inhparent = 'webhook_events'::regclass"
                    .to_owned(),
            ))
            .await?;
        let mut partitions = Vec::new();
        for row in rows {
            let name: String = row.try_get("", "name")?;
            if let Some(day) = day_of(&name) {
                partitions.push(EventPartition { name, day });
            }
        }
        partitions.sort_by_key(|p| p.day);
        Ok(partitions)
    }

    /// Creates the partitions of `days` that do not exist yet; answers how
    /// many it created. A day whose rows already sit in the default
    /// partition is skipped (they stay there, and retention deletes them row
    /// by row). A no-op on SQLite.
    pub async fn ensure_event_partitions(&self, days: impl IntoIterator<Item = NaiveDate>) -> Result<u64, StoreError> {
        if self.backend() != Backend::Postgres {
            return Ok(0);
        }
        let existing: Vec<NaiveDate> = self.event_partitions().await?.into_iter().map(|p| p.day).collect();
        let mut created = 0;
        for day in days.into_iter().filter(|d| !existing.contains(d)) {
            let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
            let txn = self.db.begin().await?;
            txn.execute_raw(Statement::from_string(DbBackend::Postgres, LOCK_TIMEOUT.to_owned())).await?;
            let in_default = txn
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT 1 AS one FROM webhook_events_default WHERE received_at >= $1 AND received_at < $2 LIMIT 1",
                    [midnight(day).into(), midnight(next).into()],
                ))
                .await?
                .is_some();
            if in_default {
                txn.rollback().await?;
                tracing::warn!(%day, "rows of this day are in webhook_events_default; its partition is not created");
                continue;
            }
            match txn
                .execute_raw(Statement::from_string(
                    DbBackend::Postgres,
                    create_day_partition_sql("webhook_events", day),
                ))
                .await
            {
                Ok(_) => {
                    // A new partition does not inherit the parent's setting.
                    let unsampled = unsampled_columns_sql("webhook_events", &day_partition_name(day), 0);
                    txn.execute_raw(Statement::from_string(DbBackend::Postgres, unsampled)).await?;
                    txn.commit().await?;
                    created += 1;
                }
                Err(e) if is_lock_timeout(&e) => {
                    txn.rollback().await?;
                    tracing::info!(%day, "webhook_events is busy; its partition is created at the next pass");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(created)
    }

    /// Drops `partition` if none of its events is still pending or being
    /// processed: first the provider-id keys of its events (in batches of
    /// `batch`, `pause` apart, so the deletes never crowd out ingest), then
    /// the table. A no-op answering `Unfinished` on SQLite.
    pub async fn drop_event_partition(
        &self,
        partition: &EventPartition,
        batch: u64,
        pause: std::time::Duration,
    ) -> Result<PartitionDrop, StoreError> {
        if self.backend() != Backend::Postgres || day_of(&partition.name) != Some(partition.day) {
            return Ok(PartitionDrop::Unfinished);
        }
        match self.drop_partition_steps(partition, batch, pause).await {
            Err(e) if is_undefined_table(&e) => Ok(PartitionDrop::Gone),
            other => other,
        }
    }

    async fn drop_partition_steps(
        &self,
        partition: &EventPartition,
        batch: u64,
        pause: std::time::Duration,
    ) -> Result<PartitionDrop, StoreError> {
        let name = day_partition_name(partition.day);
        // Unfinished events are found through the queue's partial indexes
        // (pending, processing), not by scanning the day.
        let unfinished = self
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT EXISTS (SELECT 1 FROM {name} WHERE processing_status = '{pending}') \
                     OR EXISTS (SELECT 1 FROM {name} WHERE processing_status = '{processing}') AS busy",
                    pending = EventStatus::Pending,
                    processing = EventStatus::Processing,
                ),
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "busy"))
            .transpose()?
            .unwrap_or(false);
        if unfinished {
            return Ok(PartitionDrop::Unfinished);
        }
        // Walk the day in id order, `batch` rows at a time: delete the
        // provider-id keys of its events (keys first, so a redelivery never
        // finds a key whose event is gone) and count them.
        let limit = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        let mut after = String::new();
        let mut rows = 0u64;
        loop {
            let txn = self.db.begin().await?;
            let walked = txn
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    format!(
                        "WITH chunk AS (SELECT id, receiver_id, provider_event_id FROM {name} \
                         WHERE id > $1 ORDER BY id LIMIT $2), \
                         gone AS (DELETE FROM webhook_event_keys k USING chunk \
                         WHERE k.receiver_id = chunk.receiver_id AND k.provider_event_id = chunk.provider_event_id \
                         AND k.event_id = chunk.id) \
                         SELECT COUNT(*) AS n, MAX(id) AS last FROM chunk"
                    ),
                    [after.clone().into(), limit.into()],
                ))
                .await?;
            txn.commit().await?;
            let (n, last) = match walked {
                Some(row) => (row.try_get::<i64>("", "n")?, row.try_get::<Option<String>>("", "last")?),
                None => (0, None),
            };
            rows += u64::try_from(n).unwrap_or(0);
            let Some(last) = last else { break };
            after = last;
            if n < limit {
                break;
            }
            tokio::time::sleep(pause).await;
        }
        let txn = self.db.begin().await?;
        txn.execute_raw(Statement::from_string(DbBackend::Postgres, LOCK_TIMEOUT.to_owned())).await?;
        match txn.execute_raw(Statement::from_string(DbBackend::Postgres, format!("DROP TABLE IF EXISTS {name}"))).await
        {
            Ok(_) => {
                txn.commit().await?;
                Ok(PartitionDrop::Dropped(rows))
            }
            Err(e) if is_lock_timeout(&e) => {
                txn.rollback().await?;
                Ok(PartitionDrop::Busy)
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_other_tables_are_not_partitions() {
        let day = NaiveDate::from_ymd_opt(2026, 2, 28).unwrap();
        assert_eq!(day_partition_name(day), "webhook_events_p20260228");
        assert_eq!(day_of("webhook_events_p20260228"), Some(day));
        assert_eq!(day_of("webhook_events_default"), None);
        assert_eq!(day_of("webhook_events_p2026022"), None);
        assert_eq!(day_of("webhook_events_p20260230"), None);
    }

    #[test]
    fn a_partition_holds_one_utc_day() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        assert_eq!(
            create_day_partition_sql("webhook_events", day),
            "CREATE TABLE IF NOT EXISTS webhook_events_p20261231 PARTITION OF webhook_events \
             FOR VALUES FROM ('2026-12-31 00:00:00+00') TO ('2027-01-01 00:00:00+00')"
        );
    }
}
