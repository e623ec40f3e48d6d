//! Putting finished events back in the queue (one, or every one a filter
//! matches) with a fresh attempt budget, and the queue's depth.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde_json::json;
use tracing::instrument;
use weir_core::EventStatus;

use crate::entities::webhook_events as we;
use crate::repos::audit::AuditEntry;
use crate::repos::now;
use crate::{EventFilter, Store, StoreError, TenantScope};

impl Store {
    /// Puts one finished event back to `pending` with a fresh attempt
    /// budget. `StateConflict` while it is being processed or once its
    /// payload is past retention.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn replay_event(&self, scope: &TenantScope, id: &str, actor: &str) -> Result<(), StoreError> {
        let txn = self.write_txn().await?;
        let m = we::Entity::find()
            .filter(we::Column::TenantId.eq(scope.tenant_id()))
            .filter(we::Column::Id.eq(id))
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        if m.processing_status == EventStatus::Processing {
            return Err(StoreError::StateConflict("the event is being processed; replay it once it finishes"));
        }
        if m.payload.is_none() && m.payload_raw.is_none() {
            return Err(StoreError::StateConflict("the event's payload is past retention and cannot be replayed"));
        }
        let previous = m.processing_status;
        // Guarded: a claim that lands between the read and this update wins.
        let q = we::Entity::update_many()
            .filter(we::Column::Id.eq(id))
            .filter(we::Column::ProcessingStatus.ne(EventStatus::Processing));
        if reset_for_replay(q, now()).exec(&txn).await?.rows_affected == 0 {
            return Err(StoreError::StateConflict("the event is being processed; replay it once it finishes"));
        }
        let entry = AuditEntry {
            action: "webhook_event.replayed",
            actor: actor.to_owned(),
            resource_type: "webhook_event",
            resource_id: m.id,
            connector_id: Some(m.connector_id),
            details: json!({"previous_status": previous, "attempts_before": m.attempts}),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Puts every finished event matching `filter` (status `failed` unless
    /// `completed` is asked for) back to `pending`. Answers how many.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn replay_events(
        &self,
        scope: &TenantScope,
        filter: &EventFilter,
        actor: &str,
    ) -> Result<u64, StoreError> {
        let statuses = match filter.status {
            Some(s @ (EventStatus::Failed | EventStatus::Completed)) => vec![s],
            Some(EventStatus::Pending | EventStatus::Processing) => return Ok(0),
            None => vec![EventStatus::Failed],
        };
        let q = filter.narrow(
            scope.tenant_id(),
            we::Entity::update_many()
                .filter(we::Column::TenantId.eq(scope.tenant_id()))
                .filter(we::Column::ProcessingStatus.is_in(statuses.clone()))
                .filter(
                    sea_orm::Condition::any()
                        .add(we::Column::PayloadRaw.is_not_null())
                        .add(we::Column::Payload.is_not_null()),
                ),
        );
        let txn = self.write_txn().await?;
        let n = reset_for_replay(q, now()).exec(&txn).await?.rows_affected;
        let entry = AuditEntry {
            action: "webhook_event.bulk_replayed",
            actor: actor.to_owned(),
            resource_type: "webhook_event",
            resource_id: "*".to_owned(),
            connector_id: filter.connector_id.clone(),
            details: json!({
                "count": n, "statuses": statuses, "receiver_id": filter.receiver_id,
                "event_type": filter.event_type, "from": filter.from, "to": filter.to,
            }),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(n)
    }

    /// How many events wait (pending or claimed), and the oldest one's arrival.
    pub async fn queue_depth(&self) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        use sea_orm::{PaginatorTrait, QueryOrder};
        let waiting = we::Entity::find()
            .filter(we::Column::ProcessingStatus.is_in([EventStatus::Pending, EventStatus::Processing]));
        let n = waiting.clone().count(&self.db).await?;
        let oldest = waiting
            .select_only()
            .column(we::Column::ReceivedAt)
            .order_by_asc(we::Column::ReceivedAt)
            .limit(1)
            .into_tuple::<DateTime<Utc>>()
            .one(&self.db)
            .await?;
        Ok((n, oldest))
    }
}

fn reset_for_replay(q: sea_orm::UpdateMany<we::Entity>, at: DateTime<Utc>) -> sea_orm::UpdateMany<we::Entity> {
    q.col_expr(we::Column::ProcessingStatus, Expr::value(EventStatus::Pending))
        .col_expr(we::Column::Attempts, Expr::value(0))
        .col_expr(we::Column::NextAttemptAt, Expr::value(at))
        .col_expr(we::Column::LeaseOwner, Expr::value(Option::<String>::None))
        .col_expr(we::Column::LeaseExpiresAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(we::Column::ErrorType, Expr::value(Option::<String>::None))
        .col_expr(we::Column::ErrorMessage, Expr::value(Option::<String>::None))
        .col_expr(we::Column::ProcessedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(we::Column::UpdatedAt, Expr::value(at))
}
