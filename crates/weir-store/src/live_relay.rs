//! The channel instances sharing one database tell each other about live
//! events on: PostgreSQL's `LISTEN/NOTIFY` on [`CHANNEL`]. SQLite has one
//! instance per file, so it has no relay ([`Store::live_relay`] is `None`).
//!
//! The relay moves opaque text payloads (at most [`MAX_PAYLOAD`] bytes);
//! what they hold, and batching, is the live-event bus's business.

use std::sync::Arc;

use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{DbErr, RuntimeErr};

use crate::{Backend, Store, StoreError};

/// The PostgreSQL channel live events travel on.
pub const CHANNEL: &str = "weir_live";

/// Largest payload the relay should be given (PostgreSQL refuses `NOTIFY`
/// payloads of 8000 bytes or more; this leaves room).
pub const MAX_PAYLOAD: usize = 7000;

/// Sends payloads to, and listens for those of, the other instances on the
/// same database. Cheap to clone (it shares the store's pool).
#[derive(Debug, Clone)]
pub struct LiveRelay {
    pool: PgPool,
}

/// Payloads other instances (and this one) sent, in order. Holds a
/// dedicated connection outside the pool.
#[derive(Debug)]
pub struct LiveListener {
    inner: PgListener,
}

impl Store {
    /// The relay to the other instances on this database: `Some` on
    /// PostgreSQL, `None` on SQLite (where no other instance can exist).
    pub fn live_relay(&self) -> Option<LiveRelay> {
        match self.backend() {
            Backend::Postgres => Some(LiveRelay { pool: self.db.get_postgres_connection_pool().clone() }),
            Backend::Sqlite => None,
        }
    }
}

impl LiveRelay {
    /// `SELECT pg_notify(CHANNEL, payload)`: every listening instance,
    /// this one included, receives `payload`.
    pub async fn notify(&self, payload: &str) -> Result<(), StoreError> {
        sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    /// Starts listening on [`CHANNEL`] (on a new connection).
    pub async fn listen(&self) -> Result<LiveListener, StoreError> {
        let mut inner = PgListener::connect_with(&self.pool).await.map_err(store_error)?;
        inner.listen(CHANNEL).await.map_err(store_error)?;
        Ok(LiveListener { inner })
    }
}

impl LiveListener {
    /// The next payload. An error means the connection was lost: listen
    /// again (what was sent meanwhile is missed).
    pub async fn recv(&mut self) -> Result<String, StoreError> {
        self.inner.recv().await.map(|n| n.payload().to_owned()).map_err(store_error)
    }
}

fn store_error(e: sea_orm::sqlx::Error) -> StoreError {
    StoreError::from(DbErr::Conn(RuntimeErr::SqlxError(Arc::new(e))))
}
