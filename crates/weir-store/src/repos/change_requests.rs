//! Change requests: a production connector's configuration, credentials or
//! environment change waits here until a second admin approves (applied
//! atomically with the decision) or rejects it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};
use tracing::instrument;
use weir_core::{ChangeStatus, PageRequest, ids};

use super::audit::AuditEntry;
use super::connectors::{Connector, ConnectorChanges, SealedCredentials};
use super::{Paged, now, paged};
use crate::entities::connector_change_requests as ccr;
use crate::{Store, StoreError, TenantScope};

/// A change request as callers see it (never the credentials).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRequest {
    /// Row id.
    pub id: String,
    /// The connector to change.
    pub connector_id: String,
    /// Its review state.
    pub status: ChangeStatus,
    /// Token id of the requester.
    pub requested_by: String,
    /// The requested change: plain fields with their new values, `config`
    /// in full, credentials only as `"replaced"`/`"cleared"`.
    pub changes: Value,
    /// Token id of the decider.
    pub decided_by: Option<String>,
    /// Decision time.
    pub decided_at: Option<DateTime<Utc>>,
    /// The decider's note.
    pub decision_note: Option<String>,
    /// Request time.
    pub created_at: DateTime<Utc>,
}

/// A pending change request with what is needed to re-validate and apply it.
#[derive(Debug, Clone)]
pub struct PendingChange {
    /// The request.
    pub request: ChangeRequest,
    /// Sealed new credentials, when the request replaces them.
    pub credentials: Option<SealedCredentials>,
}

impl From<ccr::Model> for ChangeRequest {
    fn from(m: ccr::Model) -> Self {
        Self {
            id: m.id,
            connector_id: m.connector_id,
            status: m.status,
            requested_by: m.requested_by,
            changes: m.changes,
            decided_by: m.decided_by,
            decided_at: m.decided_at,
            decision_note: m.decision_note,
            created_at: m.created_at,
        }
    }
}

/// List filters.
#[derive(Debug, Clone, Default)]
pub struct ChangeRequestFilter {
    /// Only requests in this state.
    pub status: Option<ChangeStatus>,
    /// Only for this connector.
    pub connector_id: Option<String>,
}

impl Store {
    /// Records a pending change to a live connector. `changes` is the JSON
    /// form described on [`ChangeRequest::changes`].
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn create_change_request(
        &self,
        scope: &TenantScope,
        connector_id: &str,
        changes: Value,
        credentials: Option<SealedCredentials>,
        actor_token_id: &str,
    ) -> Result<ChangeRequest, StoreError> {
        let connector = self.get_connector(scope, connector_id).await?;
        let at = now();
        let txn = self.write_txn().await?;
        let model = ccr::ActiveModel {
            id: Set(ids::new_id()),
            tenant_id: Set(scope.tenant_id().to_owned()),
            connector_id: Set(connector.id.clone()),
            status: Set(ChangeStatus::Pending),
            requested_by: Set(actor_token_id.to_owned()),
            changes: Set(changes.clone()),
            credentials_sealed: Set(credentials.map(|c| c.0)),
            decided_by: Set(None),
            decided_at: Set(None),
            decision_note: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(&txn)
        .await?;
        let entry = AuditEntry {
            action: "connector.change_requested",
            actor: format!("token:{actor_token_id}"),
            resource_type: "connector_change_request",
            resource_id: model.id.clone(),
            connector_id: Some(connector.id),
            details: json!({"changes": changes_summary(&changes)}),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok(model.into())
    }

    /// The tenant's change requests, newest first.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn list_change_requests(
        &self,
        scope: &TenantScope,
        filter: &ChangeRequestFilter,
        page: PageRequest,
    ) -> Result<Paged<ChangeRequest>, StoreError> {
        let mut query = ccr::Entity::find().filter(ccr::Column::TenantId.eq(scope.tenant_id()));
        if let Some(s) = &filter.status {
            query = query.filter(ccr::Column::Status.eq(*s));
        }
        if let Some(c) = &filter.connector_id {
            query = query.filter(ccr::Column::ConnectorId.eq(c.as_str()));
        }
        paged(&self.db, query.order_by_desc(ccr::Column::CreatedAt).order_by_desc(ccr::Column::Id), page).await
    }

    /// One change request, with its sealed credentials for applying.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn get_change_request(&self, scope: &TenantScope, id: &str) -> Result<PendingChange, StoreError> {
        let m = ccr::Entity::find()
            .filter(ccr::Column::TenantId.eq(scope.tenant_id()))
            .filter(ccr::Column::Id.eq(id))
            .one(&self.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        let credentials = m.credentials_sealed.clone().map(SealedCredentials);
        Ok(PendingChange { request: m.into(), credentials })
    }

    /// Decides a pending request. Approval applies `changes` (already
    /// re-validated by the caller) to the connector in the same transaction;
    /// a request no longer pending is `StateConflict`.
    #[instrument(skip_all, fields(tenant_id = scope.tenant_id()))]
    pub async fn decide_change_request(
        &self,
        scope: &TenantScope,
        id: &str,
        approve: Option<ConnectorChanges>,
        note: Option<String>,
        decider_token_id: &str,
    ) -> Result<(ChangeRequest, Option<Connector>), StoreError> {
        let txn = self.write_txn().await?;
        let at = now();
        let status = if approve.is_some() { ChangeStatus::Approved } else { ChangeStatus::Rejected };
        let res = ccr::Entity::update_many()
            .col_expr(ccr::Column::Status, Expr::value(status))
            .col_expr(ccr::Column::DecidedBy, Expr::value(decider_token_id))
            .col_expr(ccr::Column::DecidedAt, Expr::value(at))
            .col_expr(ccr::Column::DecisionNote, Expr::value(note.clone()))
            .col_expr(ccr::Column::UpdatedAt, Expr::value(at))
            // Credentials of a decided request are no longer needed.
            .col_expr(ccr::Column::CredentialsSealed, Expr::value(Option::<Vec<u8>>::None))
            .filter(ccr::Column::TenantId.eq(scope.tenant_id()))
            .filter(ccr::Column::Id.eq(id))
            .filter(ccr::Column::Status.eq(ChangeStatus::Pending))
            .exec(&txn)
            .await?;
        let m = ccr::Entity::find()
            .filter(ccr::Column::TenantId.eq(scope.tenant_id()))
            .filter(ccr::Column::Id.eq(id))
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        if res.rows_affected == 0 {
            return Err(StoreError::StateConflict("this change request was already decided"));
        }
        let actor = format!("token:{decider_token_id}");
        let connector = match approve {
            Some(changes) => {
                let extra = json!({"change_request_id": id});
                Some(self.apply_connector_changes(&txn, scope, &m.connector_id, &changes, &actor, extra).await?)
            }
            None => None,
        };
        let entry = AuditEntry {
            action: if connector.is_some() { "connector.change_approved" } else { "connector.change_rejected" },
            actor,
            resource_type: "connector_change_request",
            resource_id: id.to_owned(),
            connector_id: Some(m.connector_id.clone()),
            details: json!({"requested_by": m.requested_by, "note": note}),
        };
        self.append_audit(&txn, scope, entry).await?;
        txn.commit().await?;
        Ok((m.into(), connector))
    }
}

/// Field names of a change, for the audit trail.
fn changes_summary(changes: &Value) -> Value {
    match changes {
        Value::Object(m) => json!(m.keys().collect::<Vec<_>>()),
        _ => json!([]),
    }
}
