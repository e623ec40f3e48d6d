//! Webhook events partitioned by day on PostgreSQL, so retention drops a
//! day's partition instead of deleting its rows one by one (see
//! `repos::partitions`). Provider-id deduplication moves to its own table,
//! `webhook_event_keys`, on both engines: a partitioned table cannot hold a
//! unique index that leaves out the partition key.
//!
//! On PostgreSQL the table is rebuilt: every existing row is copied into
//! the partitioned table (one partition per day for the last
//! [`DAYS_BACK`] days and [`DAYS_AHEAD`] days ahead; older rows go to the
//! default partition). Run it when traffic is low: it holds an exclusive
//! lock on `webhook_events` while it copies (see docs/deployment.md).

use chrono::{Days, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::repos::partitions::create_day_partition_sql;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Days before today given their own partition when the table is converted.
const DAYS_BACK: u64 = 40;
/// Days after today created up front (the scheduler keeps this many ahead).
pub(crate) const DAYS_AHEAD: u64 = 7;

/// The indexes of `webhook_events` other than its primary key (which is
/// `(id, received_at)` on PostgreSQL: a partitioned table's unique keys
/// include the partition key).
const EVENT_INDEXES: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS webhook_events_tenant_received_idx ON webhook_events (tenant_id, received_at)",
    "CREATE INDEX IF NOT EXISTS webhook_events_tenant_status_idx ON webhook_events (tenant_id, processing_status, received_at)",
    "CREATE INDEX IF NOT EXISTS webhook_events_receiver_idx ON webhook_events (receiver_id, received_at)",
    "CREATE INDEX IF NOT EXISTS webhook_events_connector_idx ON webhook_events (connector_id, received_at)",
    "CREATE INDEX IF NOT EXISTS webhook_events_pending_idx ON webhook_events (next_attempt_at) WHERE processing_status = 'pending'",
    "CREATE INDEX IF NOT EXISTS webhook_events_leased_idx ON webhook_events (lease_expires_at) WHERE processing_status = 'processing'",
    "CREATE INDEX IF NOT EXISTS webhook_events_received_at_idx ON webhook_events (received_at)",
];

const FOREIGN_KEYS: &[&str] = &[
    "ADD CONSTRAINT webhook_events_tenant_fk FOREIGN KEY (tenant_id) REFERENCES tenants (id)",
    "ADD CONSTRAINT webhook_events_receiver_fk FOREIGN KEY (receiver_id) REFERENCES webhook_receivers (id)",
    "ADD CONSTRAINT webhook_events_connector_fk FOREIGN KEY (connector_id) REFERENCES connectors (id)",
];

async fn run(conn: &SchemaManagerConnection<'_>, sql: &str) -> Result<(), DbErr> {
    conn.execute_unprepared(sql).await.map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("webhook_event_keys")
                    .if_not_exists()
                    .col(string_len("receiver_id", 36))
                    .col(string_len("provider_event_id", 255))
                    .col(string_len("event_id", 36))
                    .col(timestamp_with_time_zone("received_at"))
                    .primary_key(Index::create().col("receiver_id").col("provider_event_id"))
                    .take(),
            )
            .await?;
        let conn = manager.get_connection();
        run(
            conn,
            "INSERT INTO webhook_event_keys (receiver_id, provider_event_id, event_id, received_at) \
             SELECT receiver_id, provider_event_id, id, received_at FROM webhook_events WHERE provider_event_id IS NOT NULL",
        )
        .await?;
        run(conn, "DROP INDEX IF EXISTS webhook_events_receiver_provider_event_key").await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            partition(conn).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            unpartition(conn).await?;
        }
        run(
            conn,
            "CREATE UNIQUE INDEX IF NOT EXISTS webhook_events_receiver_provider_event_key ON webhook_events (receiver_id, provider_event_id)",
        )
        .await?;
        manager.drop_table(Table::drop().table("webhook_event_keys").if_exists().take()).await
    }
}

/// PostgreSQL: rebuilds `webhook_events` as a table partitioned by day.
async fn partition(conn: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let today = Utc::now().date_naive();
    let oldest: Option<chrono::DateTime<Utc>> = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT MIN(received_at) AS oldest FROM webhook_events".to_owned(),
        ))
        .await?
        .map(|row| row.try_get("", "oldest"))
        .transpose()?
        .flatten();
    let window_start = today.checked_sub_days(Days::new(DAYS_BACK)).unwrap_or(today);
    let first = oldest.map_or(today, |o| o.date_naive()).clamp(window_start, today);
    let last = today.checked_add_days(Days::new(DAYS_AHEAD)).unwrap_or(today);

    run(conn, "LOCK TABLE webhook_events IN ACCESS EXCLUSIVE MODE").await?;
    run(
        conn,
        "CREATE TABLE webhook_events_by_day (LIKE webhook_events INCLUDING DEFAULTS) PARTITION BY RANGE (received_at)",
    )
    .await?;
    run(
        conn,
        "ALTER TABLE webhook_events_by_day ADD CONSTRAINT webhook_events_by_day_pkey PRIMARY KEY (id, received_at)",
    )
    .await?;
    run(conn, "CREATE TABLE webhook_events_default PARTITION OF webhook_events_by_day DEFAULT").await?;
    for day in days(first, last) {
        run(conn, &create_day_partition_sql("webhook_events_by_day", day)).await?;
    }
    run(conn, "INSERT INTO webhook_events_by_day SELECT * FROM webhook_events").await?;
    run(conn, "DROP TABLE webhook_events").await?;
    run(conn, "ALTER TABLE webhook_events_by_day RENAME TO webhook_events").await?;
    run(conn, "ALTER TABLE webhook_events RENAME CONSTRAINT webhook_events_by_day_pkey TO webhook_events_pkey").await?;
    for fk in FOREIGN_KEYS {
        run(conn, &format!("ALTER TABLE webhook_events {fk}")).await?;
    }
    for index in EVENT_INDEXES {
        run(conn, index).await?;
    }
    Ok(())
}

/// PostgreSQL: back to one plain table (every partition's rows copied).
async fn unpartition(conn: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    run(conn, "LOCK TABLE webhook_events IN ACCESS EXCLUSIVE MODE").await?;
    run(conn, "CREATE TABLE webhook_events_plain (LIKE webhook_events INCLUDING DEFAULTS)").await?;
    run(conn, "INSERT INTO webhook_events_plain SELECT * FROM webhook_events").await?;
    run(conn, "DROP TABLE webhook_events CASCADE").await?;
    run(conn, "ALTER TABLE webhook_events_plain RENAME TO webhook_events").await?;
    run(conn, "ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_pkey PRIMARY KEY (id)").await?;
    for fk in FOREIGN_KEYS {
        run(conn, &format!("ALTER TABLE webhook_events {fk}")).await?;
    }
    for index in EVENT_INDEXES {
        run(conn, index).await?;
    }
    Ok(())
}

/// Every day from `first` to `last`, both included.
fn days(first: NaiveDate, last: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    first.iter_days().take_while(move |d| *d <= last)
}
