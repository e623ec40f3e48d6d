//! Retention: deleting webhook events (and their payloads) and sync errors
//! older than the configured window, one small batch per call so that no
//! statement holds locks long enough to stall ingest. Audit entries, day
//! rollups, records and run histories stay: the audit trail keeps each
//! delivery's SHA-256 and size.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement};
use weir_core::EventStatus;

use crate::entities::webhook_events as we;
use crate::{Store, StoreError};

impl Store {
    /// Deletes up to `batch` finished (`completed` or `failed`) webhook
    /// events received before `cutoff`, oldest first; answers how many.
    /// Events still pending or being processed are never deleted.
    pub async fn purge_events_before(&self, cutoff: DateTime<Utc>, batch: u64) -> Result<u64, StoreError> {
        let txn = self.background_write_txn().await?;
        let doomed: Vec<(String, String, Option<String>)> = we::Entity::find()
            .select_only()
            .columns([we::Column::Id, we::Column::ReceiverId, we::Column::ProviderEventId])
            .filter(we::Column::ReceivedAt.lt(cutoff))
            .filter(we::Column::ProcessingStatus.is_in([EventStatus::Completed, EventStatus::Failed]))
            .order_by_asc(we::Column::ReceivedAt)
            .limit(batch)
            .into_tuple()
            .all(&txn)
            .await?;
        if doomed.is_empty() {
            return Ok(0);
        }
        // Keys first: a redelivery then never finds a key without its event.
        let keys: Vec<(String, String, String)> = doomed
            .iter()
            .filter_map(|(id, receiver, pid)| pid.as_ref().map(|p| (receiver.clone(), p.clone(), id.clone())))
            .collect();
        super::event_keys::release(&txn, &keys).await?;
        let ids: Vec<String> = doomed.into_iter().map(|(id, _, _)| id).collect();
        let mut deleted = 0;
        for chunk in ids.chunks(500) {
            deleted += we::Entity::delete_many()
                .filter(we::Column::Id.is_in(chunk.to_vec()))
                .filter(we::Column::ReceivedAt.lt(cutoff))
                .exec(&txn)
                .await?
                .rows_affected;
        }
        txn.commit().await?;
        Ok(deleted)
    }

    /// Deletes up to `batch` per-record errors of sync runs that finished
    /// before `cutoff`; answers how many. The runs themselves (counts,
    /// status, error summary) stay.
    pub async fn purge_sync_errors_before(&self, cutoff: DateTime<Utc>, batch: u64) -> Result<u64, StoreError> {
        let sql = match self.backend() {
            crate::Backend::Postgres => {
                "DELETE FROM sync_errors WHERE id IN (SELECT e.id FROM sync_errors e \
                 JOIN sync_histories h ON h.id = e.sync_history_id WHERE h.finished_at < $1 LIMIT $2)"
            }
            crate::Backend::Sqlite => {
                "DELETE FROM sync_errors WHERE id IN (SELECT e.id FROM sync_errors e \
                 JOIN sync_histories h ON h.id = e.sync_history_id WHERE h.finished_at < ? LIMIT ?)"
            }
        };
        self.exec_batch(sql, cutoff, batch).await
    }

    async fn exec_batch(&self, sql: &str, cutoff: DateTime<Utc>, batch: u64) -> Result<u64, StoreError> {
        let backend = match self.backend() {
            crate::Backend::Postgres => DbBackend::Postgres,
            crate::Backend::Sqlite => DbBackend::Sqlite,
        };
        let limit = i64::try_from(batch).unwrap_or(i64::MAX);
        let txn = self.background_write_txn().await?;
        let done = txn.execute_raw(Statement::from_sql_and_values(backend, sql, [cutoff.into(), limit.into()])).await?;
        txn.commit().await?;
        Ok(done.rows_affected())
    }
}
