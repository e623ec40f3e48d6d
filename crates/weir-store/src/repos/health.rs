//! Connector health inputs: each event outcome and finished run updates its
//! connector's consecutive failures and last activity in the transaction
//! that records it, so the dashboard never scans history for them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter};

use crate::StoreError;
use crate::entities::connectors as cn;

/// Outcomes per connector, in the order they happened (`true` = failed).
#[derive(Debug, Default)]
pub(crate) struct Activity(BTreeMap<String, Vec<bool>>);

impl Activity {
    /// Records one finished activity of `connector`.
    pub(crate) fn add(&mut self, connector: &str, failed: bool) {
        self.0.entry(connector.to_owned()).or_default().push(failed);
    }

    /// Updates every connector touched, in id order (one lock order for all).
    pub(crate) async fn write<C: ConnectionTrait>(self, conn: &C, at: DateTime<Utc>) -> Result<(), StoreError> {
        for (connector, outcomes) in self.0 {
            let trailing = outcomes.iter().rev().take_while(|f| **f).count() as i32;
            let had_success = outcomes.iter().any(|f| !*f);
            let last_failed = outcomes.last().copied().unwrap_or(false);
            let failures = if had_success {
                Expr::value(trailing)
            } else {
                Expr::col(cn::Column::ConsecutiveFailures).add(trailing)
            };
            cn::Entity::update_many()
                .col_expr(cn::Column::ConsecutiveFailures, failures)
                .col_expr(cn::Column::LastActivityAt, Expr::value(at))
                .col_expr(cn::Column::LastActivityFailed, Expr::value(last_failed))
                .filter(cn::Column::Id.eq(connector))
                .exec(conn)
                .await?;
        }
        Ok(())
    }
}
