//! Sync runs: their histories (queued → running → succeeded | partial |
//! failed | cancelled), claimed by runners like events are; per-record
//! errors; the scheduler's compare-and-set claim of due configurations; and
//! the status view.
//!
//! `queue.rs`: claim, lease, requeue, finish, cancel; `tally.rs`: what a
//! finished run counts; `histories.rs`: the reads of runs, and their
//! per-record errors; `schedules.rs`: queueing runs and the status view.

mod histories;
mod queue;
mod schedules;
mod tally;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

pub use histories::{MAX_EXCERPT_CHARS, NewSyncError, RunCounts, SyncError, SyncHistory, SyncHistoryFilter};
pub use queue::{ClaimedRun, RunEnd};
pub use schedules::SyncStatus;

use crate::entities::{records as rec, sync_histories as sh};
use crate::{Record, Store, StoreError, TenantScope};

fn of(scope: &TenantScope) -> sea_orm::Select<sh::Entity> {
    sh::Entity::find().filter(sh::Column::TenantId.eq(scope.tenant_id()))
}

impl Store {
    /// Records of `entity_type` changed after `since`, in `(updated_at, id)`
    /// order after `after` — an outbound run's source, read by pages.
    pub async fn records_changed_since(
        &self,
        scope: &TenantScope,
        entity_type: &str,
        since: Option<DateTime<Utc>>,
        after: Option<(DateTime<Utc>, String)>,
        limit: u64,
    ) -> Result<Vec<Record>, StoreError> {
        let mut q = rec::Entity::find()
            .filter(rec::Column::TenantId.eq(scope.tenant_id()))
            .filter(rec::Column::EntityType.eq(entity_type));
        if let Some(s) = since {
            q = q.filter(rec::Column::UpdatedAt.gt(s));
        }
        if let Some((t, id)) = after {
            q = q.filter(
                Condition::any()
                    .add(rec::Column::UpdatedAt.gt(t))
                    .add(Condition::all().add(rec::Column::UpdatedAt.eq(t)).add(rec::Column::Id.gt(id))),
            );
        }
        Ok(q.order_by_asc(rec::Column::UpdatedAt)
            .order_by_asc(rec::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Record::from)
            .collect())
    }
}
