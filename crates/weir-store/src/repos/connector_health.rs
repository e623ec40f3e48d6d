//! Connector health inputs: each event outcome and finished run updates its
//! connector's consecutive failures and last activity in the transaction
//! that records it, so the dashboard never scans history for them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockType};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use sea_orm::QuerySelect;

use weir_core::connector_health::{Health, after_activity, recent_health};

use crate::StoreError;
use crate::entities::connectors as cn;

/// A connector whose recent-activity health changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    /// Its tenant.
    pub tenant_id: String,
    /// The connector.
    pub connector_id: String,
    /// Health before ([`recent_health`], from recent activity only).
    pub from: Health,
    /// Health now.
    pub to: Health,
    /// Consecutive failures now.
    pub consecutive_failures: i32,
}

/// Outcomes per connector, in the order they happened (`true` = failed).
#[derive(Debug, Default)]
pub(crate) struct Activity(BTreeMap<String, Vec<bool>>);

impl Activity {
    /// The outcomes recorded for `connector`, in order (`true` = failed).
    #[cfg(test)]
    pub(crate) fn outcomes(&self, connector: &str) -> &[bool] {
        self.0.get(connector).map_or(&[], Vec::as_slice)
    }

    /// Records one finished activity of `connector`.
    pub(crate) fn add(&mut self, connector: &str, failed: bool) {
        self.0.entry(connector.to_owned()).or_default().push(failed);
    }

    /// Updates every connector touched, in id order (one lock order for all);
    /// answers the connectors whose recent-activity health changed.
    pub(crate) async fn write<C: ConnectionTrait>(
        self,
        conn: &C,
        at: DateTime<Utc>,
    ) -> Result<Vec<HealthChange>, StoreError> {
        let mut changes = Vec::new();
        for (connector, outcomes) in self.0 {
            let Some((tenant, before, was_failed)) = cn::Entity::find_by_id(connector.clone())
                .select_only()
                .columns([cn::Column::TenantId, cn::Column::ConsecutiveFailures, cn::Column::LastActivityFailed])
                // NO KEY UPDATE: concurrent inserts' foreign-key checks take
                // KEY SHARE on this row, which FOR UPDATE would wait for.
                .lock(LockType::NoKeyUpdate)
                .into_tuple::<(String, i32, bool)>()
                .one(conn)
                .await?
            else {
                continue;
            };
            let before = u32::try_from(before).unwrap_or(0);
            let (after, last_failed) = after_activity(before, &outcomes);
            cn::Entity::update_many()
                .col_expr(cn::Column::ConsecutiveFailures, Expr::value(i32::try_from(after).unwrap_or(i32::MAX)))
                .col_expr(cn::Column::LastActivityAt, Expr::value(at))
                .col_expr(cn::Column::LastActivityFailed, Expr::value(last_failed))
                .filter(cn::Column::Id.eq(connector.as_str()))
                .exec(conn)
                .await?;
            let (from, to) = (recent_health(before, was_failed), recent_health(after, last_failed));
            if from != to {
                changes.push(HealthChange {
                    tenant_id: tenant,
                    connector_id: connector,
                    from,
                    to,
                    consecutive_failures: i32::try_from(after).unwrap_or(i32::MAX),
                });
            }
        }
        Ok(changes)
    }
}
