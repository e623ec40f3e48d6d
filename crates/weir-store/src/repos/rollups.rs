//! Daily rollups: per tenant, connector and UTC day counters, bumped in the
//! same transaction as the facts they count (so the dashboard never drifts
//! from the tables). A count may also go down — a replayed event's outcome
//! moves from its old day and kind to its new ones — and a row that a
//! decrement leaves all zero is deleted, as a rebuild would not write it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, ExprTrait};

use super::now;
use weir_core::RollupCounter;

use crate::StoreError;

/// Counters of `daily_rollups` to add, keyed by (tenant, connector, day).
#[derive(Debug, Default)]
pub(crate) struct DayCounters(BTreeMap<(String, String, NaiveDate), BTreeMap<RollupCounter, i64>>);

/// Error counts of `daily_error_rollups`, keyed by (tenant, connector, day, type).
#[derive(Debug, Default)]
pub(crate) struct ErrorCounters(BTreeMap<(String, String, NaiveDate, String), i64>);

impl DayCounters {
    /// Adds `n` to `column` (`n < 0` takes a count back).
    pub(crate) fn add(&mut self, tenant: &str, connector: &str, day: NaiveDate, column: RollupCounter, n: i64) {
        *self.0.entry((tenant.to_owned(), connector.to_owned(), day)).or_default().entry(column).or_default() += n;
    }

    /// Rows to write.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Writes every counter: one upsert per (tenant, connector, day); a row
    /// a decrement left all zero is then deleted.
    pub(crate) async fn write<C: ConnectionTrait>(self, conn: &C) -> Result<(), StoreError> {
        let at = now();
        for ((tenant, connector, day), counts) in self.0 {
            let decremented = counts.values().any(|n| *n < 0);
            let key = (tenant.clone(), connector.clone(), day);
            let mut columns = vec!["tenant_id", "connector_id", "day", "updated_at"];
            let mut values: Vec<SimpleExpr> = vec![tenant.into(), connector.into(), day.into(), at.into()];
            let mut on_conflict = OnConflict::columns(["tenant_id", "connector_id", "day"]);
            on_conflict.value("updated_at", Expr::cust("excluded.updated_at"));
            for (column, n) in counts {
                let column = column.as_str();
                columns.push(column);
                values.push(n.into());
                on_conflict.value(column, Expr::cust(format!("daily_rollups.{column} + excluded.{column}")));
            }
            let stmt = Query::insert()
                .into_table("daily_rollups")
                .columns(columns)
                .values(values)
                .map_err(|e| StoreError::Database(sea_orm::DbErr::Custom(e.to_string())))?
                .on_conflict(on_conflict)
                .to_owned();
            conn.execute_raw(conn.get_database_backend().build(&stmt)).await?;
            if decremented {
                delete_if_zero(conn, key, None).await?;
            }
        }
        Ok(())
    }
}

/// Deletes the row of (tenant, connector, day) — of `error_type` in
/// `daily_error_rollups`, else in `daily_rollups` — if every count in it is
/// zero (a decrement took back the last fact it counted).
async fn delete_if_zero<C: ConnectionTrait>(
    conn: &C,
    (tenant, connector, day): (String, String, NaiveDate),
    error_type: Option<String>,
) -> Result<(), StoreError> {
    let mut delete = Query::delete();
    match error_type {
        Some(t) => {
            delete
                .from_table(Alias::new("daily_error_rollups"))
                .and_where(Expr::col(Alias::new("error_type")).eq(t))
                .and_where(Expr::col(Alias::new("error_count")).eq(0));
        }
        None => {
            delete.from_table(Alias::new("daily_rollups"));
            for c in RollupCounter::VARIANTS {
                delete.and_where(Expr::col(Alias::new(c.as_str())).eq(0));
            }
        }
    }
    delete
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .and_where(Expr::col(Alias::new("connector_id")).eq(connector))
        .and_where(Expr::col(Alias::new("day")).eq(day));
    conn.execute_raw(conn.get_database_backend().build(&delete)).await?;
    Ok(())
}

#[cfg(test)]
impl DayCounters {
    /// The count of `column` for (tenant, connector, day); 0 if none.
    pub(crate) fn get(&self, tenant: &str, connector: &str, day: NaiveDate, column: RollupCounter) -> i64 {
        let key = (tenant.to_owned(), connector.to_owned(), day);
        self.0.get(&key).and_then(|c| c.get(&column)).copied().unwrap_or(0)
    }
}

#[cfg(test)]
impl ErrorCounters {
    /// The count of `error_type` for (tenant, connector, day); 0 if none.
    pub(crate) fn get(&self, tenant: &str, connector: &str, day: NaiveDate, error_type: &str) -> i64 {
        let key = (tenant.to_owned(), connector.to_owned(), day, error_type.to_owned());
        self.0.get(&key).copied().unwrap_or(0)
    }
}

impl ErrorCounters {
    /// Counts `n` errors of `error_type` (`n < 0` takes counts back).
    pub(crate) fn add(&mut self, tenant: &str, connector: &str, day: NaiveDate, error_type: &str, n: i64) {
        *self.0.entry((tenant.to_owned(), connector.to_owned(), day, error_type.to_owned())).or_default() += n;
    }

    /// Rows to write.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Writes every count; a row a decrement left at zero is then deleted.
    pub(crate) async fn write<C: ConnectionTrait>(self, conn: &C) -> Result<(), StoreError> {
        for ((tenant, connector, day, error_type), n) in self.0 {
            let key = (tenant.clone(), connector.clone(), day);
            let kind = error_type.clone();
            let stmt = Query::insert()
                .into_table("daily_error_rollups")
                .columns(["tenant_id", "connector_id", "day", "error_type", "error_count"])
                .values([tenant.into(), connector.into(), day.into(), error_type.into(), n.into()])
                .map_err(|e| StoreError::Database(sea_orm::DbErr::Custom(e.to_string())))?
                .on_conflict(
                    OnConflict::columns(["tenant_id", "connector_id", "day", "error_type"])
                        .value("error_count", Expr::cust("daily_error_rollups.error_count + excluded.error_count"))
                        .to_owned(),
                )
                .to_owned();
            conn.execute_raw(conn.get_database_backend().build(&stmt)).await?;
            if n < 0 {
                delete_if_zero(conn, key, Some(kind)).await?;
            }
        }
        Ok(())
    }
}
